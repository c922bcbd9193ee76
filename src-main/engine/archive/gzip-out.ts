import os from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCb, type ZlibOptions } from 'node:zlib';
import type { AgeEncryptor } from './age-stream.js';
import type { PartWriter } from './part-writer.js';

const gzip = promisify<Buffer, ZlibOptions, Buffer>(gzipCb);

/**
 * tar bytes → gzip → [age] → parts. Each batch from the tar sink is compressed as its own gzip member
 * (RFC 1952: a gzip file is a series of members; `gzip -d`, GNU tar and Node's gunzip read it as one stream,
 * as pigz's output is read), so batches compress in parallel on the libuv pool while this thread reads the
 * next files. Members are written in order. One stream compressed on one thread was the bottleneck: the
 * reader idled half the time waiting for it.
 */
export class GzipOut {
  /** Batches being compressed, oldest first. */
  private readonly inflight: Promise<Buffer>[] = [];
  private readonly parallel: number;

  constructor(
    private readonly level: number,
    private readonly enc: AgeEncryptor | null,
    private readonly writer: PartWriter,
    parallel = Math.max(1, Math.min(4, os.availableParallelism())),
  ) {
    this.parallel = parallel;
    if (enc) this.writer.write(enc.prefix);
  }

  /**
   * Queues a batch (which the caller must not touch until `consumed` is called: when zlib is done with it);
   * waits while `parallel` batches are already compressing.
   */
  async write(b: Buffer, consumed?: () => void): Promise<void> {
    // Output in one chunk per batch: zlib's default 16 KiB chunks cost a callback each on this thread.
    const p = gzip(b, { level: this.level, chunkSize: Math.max(64 * 1024, b.length + 1024) });
    if (consumed) void p.then(consumed, () => undefined);
    // A rejection is handled where the promise is awaited; this only keeps a destroyed pipeline quiet.
    p.catch(() => undefined);
    this.inflight.push(p);
    while (this.inflight.length > this.parallel) await this.writeOldest();
  }

  async end(): Promise<void> {
    while (this.inflight.length > 0) await this.writeOldest();
    if (this.enc) {
      const out: Buffer[] = [];
      this.enc.final(out);
      for (const o of out) this.writer.write(o);
    }
  }

  /** Drops what is still compressing (on failure or abort). */
  destroy(): void {
    this.inflight.length = 0;
  }

  private async writeOldest(): Promise<void> {
    const member = await this.inflight.shift()!;
    if (!this.enc) {
      this.writer.write(member);
      return;
    }
    const out: Buffer[] = [];
    this.enc.push(member, out);
    for (const o of out) this.writer.write(o);
  }
}
