import os from 'node:os';
import { constants as zc, createGzip, type Gzip, type ZlibReset } from 'node:zlib';
import type { AgeEncryptor } from './age-stream.js';
import type { PartWriter } from './part-writer.js';
import { ZlibLane } from './zlib-lane.js';

/**
 * zlib's output chunk: larger than a 1 MiB batch's member can be (deflateBound: the input plus 5 bytes per 16 KiB
 * block, plus the gzip header and trailer), so a member is compressed in one pass on the thread pool (each pass
 * needs the archive thread, busy reading the next batch, to hand over the next; a write and a separate flush with
 * 256 KiB chunks took 3.8 passes per member).
 */
const OUT_CHUNK = 1024 * 1024 + 64 * 1024;

/**
 * One compressor kept for the whole archive: each member is written, finished (Z_FINISH) and the stream reset
 * (deflateReset: the next member starts with its own gzip header). Its output is copied at once into `out`,
 * a buffer reused from member to member, so no batch leaves a 1 MiB buffer behind for the garbage collector
 * (one-shot `zlib.gzip` did: those buffers lived long enough to reach the old generation and piled up to
 * ~60 MiB of RSS before a full collection).
 */
class Lane extends ZlibLane {
  out: Buffer = Buffer.allocUnsafe(OUT_CHUNK);
  len = 0;

  constructor(level: number) {
    // memLevel 9 (zlib's default is 8): a hash table twice as large and blocks of twice as many symbols, 128 KiB
    // more per compressor; at level 1 8-20 % less CPU per MiB on the bench data, GNU tar streams of 1 and 10 KiB
    // files and binaries (about the same on source text), sizes within 0.2 %. The output is plain deflate.
    super(createGzip({ level, memLevel: 9, chunkSize: OUT_CHUNK, flush: zc.Z_FINISH }) as Gzip & ZlibReset);
    this.gz.on('data', (c: Buffer) => {
      if (this.len + c.length > this.out.length) {
        const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.len + c.length));
        this.out.copy(bigger, 0, 0, this.len);
        this.out = bigger;
      }
      c.copy(this.out, this.len);
      this.len += c.length;
    });
  }

  /** Compresses `b` as one whole gzip member (into `out`); `consumed` once zlib no longer reads `b`. */
  start(b: Buffer, consumed?: () => void): void {
    this.len = 0;
    // The previous member's output was copied into `out` as it came: its chunk is free.
    this.run(b, true, consumed);
  }
}

/**
 * tar bytes → gzip → [age] → parts. Each batch from the tar sink is compressed as its own gzip member
 * (RFC 1952: a gzip file is a series of members; `gzip -d`, GNU tar and Node's gunzip read it as one stream,
 * as pigz's output is read), so batches compress in parallel on the libuv pool while this thread reads the
 * next files. Members are written in order: batch k goes to lane k mod n, so the lane about to be reused
 * always holds the oldest member. One stream compressed on one thread was the bottleneck: the reader idled
 * half the time waiting for it.
 */
export class GzipOut {
  private readonly lanes: Lane[];
  private next = 0;
  /** The compressed size of each member written, in order (before encryption): the archive's member index. */
  readonly members: number[] = [];

  constructor(
    level: number,
    private readonly enc: AgeEncryptor | null,
    private readonly writer: PartWriter,
    // One lane more than cores (at most 4, the libuv pool's size): while the archive thread fills a batch, a
    // member is still queued for the core a finished lane leaves free (2 cores: archive step of 300 x 1 MiB
    // 1.87-1.90 -> 1.73-1.83 s, of 30,000 x 10 KiB 2.08-2.10 -> 2.01-2.06 s; one 1 MiB batch more in memory).
    parallel = Math.max(1, Math.min(4, os.availableParallelism() + 1)),
  ) {
    this.lanes = Array.from({ length: parallel }, () => new Lane(level));
    if (enc) this.writer.write(enc.prefix);
  }

  /**
   * Queues a batch (which the caller must not touch until `consumed` is called: when zlib is done with it);
   * waits while every lane is still compressing.
   */
  async write(b: Buffer, consumed?: () => void): Promise<void> {
    const lane = this.lanes[this.next]!;
    this.next = (this.next + 1) % this.lanes.length;
    if (lane.pending) await this.writeOut(lane);
    lane.start(b, consumed);
  }

  async end(): Promise<void> {
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[(this.next + i) % this.lanes.length]!;
      if (lane.pending) await this.writeOut(lane);
    }
    if (this.enc) {
      const out: Buffer[] = [];
      this.enc.final(out);
      for (const o of out) this.writer.write(o);
    }
    this.destroy();
  }

  /** Drops what is still compressing (on failure or abort). */
  destroy(): void {
    for (const l of this.lanes) {
      l.pending = null;
      l.destroy();
    }
  }

  private async writeOut(lane: Lane): Promise<void> {
    await lane.pending;
    lane.pending = null;
    const member = lane.out.subarray(0, lane.len);
    this.members.push(member.length);
    if (!this.enc) {
      this.writer.write(member);
      return;
    }
    // The encryptor copies what it is given into its own chunk buffer: the lane's buffer can be reused.
    const out: Buffer[] = [];
    this.enc.push(member, out);
    for (const o of out) this.writer.write(o);
  }
}
