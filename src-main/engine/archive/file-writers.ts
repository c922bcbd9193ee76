import { constants as fsc } from 'node:fs';
import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { startEntryWorker } from '../util/worker.js';
import { OWNERS_SEEN_KEPT } from './types.js';

/**
 * Small files of an extraction, created on other threads: the extracting thread parses, judges and hashes
 * every entry and creates every folder and link itself; only the creation of checked small files (open
 * O_CREAT|O_EXCL|O_NOFOLLOW with the final mode, write, fchown, [fchmod,] futimes, [fstat,] close) is handed to writers,
 * in batches, under folders the extraction made. The syscalls per file are most of a small-file restore's
 * time, so two threads create files while the first reads on.
 *
 * Flow control without the event loop (the tar handler is synchronous): each writer has at most MAX_IN_FLIGHT
 * batches; the extracting thread blocks on an Atomics counter when it is ahead, and reads the writers'
 * answers (errors) synchronously with receiveMessageOnPort. Batch data goes through shared buffers,
 * MAX_IN_FLIGHT per writer, reused (a fresh transferred buffer per batch is freed only when the writer's GC runs,
 * and that grew the process by tens of MiB): batch k goes into buffer k % MAX_IN_FLIGHT once its writer has fewer
 * than MAX_IN_FLIGHT batches left, so batch k - MAX_IN_FLIGHT, the last one in that buffer, is done.
 * Memory: writers × MAX_IN_FLIGHT × BATCH_BYTES of shared buffers.
 *
 * Four batches (up to 2,048 files, ~40 ms of a writer's work on 1 KiB files) rather than two: the extracting
 * thread stops now and then for the next MiB of the backup or a member's inflation, and with two batches queued
 * the writer ran dry meanwhile (sampled on S's 500,000 files: the writer idle, waiting for a batch, in ~1/4 of
 * the samples). S's restore, pairs taken in turn on a loaded machine: 20.3 s median with four against 22.0 s with
 * two (eight pairs, six won); eight batches measured no better; B's unchanged; 2 MiB more shared memory per writer.
 */

export const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
export const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW;

/** Files up to this size go to the writers; bigger ones are written by the extracting thread as they stream. */
export const SMALL_FILE = 256 * 1024;
const BATCH_BYTES = 1024 * 1024;
const BATCH_FILES = 512;
export const MAX_IN_FLIGHT = 4;

export interface WriterInit {
  port: MessagePort;
  counter: SharedArrayBuffer;
  /** This writer's batch buffers (MAX_IN_FLIGHT of BATCH_BYTES), filled by the extracting thread. */
  buffers: SharedArrayBuffer[];
  slot: number;
  uid: number;
  gid: number;
  /** fchown each file (restores as root for the profile's owner). */
  chown: boolean;
  /** fsync each file (not on Linux: there one syncfs per staging filesystem follows). */
  fsync: boolean;
}

export interface Batch {
  /** Which of the writer's buffers holds the data, and how many bytes of it. */
  buffer: number;
  bytes: number;
  /** Absolute paths (through the private parent's descriptor on Linux). */
  abs: string[];
  /** Entry names, for the error message. */
  names: string[];
  lens: number[];
  modes: number[];
  /** Whether the umask changed the mode at creation (then fchmod). */
  chmod: boolean[];
  mtimes: number[];
}

/** A file whose owner or mode on disk differs from what its writer set (by entry name). */
export interface WrongOwner {
  name: string;
  uid: number;
  gid: number;
  mode: number;
  /** The mode that was set. */
  want: number;
}

export interface WriterFailure {
  name: string;
  abs: string;
  code: string | undefined;
  message: string;
}

function writerEntry(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('./file-writer-worker.ts', import.meta.url)
    : new URL('./file-writer.js', import.meta.url);
}

/**
 * How many writers: one per core beyond the extracting thread's, at least one, at most three (each is a V8
 * isolate of ~12 MiB; on 2 cores a second writer measured no faster and cost that memory).
 */
export function writerCount(): number {
  return Math.max(1, Math.min(3, os.availableParallelism() - 1));
}

export class FileWriters {
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private readonly inFlight: Int32Array;
  private readonly buffers: Buffer[][] = [];
  private readonly filled: number[] = [];
  private next = 0;
  private batch: Batch;
  /** The writer and buffer the batch being filled goes to; null between batches. */
  private cur: { w: number; buffer: number } | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private fill = 0;
  private failure: WriterFailure | null = null;
  private stopped = false;
  /** Files whose owner or mode on disk is not what was set (writers check each on its descriptor when chown). */
  wrong = 0;
  readonly wrongFirst: WrongOwner[] = [];
  /** Files handed to the writers (all created once finish() returns). */
  pooled = 0;

  constructor(
    opts: { uid: number; gid: number; chown: boolean; fsync: boolean; count?: number },
    /** A writer's failure as the extraction's error (a duplicate entry, a full disk …). */
    private readonly onFailure: (f: WriterFailure) => Error,
  ) {
    const n = opts.count ?? writerCount();
    const counter = new SharedArrayBuffer(4 * n);
    this.inFlight = new Int32Array(counter);
    const entry = writerEntry();
    for (let slot = 0; slot < n; slot++) {
      const { port1, port2 } = new MessageChannel();
      const shared = Array.from({ length: MAX_IN_FLIGHT }, () => new SharedArrayBuffer(BATCH_BYTES));
      this.buffers.push(shared.map((b) => Buffer.from(b)));
      this.filled.push(0);
      const init: WriterInit = {
        port: port2,
        counter,
        buffers: shared,
        slot,
        uid: opts.uid,
        gid: opts.gid,
        chown: opts.chown,
        fsync: opts.fsync,
      };
      const w = startEntryWorker(entry, init, [port2], { maxYoungGenerationSizeMb: 4 });
      // A writer that dies says so through its exit code; its port then stays silent (see wait()).
      w.on('error', (e) => {
        this.failure ??= { name: '', abs: '', code: undefined, message: `a file writer failed: ${e.message}` };
      });
      w.unref();
      this.workers.push(w);
      this.ports.push(port1);
    }
    this.batch = emptyBatch();
  }

  /** Room for a file of `size` bytes in the current batch (sends the batch first if it is full). */
  begin(size: number): void {
    if (this.cur !== null && (this.fill + size > BATCH_BYTES || this.batch.abs.length >= BATCH_FILES)) this.send();
    if (this.cur === null) this.open();
  }

  /** Appends file data to the current batch (begin() made room). */
  data(chunk: Buffer): void {
    chunk.copy(this.buf, this.fill);
    this.fill += chunk.length;
  }

  /** The file whose data was just appended: created by a writer with these attributes. */
  end(abs: string, name: string, len: number, mode: number, chmod: boolean, mtime: number): void {
    const b = this.batch;
    this.pooled++;
    b.abs.push(abs);
    b.names.push(name);
    b.lens.push(len);
    b.modes.push(mode);
    b.chmod.push(chmod);
    b.mtimes.push(mtime);
  }

  /** Throws the first writer failure. */
  check(): void {
    this.drain();
    if (this.failure) throw this.onFailure(this.failure);
  }

  /** Sends what is batched and waits until every writer has finished its batches. */
  finish(): void {
    this.send();
    for (let w = 0; w < this.workers.length; w++) this.waitBelow(w, 1);
    this.check();
  }

  /** Stops the writers (after a failure or at the end): nothing is written once this resolves. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of this.ports) p.close();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** A new batch for the next writer, in the buffer its earlier batches no longer use. */
  private open(): void {
    const w = this.next;
    this.next = (this.next + 1) % this.workers.length;
    // Fewer than MAX_IN_FLIGHT batches left with this writer: the buffer of batch k - MAX_IN_FLIGHT is free.
    this.waitBelow(w, MAX_IN_FLIGHT);
    this.check();
    const buffer = this.filled[w]! % MAX_IN_FLIGHT;
    this.filled[w]!++;
    this.cur = { w, buffer };
    this.buf = this.buffers[w]![buffer]!;
    this.fill = 0;
  }

  private send(): void {
    const cur = this.cur;
    if (cur === null) return;
    this.cur = null;
    if (this.batch.abs.length === 0) {
      this.filled[cur.w]!--; // nothing sent: the buffer is free again
      return;
    }
    const b: Batch = { ...this.batch, buffer: cur.buffer, bytes: this.fill };
    Atomics.add(this.inFlight, cur.w, 1);
    this.ports[cur.w]!.postMessage(b);
    this.batch = emptyBatch();
    this.fill = 0;
  }

  /** Blocks (this is a worker thread) until writer `w` has fewer than `n` batches in flight. */
  private waitBelow(w: number, n: number): void {
    let silent = 0;
    for (;;) {
      const v = Atomics.load(this.inFlight, w);
      if (v < n) return;
      // Woken by the writer's notify; the timeout guards against a writer that died without one (a batch
      // takes milliseconds; a minute without one finished is a dead writer or a hung disk).
      if (Atomics.wait(this.inFlight, w, v, 1000) === 'timed-out') {
        this.drain();
        if (this.failure) return;
        if (++silent >= 60) {
          this.failure = { name: '', abs: '', code: 'EIO', message: 'a file writer stopped answering for a minute' };
          return;
        }
      } else silent = 0;
    }
  }

  private drain(): void {
    for (const p of this.ports) {
      for (;;) {
        const m = receiveMessageOnPort(p) as
          | { message: { failure?: WriterFailure; wrong?: number; wrongFirst?: WrongOwner[] } }
          | undefined;
        if (!m) break;
        if (m.message.failure) this.failure ??= m.message.failure;
        if (m.message.wrong) {
          this.wrong += m.message.wrong;
          for (const w of m.message.wrongFirst ?? [])
            if (this.wrongFirst.length < OWNERS_SEEN_KEPT) this.wrongFirst.push(w);
        }
      }
    }
  }
}

function emptyBatch(): Batch {
  return { buffer: 0, bytes: 0, abs: [], names: [], lens: [], modes: [], chmod: [], mtimes: [] };
}
