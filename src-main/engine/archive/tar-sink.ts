import { hash as hashOnce, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { BLOCK, RECORD } from './tar-header.js';

/**
 * Collects tar bytes into 1 MiB batches for gzip: one zlib hand-off per MiB instead of two per file
 * (100k small files would otherwise mean 200k thread-pool round trips). File data is read straight
 * into the batch, so each byte is copied once.
 */
export class TarSink {
  private buf: Buffer;
  private used = 0;
  /** Batches the compressor has finished with, ready to be filled again (no fresh 1 MiB per batch). */
  private readonly free: Buffer[] = [];
  total = 0;

  /** `flushBatch` gets the batch and a `done` to call once nothing reads the batch any more. */
  constructor(
    private readonly flushBatch: (b: Buffer, done: () => void) => Promise<void>,
    private readonly batchSize = 1024 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(batchSize);
  }

  async write(b: Buffer): Promise<void> {
    let off = 0;
    while (off < b.length) {
      const n = Math.min(this.batchSize - this.used, b.length - off);
      b.copy(this.buf, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === this.batchSize) await this.flush();
    }
  }

  /**
   * Copies exactly `size` bytes of `fd` into the archive, hashing them, then pads to a block.
   * Returns false if the file came up short (it shrank while being read).
   */
  async copyFile(fd: number, size: number, hash: Hash, onBytes: (n: number) => void): Promise<boolean> {
    let left = size;
    while (left > 0) {
      const n = readSync(fd, this.buf, this.used, Math.min(this.batchSize - this.used, left), null);
      if (n === 0) return false;
      hash.update(this.buf.subarray(this.used, this.used + n));
      this.used += n;
      left -= n;
      onBytes(n);
      if (this.used === this.batchSize) await this.flush();
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await this.write(Buffer.alloc(pad));
    return true;
  }

  /**
   * Copies `b` into the batch without waiting when it fits with room to spare (no batch is then due for the
   * compressor); false when it does not, and then nothing was written (use `write`).
   */
  tryWrite(b: Buffer): boolean {
    if (b.length >= this.batchSize - this.used) return false;
    b.copy(this.buf, this.used);
    this.used += b.length;
    return true;
  }

  /**
   * `copyFile` without a promise for a file that fits, padded, in what is left of the batch (most small files):
   * null when it does not fit, and then nothing was read; false when the file came up short; else the sha256
   * (hex) of its bytes, hashed in one call over the batch (no hash object per file).
   */
  copySmallFile(fd: number, size: number): string | false | null {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size + pad >= this.batchSize - this.used) return null;
    const start = this.used;
    let left = size;
    while (left > 0) {
      const n = readSync(fd, this.buf, this.used, left, null);
      if (n === 0) {
        this.used = start;
        return false;
      }
      this.used += n;
      left -= n;
    }
    const digest = hashOnce('sha256', this.buf.subarray(start, this.used), 'hex');
    if (pad) {
      this.buf.fill(0, this.used, this.used + pad);
      this.used += pad;
    }
    return digest;
  }

  /** End-of-archive: two zero blocks, then zeros up to a whole record, like GNU tar. */
  async end(): Promise<void> {
    const soFar = this.total + this.used + 2 * BLOCK;
    const pad = (RECORD - (soFar % RECORD)) % RECORD;
    await this.write(Buffer.alloc(2 * BLOCK + pad));
    await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buf;
    const out = full.subarray(0, this.used);
    this.total += this.used;
    // zlib keeps a reference until it has compressed the batch: fill another one meanwhile, reuse this later.
    this.buf = this.free.pop() ?? Buffer.allocUnsafe(this.batchSize);
    this.used = 0;
    await this.flushBatch(out, () => this.free.push(full));
  }
}
