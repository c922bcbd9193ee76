import type { Gunzip, Gzip, ZlibReset } from 'node:zlib';

/**
 * Node's zlib stream fills its output chunk from `_outOffset` on and allocates a fresh chunk once one is full: with
 * chunks larger than a member those piled up in the archive worker to a peak of 154 MiB for a whole backup of
 * 100,000 x 1 KiB (122 MiB with 256 KiB chunks). Once a member's output has been copied out (nothing is left in
 * the stream's readable buffer), the next member may start at the beginning of the same chunk: one chunk per
 * compressor, for the whole archive. The decompressors of member-inflate.ts do the same once the reader has taken
 * (copied or hashed) a member's output. Where a Node version has no such field, this does nothing.
 */
function reuseOutputChunk(gz: Gzip | Gunzip): void {
  const z = gz as unknown as { _outOffset?: number };
  if (typeof z._outOffset === 'number' && gz.readableLength === 0) z._outOffset = 0;
}

/**
 * One zlib stream kept for a whole archive, one gzip member per write: the compressor lanes of gzip-out.ts and the
 * decompressor lanes of member-inflate.ts. The stream is made with `flush: Z_FINISH`, so a write is a whole member
 * in one pass on the thread pool (no second task for a separate flush; when inflating, a member cut short is an
 * error, not a silently short output); after it the stream is reset for the next member. Node's Gzip and Gunzip
 * have zlib's reset; their typings list it only for Deflate.
 */
export class ZlibLane {
  /** The member in work: resolves once all its output has been handed to the stream's 'data' listener. */
  pending: Promise<void> | null = null;
  protected failure: Error | null = null;
  private reject: ((e: Error) => void) | null = null;

  constructor(protected readonly gz: (Gzip | Gunzip) & ZlibReset) {
    gz.on('error', (e: Error) => this.fail(e));
  }

  /**
   * Writes `b` as one member. `reuse`: the previous member's output was taken (copied, hashed) by now, so this
   * one may be written over it from the chunk's start (see reuseOutputChunk). `done` runs once zlib no longer
   * reads `b`.
   */
  protected run(b: Buffer, reuse: boolean, done?: () => void): void {
    if (reuse) reuseOutputChunk(this.gz);
    this.pending = new Promise<void>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.reject = reject;
      this.gz.write(b, (err) => {
        this.reject = null;
        // Destroyed while this member was on the pool (another write failed: EFBIG, ENOSPC, a pulled stick; or a
        // cancel): zlib calls back without an error and its handle is gone, so reset() would throw "zlib binding
        // closed" as an uncaught exception, and the worker's host could report that instead of the real error.
        if (this.gz.destroyed) {
          reject(this.failure ?? new Error('The compressor was stopped.'));
          return;
        }
        const failed = this.failure ?? err;
        if (failed) {
          reject(failed);
          return;
        }
        this.gz.reset();
        done?.();
        resolve();
      });
    });
    // A rejection is handled where the promise is awaited; this only keeps a destroyed pipeline quiet.
    this.pending.catch(() => undefined);
  }

  protected fail(e: Error): void {
    this.failure ??= e;
    const r = this.reject;
    this.reject = null;
    r?.(this.failure);
  }

  destroy(): void {
    this.pending = null;
    if (!this.gz.destroyed) this.gz.destroy();
  }
}
