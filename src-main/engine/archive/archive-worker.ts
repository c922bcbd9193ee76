// Worker entry (bundled to dist/archive-worker.js): runs one archive job per worker thread.
import { serveWorkerJob, type WorkerJobHandler } from '../util/worker.js';
import { adoptArchiveJob, type AdoptArchiveOptions } from './adopt.js';
import { createArchiveJob } from './create.js';
import { extractArchiveJob } from './extract.js';
import type { CreateArchiveOptions, ExtractArchiveOptions, VerifyArchiveOptions } from './types.js';
import { verifyArchiveJob } from './verify.js';

const handlers: Record<string, WorkerJobHandler> = {
  'archive.create': ((i: CreateArchiveOptions, ctx) => createArchiveJob(i, ctx)) as WorkerJobHandler,
  'archive.verify': ((i: { dir: string; opts: VerifyArchiveOptions }, ctx) =>
    verifyArchiveJob(i.dir, i.opts, ctx)) as WorkerJobHandler,
  'archive.adopt': ((i: AdoptArchiveOptions, ctx) => adoptArchiveJob(i, ctx)) as WorkerJobHandler,
  'archive.extract': ((i: { dir: string; opts: ExtractArchiveOptions }, ctx) =>
    extractArchiveJob(i.dir, i.opts, ctx)) as WorkerJobHandler,
};

serveWorkerJob(handlers);
