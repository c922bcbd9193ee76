import { constants as fsc, lchownSync, lstatSync, lutimesSync, type Stats } from 'node:fs';
import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { startEntryWorker } from '../util/worker.js';
import { OWNERS_SEEN_KEPT } from './types.js';

/**
 * Small files of an extraction, created on other threads: the extracting thread parses, judges and hashes
 * every entry and creates every folder and link itself; only the creation of checked small files (open
 * O_CREAT|O_EXCL|O_NOFOLLOW with the final mode, write, fchown, [fchmod,] futimes, close) is handed to writers,
 * in batches, under folders the extraction made. The syscalls per file are most of a small-file restore's
 * time, so two threads create files while the first reads on.
 *
 * The owners' check of those files (what the disk kept, `lstat` inside the root-only staging) runs on the
 * extracting thread, batch by batch once a writer has finished one, mostly while it would otherwise wait for the
 * writer: on 500,000 × 1 KiB files the writer is the busy thread and the extracting one was idle ~80 % of the time.
 * For the same reason the extracting thread also sets the owner and time of a batch's files itself (`finishHere`)
 * when it had to wait for that writer the last time; on 10 KiB files, where it is the busier one, it rarely does.
 *
 * Flow control without the event loop (the tar handler is synchronous): each writer has at most MAX_IN_FLIGHT
 * batches; the extracting thread blocks on an Atomics counter when it is ahead, and reads the writers'
 * answers (errors) synchronously with receiveMessageOnPort. Batch data goes through shared buffers, two per
 * writer, reused (a fresh transferred buffer per batch is freed only when the writer's GC runs, and that grew the
 * process by tens of MiB): a batch is filled only once its writer has at most one batch left, which uses the
 * other buffer. Memory: writers × MAX_IN_FLIGHT × BATCH_BYTES of shared buffers.
 */

export const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
export const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW;

/** Files up to this size go to the writers; bigger ones are written by the extracting thread as they stream. */
export const SMALL_FILE = 256 * 1024;
const BATCH_BYTES = 1024 * 1024;
const BATCH_FILES = 512;
export const MAX_IN_FLIGHT = 2;

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
  /**
   * The extracting thread sets these files' owner and time itself once the writer has made them (lchown, lutimes
   * inside the root-only staging): it does so for a batch when it had to wait for that writer the last time, so
   * the work goes to whichever thread is idle (the writer on 1 KiB files, the reader on 10 KiB ones).
   */
  finishHere: boolean;
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
  /** Per writer: batches posted but not yet checked (the oldest first). */
  private readonly unchecked: Pick<Batch, 'abs' | 'names' | 'modes' | 'mtimes' | 'finishHere'>[][] = [];
  /** Whether the extracting thread had to wait for a writer when it last opened a batch for it. */
  private waited = false;
  private readonly canFinishHere: boolean;
  private readonly forceFinishHere: boolean | undefined;
  private readonly uid: number;
  private readonly gid: number;
  private readonly checkOwners: boolean;
  /** Files whose owner or mode on disk is not what was set (each looked at once its writer is done with it). */
  wrong = 0;
  readonly wrongFirst: WrongOwner[] = [];
  /** Files handed to the writers (all created once finish() returns). */
  pooled = 0;

  constructor(
    opts: { uid: number; gid: number; chown: boolean; fsync: boolean; count?: number; finishHere?: boolean },
    /** A writer's failure as the extraction's error (a duplicate entry, a full disk …). */
    private readonly onFailure: (f: WriterFailure) => Error,
  ) {
    const n = opts.count ?? writerCount();
    this.uid = opts.uid;
    this.gid = opts.gid;
    this.checkOwners = opts.chown;
    this.canFinishHere = opts.chown && !opts.fsync;
    this.forceFinishHere = opts.finishHere;
    const counter = new SharedArrayBuffer(4 * n);
    this.inFlight = new Int32Array(counter);
    const entry = writerEntry();
    for (let slot = 0; slot < n; slot++) {
      const { port1, port2 } = new MessageChannel();
      const shared = Array.from({ length: MAX_IN_FLIGHT }, () => new SharedArrayBuffer(BATCH_BYTES));
      this.buffers.push(shared.map((b) => Buffer.from(b)));
      this.filled.push(0);
      this.unchecked.push([]);
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

  /** Sends what is batched and waits until every writer has finished its batches (and their files are checked). */
  finish(): void {
    this.send();
    for (let w = 0; w < this.workers.length; w++) this.waitBelow(w, 1);
    this.check();
    for (let w = 0; w < this.workers.length; w++) this.checkDone(w);
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
    this.checkDone(w);
    // At most one batch left with this writer: the one in its other buffer.
    this.waited = this.waitBelow(w, MAX_IN_FLIGHT);
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
    const b: Batch = {
      ...this.batch,
      buffer: cur.buffer,
      bytes: this.fill,
      finishHere: this.canFinishHere && (this.forceFinishHere ?? this.waited),
    };
    Atomics.add(this.inFlight, cur.w, 1);
    this.ports[cur.w]!.postMessage(b);
    if (this.checkOwners) this.unchecked[cur.w]!.push(b);
    this.batch = emptyBatch();
    this.fill = 0;
  }

  /** Blocks (this is a worker thread) until writer `w` has fewer than `n` batches in flight; true if it waited. */
  private waitBelow(w: number, n: number): boolean {
    let silent = 0;
    let waited = false;
    for (;;) {
      const v = Atomics.load(this.inFlight, w);
      if (v < n) return waited;
      // While the writer works: check the files of its batches that are done, if any (then look again).
      if (this.checkDone(w)) continue;
      waited = true;
      // Woken by the writer's notify; the timeout guards against a writer that died without one (a batch
      // takes milliseconds; a minute without one finished is a dead writer or a hung disk).
      if (Atomics.wait(this.inFlight, w, v, 1000) === 'timed-out') {
        this.drain();
        if (this.failure) return waited;
        if (++silent >= 60) {
          this.failure = { name: '', abs: '', code: 'EIO', message: 'a file writer stopped answering for a minute' };
          return waited;
        }
      } else silent = 0;
    }
  }

  /**
   * The owners' check of writer `w`'s finished batches: each file as the disk keeps it (one that ignores owners or
   * modes answers with its own). A writer finishes its batches in order and counts one down only after its last
   * file (or after its failure, sent first: then the files it did not create are missing and the failure is the
   * extraction's error). True when a batch was checked.
   */
  private checkDone(w: number): boolean {
    const q = this.unchecked[w]!;
    let done = q.length - Atomics.load(this.inFlight, w);
    if (done <= 0) return false;
    for (; done > 0; done--) {
      const b = q.shift()!;
      for (let i = 0; i < b.abs.length; i++) {
        const abs = b.abs[i]!;
        const st = b.finishHere ? finishHere(abs, this.uid, this.gid, b.mtimes[i]!) : lstatSync(abs, NO_THROW);
        if (st === undefined) {
          this.check(); // the writer's failure, which left this file unmade
          throw this.onFailure({
            name: b.names[i]!,
            abs: b.abs[i]!,
            code: 'ENOENT',
            message: 'a file writer lost a file',
          });
        }
        const mode = st.mode & 0o7777;
        if (st.uid === this.uid && st.gid === this.gid && mode === b.modes[i] && st.isFile()) continue;
        this.wrong++;
        if (this.wrongFirst.length < OWNERS_SEEN_KEPT)
          this.wrongFirst.push({ name: b.names[i]!, uid: st.uid, gid: st.gid, mode, want: b.modes[i]! });
      }
    }
    return true;
  }

  private drain(): void {
    for (const p of this.ports) {
      for (;;) {
        const m = receiveMessageOnPort(p) as { message: { failure?: WriterFailure } } | undefined;
        if (!m) break;
        if (m.message.failure) this.failure ??= m.message.failure;
      }
    }
  }
}

function emptyBatch(): Batch {
  return { buffer: 0, bytes: 0, abs: [], names: [], lens: [], modes: [], chmod: [], mtimes: [], finishHere: false };
}

const NO_THROW = { throwIfNoEntry: false } as const;

/**
 * Owner, then time, of a file a writer made (by path inside the root-only staging, never through a link), then
 * what the disk kept; undefined when the file is not there (its writer failed before it).
 */
function finishHere(abs: string, uid: number, gid: number, mtime: number): Stats | undefined {
  try {
    lchownSync(abs, uid, gid);
    lutimesSync(abs, mtime, mtime);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return lstatSync(abs, NO_THROW);
}
