import { rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, parentPort, workerData, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import { RecoveryError, toRecoveryError, type SerializedError } from '../errors.js';
import { PROGRESS_INTERVAL_MS, progressWithoutFigures, type Progress } from '../progress.js';
import { removeFromHeldFolder, type FolderId } from './safe-delete.js';

/**
 * Runs long archive/hash/extract jobs in a worker thread so the main loop (IPC, UI, CLI spinner) stays
 * responsive. The worker reports progress and the files it is about to create; when a job fails, is
 * aborted, or the worker dies, the host removes those files — a terminated worker cannot clean up.
 */
export interface WorkerJobIo {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface WorkerJobOptions {
  /** The worker entry; defaults to the archive worker. */
  entry?: URL;
  resourceLimits?: ResourceLimits;
}

type ToHost =
  | { t: 'progress'; p: Progress }
  | { t: 'cleanup'; path: string; recursive: boolean; heldIn?: FolderId }
  | { t: 'done'; result: unknown }
  | { t: 'error'; error: SerializedError };

/**
 * Production: esbuild bundles the engine into dist/cli.js|main.js and the worker into
 * dist/archive-worker.js, the same folder. From sources (vitest, tsx) this file is .ts and the entry is
 * the TypeScript sibling in ../archive, loaded through worker-bootstrap.mjs (workers don't inherit tsx);
 * or, in the test suite, the worker bundled from these same sources in this run (tests/helpers/test-build.ts
 * sets EDGE_RECOVERY_TEST_BUILD): tsx's loader cost each worker thread ~0.6 s of CPU. A bundle never reads it.
 */
export function defaultWorkerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./archive-worker.js', import.meta.url);
  const built = process.env.EDGE_RECOVERY_TEST_BUILD;
  return built
    ? pathToFileURL(path.join(built, 'archive-worker.js'))
    : new URL('../archive/archive-worker.ts', import.meta.url);
}

/**
 * A worker thread running `job` (from the bundle, or from sources through the tsx bootstrap). `runWorkerJob`
 * wraps it for one job with progress and clean-up; the archive job also starts a reading helper with it.
 */
export function startWorker(job: string, input: unknown, opts: WorkerJobOptions = {}): Worker {
  const entry = opts.entry ?? defaultWorkerEntry();
  const fromSource = entry.pathname.endsWith('.ts');
  // A small young generation: the jobs make short-lived garbage per file and per batch, and V8's default
  // (up to 48 MiB) only grows the peak memory. Measured on 10,000 × 10 KiB: peak 135 → 121 MiB and ~15 % less
  // CPU (fewer fresh pages to fault in) for the whole backup.
  const resourceLimits: ResourceLimits = { maxYoungGenerationSizeMb: 12, ...opts.resourceLimits };
  return fromSource
    ? new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), {
        workerData: { entry: entry.href, job, input },
        resourceLimits,
      })
    : new Worker(entry, { workerData: { job, input }, resourceLimits });
}

/**
 * A worker thread running the module `entry` with `workerData: { init }`: the bundled entry in dist/, or the
 * TypeScript source through the tsx bootstrap. `transfer`: what `init` hands over (message ports).
 */
export function startEntryWorker(
  entry: URL,
  init: unknown,
  transfer: TransferListItem[],
  resourceLimits: ResourceLimits,
): Worker {
  return entry.pathname.endsWith('.ts')
    ? new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), {
        workerData: { entry: entry.href, init },
        transferList: transfer,
        resourceLimits,
      })
    : new Worker(entry, { workerData: { init }, transferList: transfer, resourceLimits });
}

export function runWorkerJob<I, O>(
  job: string,
  input: I,
  io: WorkerJobIo = {},
  opts: WorkerJobOptions = {},
): Promise<O> {
  if (io.signal?.aborted) return Promise.reject(new RecoveryError('CANCELLED'));
  const worker = startWorker(job, input, opts);
  const cleanups: { path: string; recursive: boolean; heldIn?: FolderId }[] = [];

  return new Promise<O>((resolve, reject) => {
    let settled = false;
    // A worker inside one long synchronous call (scrypt takes seconds) cannot report: repeat the last
    // progress with a fresh clock so the UI still sees ≥4 updates a second and an honest elapsed time.
    const started = Date.now();
    let last: Progress = progressWithoutFigures('starting', 0);
    let lastAt = 0;
    const heartbeat = setInterval(() => {
      if (Date.now() - lastAt < PROGRESS_INTERVAL_MS) return;
      lastAt = Date.now();
      io.onProgress?.({ ...last, elapsedMs: lastAt - started });
    }, PROGRESS_INTERVAL_MS / 2);
    const finish = (err: RecoveryError | null, result?: O): void => {
      if (settled) return;
      settled = true;
      clearInterval(heartbeat);
      io.signal?.removeEventListener('abort', onAbort);
      const done = (): void => {
        if (err) {
          // Newest first: files inside a folder go before the folder.
          for (const c of cleanups.reverse()) {
            try {
              // In the folder the job held, never by a path another account may have led elsewhere meanwhile.
              if (c.heldIn !== undefined) {
                removeFromHeldFolder(path.dirname(c.path), path.basename(c.path), c.heldIn, c.recursive);
              } else rmSync(c.path, { force: true, recursive: c.recursive });
            } catch {
              /* the medium may be gone; nothing more we can do */
            }
          }
          reject(err);
        } else resolve(result as O);
      };
      void worker.terminate().then(done, done);
    };
    const onAbort = (): void => finish(new RecoveryError('CANCELLED', 'Cancelled by the technician.'));
    io.signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (m: ToHost) => {
      switch (m.t) {
        case 'progress':
          if (!settled) {
            last = m.p;
            lastAt = Date.now();
            io.onProgress?.(m.p);
          }
          break;
        case 'cleanup':
          cleanups.push({ path: m.path, recursive: m.recursive, ...(m.heldIn ? { heldIn: m.heldIn } : {}) });
          break;
        case 'done':
          finish(null, m.result as O);
          break;
        case 'error':
          finish(RecoveryError.fromJSON(m.error));
          break;
      }
    });
    // An uncaught exception in the worker (its 'error' event) decides only if the job never answered: the job's
    // own error comes on the port, another channel, and may arrive after it (a failed write to the stick, then
    // zlib's late callbacks throwing). Node delivers what the worker posted before its 'exit'.
    let crashed: RecoveryError | null = null;
    worker.on('error', (e) => {
      crashed ??= toRecoveryError(e, `worker job ${job}`);
    });
    worker.on('exit', (code) => {
      finish(
        crashed ?? new RecoveryError('INTERNAL', `The worker for ${job} stopped unexpectedly (exit code ${code}).`),
      );
    });
  });
}

// ---- worker side ----

export interface WorkerJobContext {
  progress(p: Progress): void;
  /**
   * Tell the host about a file or folder before creating it, so it can be removed if the job dies. `heldIn`: the
   * identity of the folder the job creates it in, held open (then the host removes it only from that very folder,
   * never through a link another account put on the way); without it, by the path (a root-only folder's).
   */
  willCreate(path: string, recursive?: boolean, heldIn?: FolderId): void;
}

export type WorkerJobHandler = (input: never, ctx: WorkerJobContext) => Promise<unknown>;

/** Call once from a worker entry: runs the job named in workerData and reports back. */
export function serveWorkerJob(handlers: Record<string, WorkerJobHandler>): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorkerJob must run in a worker thread');
  const { job, input } = workerData as { job: string; input: unknown };
  const post = (m: ToHost): void => port.postMessage(m);
  const ctx: WorkerJobContext = {
    progress: (p) => post({ t: 'progress', p }),
    willCreate: (path, recursive = false, heldIn) =>
      post({ t: 'cleanup', path, recursive, ...(heldIn ? { heldIn: { dev: heldIn.dev, ino: heldIn.ino } } : {}) }),
  };
  const handler = handlers[job];
  if (!handler) {
    post({ t: 'error', error: new RecoveryError('INTERNAL', `Unknown worker job ${job}.`).toJSON() });
    return;
  }
  (handler as (i: unknown, c: WorkerJobContext) => Promise<unknown>)(input, ctx).then(
    (result) => post({ t: 'done', result }),
    (e: unknown) => post({ t: 'error', error: toRecoveryError(e).toJSON() }),
  );
}
