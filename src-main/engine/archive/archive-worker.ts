// Worker entry (bundled to dist/archive-worker.js, in chunks): runs one job per worker thread, and loads only
// that job's code (a sizing walk does not compile the writer, the reader or age).
import { serveWorkerJob, type WorkerJobHandler } from '../util/worker.js';
import type { AdoptArchiveOptions } from './adopt.js';
import type { Ownership } from '../profiles/schema.js';
import type { RepairTarget } from '../restore/repair-ownership.js';
import type { CreateArchiveOptions, ExtractArchiveOptions, VerifyArchiveOptions } from './types.js';

const handlers: Record<string, WorkerJobHandler> = {
  'archive.create': (async (i: CreateArchiveOptions, ctx) =>
    (await import('./create.js')).createArchiveJob(i, ctx)) as WorkerJobHandler,
  'archive.read-helper': (async (i: { shared: SharedArrayBuffer }) =>
    (await import('./read-helper.js')).serveReadHelper(i)) as WorkerJobHandler,
  'archive.verify': (async (i: { dir: string; opts: VerifyArchiveOptions }, ctx) =>
    (await import('./verify.js')).verifyArchiveJob(i.dir, i.opts, ctx)) as WorkerJobHandler,
  'archive.extract': (async (i: { dir: string; opts: ExtractArchiveOptions }, ctx) =>
    (await import('./extract.js')).extractArchiveJob(i.dir, i.opts, ctx)) as WorkerJobHandler,
  'tree.size': (async (i: { roots: string[]; share?: { claims: SharedArrayBuffer; part: number } }, ctx) =>
    (await import('../util/tree-size.js')).treeSizes(
      i.roots,
      ctx.progress,
      i.share ? { claims: new Int32Array(i.share.claims), part: i.share.part } : undefined,
    )) as WorkerJobHandler,
  'owners.check': (async (i: { targets: RepairTarget[]; o: Ownership; part?: number; parts?: number }, ctx) =>
    (await import('../restore/repair-ownership.js')).checkOwnershipJob(
      i.targets,
      i.o,
      ctx.progress,
      i.part ?? 0,
      i.parts ?? 1,
    )) as WorkerJobHandler,
  'archive.adopt': (async (i: AdoptArchiveOptions, ctx) =>
    (await import('./adopt.js')).adoptArchiveJob(i, ctx)) as WorkerJobHandler,
};

serveWorkerJob(handlers);
