import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startEntryWorker } from '../util/worker.js';

/**
 * The sha256 of the parts a read of a backup set reads (read-pipeline.ts), on a thread of its own. The reading
 * thread of a verify, a restore or the backup's read-back also inflates, parses and hashes every file; the part's
 * own sha256 (as much data again as the stick holds) was a sixth of its work, while the cores were not both busy.
 * The read buffers are shared memory: the hasher reads them in place, the reading thread reuses a buffer once the
 * hasher and the decompressor are both done with it. Updates are hashed in the order they are sent.
 */

export interface HasherInit {
  port: MessagePort;
}

export type HasherRequest =
  | { kind: 'buffer'; id: number; sab: SharedArrayBuffer }
  | { kind: 'update'; seq: number; id: number; len: number }
  | { kind: 'bytes'; seq: number; bytes: Uint8Array }
  | { kind: 'digest'; seq: number };

export type HasherReply =
  | { kind: 'done'; seq: number }
  | { kind: 'digest'; seq: number; hex: string }
  | { kind: 'failed'; message: string };

function hasherEntry(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('./part-hasher-worker.ts', import.meta.url)
    : new URL('./part-hasher.js', import.meta.url);
}

export class PartHasher {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private nextId = 0;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    const entry = hasherEntry();
    const init: HasherInit = { port: port2 };
    this.worker = startEntryWorker(entry, init, [port2], { maxYoungGenerationSizeMb: 4 });
    this.port = port1;
    this.port.on('message', (r: HasherReply) => {
      if (r.kind === 'failed') return this.fail(new Error(`the checksum thread failed: ${r.message}`));
      const w = this.waiting.get(r.seq);
      this.waiting.delete(r.seq);
      w?.resolve(r.kind === 'digest' ? r.hex : '');
    });
    this.worker.unref();
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new Error('the checksum thread stopped')));
  }

  /**
   * Hashes `len` bytes of `b` next. Resolves once the hasher no longer reads `b` (a buffer not in shared memory is
   * sent as a copy: at once).
   */
  update(b: Buffer, len: number): Promise<void> {
    const seq = this.seq++;
    const sab = b.buffer;
    if (sab instanceof SharedArrayBuffer && b.byteOffset === 0) {
      let id = this.ids.get(sab);
      if (id === undefined) {
        id = this.nextId++;
        this.ids.set(sab, id);
        this.send({ kind: 'buffer', id, sab });
      }
      const done = this.wait(seq).then(() => undefined);
      this.send({ kind: 'update', seq, id, len });
      return done;
    }
    const done = this.wait(seq).then(() => undefined);
    this.send({ kind: 'bytes', seq, bytes: new Uint8Array(b.subarray(0, len)) });
    return Promise.resolve().then(() => {
      done.catch(() => undefined); // its failure is the digest's
    });
  }

  /** The sha256 (hex) of everything updated since the last digest. */
  digest(): Promise<string> {
    const seq = this.seq++;
    const hex = this.wait(seq);
    this.send({ kind: 'digest', seq });
    return hex;
  }

  async stop(): Promise<void> {
    this.fail(new Error('the checksum thread was stopped'));
    this.port.close();
    await this.worker.terminate();
  }

  private wait(seq: number): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<string>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    p.catch(() => undefined); // awaited by the caller; this only keeps an abandoned wait quiet
    return p;
  }

  private send(m: HasherRequest): void {
    if (!this.failure) this.port.postMessage(m);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }
}
