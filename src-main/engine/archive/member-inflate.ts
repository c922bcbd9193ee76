import os from 'node:os';
import { constants as zc, createGunzip, type Gunzip, type ZlibReset } from 'node:zlib';
import { RecoveryError } from '../errors.js';
import { ZlibLane } from './zlib-lane.js';

/**
 * The largest gzip member this tool writes: a 1 MiB batch (tar-sink.ts) that did not compress at all is 1 MiB
 * plus deflate's stored-block framing (5 bytes per 64 KiB) and the gzip header and trailer. The manifest's index
 * may not list a bigger one, and no member may inflate to more than MEMBER_OUT_MAX: a hostile index cannot make
 * this hold more than a few MiB.
 */
export const MEMBER_MAX = 2 * 1024 * 1024;
export const MEMBER_OUT_MAX = 2 * 1024 * 1024;
/**
 * zlib's output chunk: one 1 MiB member's output and some, reused from member to member (zlib-lane.ts). Without
 * that reuse Node allocates a fresh chunk whenever one fills: an in-process read of dataset H then peaked at
 * 128 MiB with this size, 143 MiB with 4 MiB chunks (119 MiB with 256 KiB, at ~5 passes per member).
 */
const OUT_CHUNK = 1024 * 1024 + 64 * 1024;

function corrupt(why: string): RecoveryError {
  return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${why}.`, {
    hint: 'Use another copy of the backup.',
  });
}

/**
 * One decompressor kept for the whole archive (as the compressor lanes of gzip-out.ts): a member is written,
 * finished with Z_FINISH (so a member cut short is an error, not a silent short output) and the stream reset
 * for the next one. Its output chunks are kept in order until the reader takes them.
 */
class Lane extends ZlibLane {
  input: Buffer = Buffer.allocUnsafe(0);
  chunks: Buffer[] = [];
  private outBytes = 0;

  constructor() {
    // One pass on the pool per member, no round trip to this thread in between (with 256 KiB chunks and a separate
    // flush a member took ~5 passes, each waiting until the reading thread was free to start the next).
    super(createGunzip({ chunkSize: OUT_CHUNK, flush: zc.Z_FINISH }) as Gunzip & ZlibReset);
    this.gz.on('data', (c: Buffer) => {
      this.outBytes += c.length;
      if (this.outBytes > MEMBER_OUT_MAX) {
        this.fail(corrupt(`a compressed block inflates to more than ${MEMBER_OUT_MAX} bytes`));
        return;
      }
      this.chunks.push(c);
    });
    // Destroyed without an error (by `destroy`): a member still inflating never finishes.
    this.gz.on('close', () => this.fail(new Error('inflate stopped')));
  }

  /** A buffer of `size` bytes to copy the next member into (reused from member to member). */
  take(size: number): Buffer {
    if (this.input.length < size) this.input = Buffer.allocUnsafe(Math.max(size, 1024 * 1024));
    return this.input.subarray(0, size);
  }

  /** Starts the next member; the previous member's output was taken (drained) first. */
  start(member: Buffer): void {
    this.chunks = [];
    this.outBytes = 0;
    // The reader copied or hashed every slice of the previous member's output synchronously: its chunk is free.
    this.run(member, true);
  }

  protected override fail(e: Error): void {
    super.fail(e);
    if (!this.gz.destroyed) this.gz.destroy();
  }
}

/**
 * Inflates a gzip stream whose member sizes are known (manifest.json's `archive.gzipMembers`, recorded by the
 * backup): up to `parallel` members at once on the libuv pool, while this thread parses, hashes and writes
 * what the earlier members gave. Output reaches `out` in stream order, so the tar parser sees exactly what one
 * gunzip of the whole stream gives (RFC 1952: the stream is the series of its members).
 * One gunzip stream made the reading thread and zlib take turns (zlib waits while its output is handled).
 * The index is only a plan: each member must inflate completely from exactly its bytes, and the members must
 * add up to the whole stream, or the backup is damaged; every file is still held to its sha256 and the inner
 * manifest.
 */
export class MemberInflater {
  private readonly lanes: Lane[];
  private next = 0;
  private member = 0;
  private cur: Buffer | null = null;
  private fill = 0;

  constructor(
    private readonly sizes: readonly number[],
    private readonly out: (b: Buffer) => void,
    parallel = Math.max(2, Math.min(4, os.availableParallelism())),
  ) {
    for (const s of sizes) {
      if (!Number.isSafeInteger(s) || s < 20 || s > MEMBER_MAX)
        throw corrupt('its index of compressed blocks is invalid');
    }
    this.lanes = Array.from({ length: parallel }, () => new Lane());
  }

  /** Bytes of the gzip stream, in order; `b` may be reused by the caller once this resolves. */
  async write(b: Buffer): Promise<void> {
    let off = 0;
    while (off < b.length) {
      if (this.cur === null) {
        if (this.member >= this.sizes.length) throw corrupt('there is more compressed data than its index lists');
        const lane = this.lanes[this.next]!;
        if (lane.pending) await this.drain(lane);
        this.cur = lane.take(this.sizes[this.member]!);
        this.fill = 0;
      }
      const n = Math.min(this.cur.length - this.fill, b.length - off);
      b.copy(this.cur, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === this.cur.length) {
        this.lanes[this.next]!.start(this.cur);
        this.cur = null;
        this.member++;
        this.next = (this.next + 1) % this.lanes.length;
      }
    }
  }

  /** After the last byte: waits for the last members; throws if the stream ended inside the index. */
  async end(): Promise<void> {
    if (this.cur !== null || this.member !== this.sizes.length) {
      throw corrupt('the compressed data ends before its index says');
    }
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[(this.next + i) % this.lanes.length]!;
      if (lane.pending) await this.drain(lane);
    }
    this.destroy();
  }

  destroy(): void {
    for (const l of this.lanes) l.destroy();
  }

  private async drain(lane: Lane): Promise<void> {
    await lane.pending;
    lane.pending = null;
    const chunks = lane.chunks;
    lane.chunks = [];
    for (const c of chunks) this.out(c);
  }
}
