import { finished } from 'node:stream/promises';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import type { AgeEncryptor } from './age-stream.js';
import type { PartWriter } from './part-writer.js';

/**
 * tar bytes → gzip (on the libuv pool, overlapping our reads) → [age] → parts. Errors raised while
 * writing compressed output (ENOSPC, EFBIG…) are kept and rethrown to the producer at its next await.
 */
export class GzipOut {
  private readonly gzip: Gzip;
  private failure: unknown = null;

  constructor(
    level: number,
    private readonly enc: AgeEncryptor | null,
    private readonly writer: PartWriter,
  ) {
    // Let the producer run ~4 MiB ahead so reading and compressing overlap on two cores.
    this.gzip = createGzip({ level, chunkSize: 256 * 1024, highWaterMark: 4 * 1024 * 1024 } as ZlibOptions);
    if (enc) this.writer.write(enc.prefix);
    this.gzip.on('data', (c: Buffer) => {
      if (this.failure) return;
      try {
        this.emit(c);
      } catch (e) {
        this.failure = e;
        this.gzip.destroy();
      }
    });
    this.gzip.on('error', (e) => {
      this.failure ??= e;
    });
  }

  async write(b: Buffer): Promise<void> {
    this.check();
    if (!this.gzip.write(b)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.gzip.off('drain', done);
          this.gzip.off('close', done);
          resolve();
        };
        this.gzip.on('drain', done);
        this.gzip.on('close', done);
      });
    }
    this.check();
  }

  async end(): Promise<void> {
    this.check();
    this.gzip.end();
    try {
      await finished(this.gzip);
    } catch (e) {
      this.failure ??= e;
    }
    this.check();
    if (this.enc) {
      const out: Buffer[] = [];
      this.enc.final(out);
      for (const o of out) this.writer.write(o);
    }
  }

  destroy(): void {
    this.gzip.destroy();
  }

  private emit(c: Buffer): void {
    if (!this.enc) {
      this.writer.write(c);
      return;
    }
    const out: Buffer[] = [];
    this.enc.push(c, out);
    for (const o of out) this.writer.write(o);
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}
