import { readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import type { Progress } from '../progress.js';
import { mergeTreeSizes, type TreeSize } from '../util/tree-size.js';
import { runWorkerJob, type WorkerJobOptions } from '../util/worker.js';
import { ITEM_ID } from './names.js';
import type { AdoptArchiveOptions, AdoptArchiveResult } from './adopt.js';
import type {
  ArchiveIo,
  ArchiveResult,
  CreateArchiveOptions,
  ExtractArchiveOptions,
  ReadResult,
  VerifyArchiveOptions,
} from './types.js';

export type {
  ArchiveLimits,
  ExtractOwner,
  ArchiveIo,
  ArchiveItem,
  ArchivePart,
  ArchiveResult,
  CreateArchiveOptions,
  ExtractArchiveOptions,
  ReadResult,
  VerifyArchiveOptions,
} from './types.js';
export { DEFAULT_GZIP_LEVEL, archiveBaseName } from './names.js';
export type { AdoptArchiveOptions, AdoptArchiveResult, HandMadeFormat } from './adopt.js';
export { parentsOf, type MapItem } from './hand-made-map.js';
export { MANIFEST_PATH, MANIFEST_FORMAT, type ManifestLine } from './manifest.js';

const OUR_PARTIALS = /^\.data\.tar\.gz(\.age)?(\.\d{3})?\.[0-9a-f]{16}\.partial$/;

function partialsIn(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir).filter((n) => OUR_PARTIALS.test(n)));
  } catch {
    return new Set();
  }
}

/**
 * Writes `data.tar.gz[.age]` (or `.001`, `.002` … parts) into `outDir`, which must exist. Everything is
 * written as `.partial` and renamed only once the whole archive is complete and on disk.
 */
export async function createArchive(
  opts: CreateArchiveOptions,
  io: ArchiveIo = {},
  workerOpts?: WorkerJobOptions,
): Promise<ArchiveResult> {
  const ids = new Set<string>();
  for (const it of opts.items) {
    if (!ITEM_ID.test(it.id) || ids.has(it.id)) {
      throw new RecoveryError('BAD_INPUT', `Item id ${JSON.stringify(it.id)} is not valid or not unique.`);
    }
    ids.add(it.id);
  }
  if (opts.items.length === 0 && opts.allowEmpty !== true)
    throw new RecoveryError('BAD_INPUT', 'Nothing to back up: no folders given.');
  if (opts.splitSize !== undefined && (!Number.isInteger(opts.splitSize) || opts.splitSize < 1024 * 1024)) {
    throw new RecoveryError('BAD_INPUT', 'The split size must be a whole number of at least 1 MiB.');
  }
  // The folder the parts go into: the one the caller holds (outDirAt), not whatever its path names by the clean-up.
  const out = opts.outDirAt ?? opts.outDir;
  const before = partialsIn(out);
  try {
    return await runWorkerJob<CreateArchiveOptions, ArchiveResult>('archive.create', opts, io, workerOpts);
  } catch (e) {
    // Belt and braces: if the worker was terminated before its "will create" message arrived.
    for (const n of partialsIn(out)) {
      if (!before.has(n)) rmSync(path.join(out, n), { force: true });
    }
    throw e;
  }
}

/** Reads the whole set back (part checksums, decryption, every file's sha256 against the inner manifest). */
export function verifyArchive(
  dir: string,
  opts: VerifyArchiveOptions,
  io: ArchiveIo = {},
  workerOpts?: WorkerJobOptions,
): Promise<ReadResult> {
  return runWorkerJob('archive.verify', { dir, opts }, io, workerOpts);
}

/** Extracts into fresh staging folders (one per item), refusing anything unsafe; removes them on failure. */
export function extractArchive(
  dir: string,
  opts: ExtractArchiveOptions,
  io: ArchiveIo = {},
  workerOpts?: WorkerJobOptions,
): Promise<ReadResult> {
  return runWorkerJob('archive.extract', { dir, opts }, io, workerOpts);
}

/**
 * Sizes folders (bytes, files, folders, links that leave them) in one walk, with progress: the backup's
 * pre-check sizes, and the archive's progress totals (passed back as `totals`). With two cores or more, two
 * worker threads share the walk, claiming the roots' sub-folders one at a time (`WalkShare` in tree-size.ts):
 * the walk is one `lstat` per file and a `readdir` per folder, and one thread did 500,000 files in ~3 s.
 */
export async function sizeTrees(
  roots: string[],
  io: ArchiveIo = {},
  workerOpts?: WorkerJobOptions,
): Promise<TreeSize[]> {
  if (os.availableParallelism() < 2) return runWorkerJob('tree.size', { roots }, io, workerOpts);
  const claims = new SharedArrayBuffer(4 * Math.max(1, roots.length));
  // Either walker failing (or the technician cancelling) stops the other.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  if (io.signal?.aborted) stop.abort();
  const last: (Progress | null)[] = [null, null];
  const report = (part: number) => (p: Progress) => {
    last[part] = p;
    const other = last[1 - part] ?? null;
    io.onProgress?.(
      other === null
        ? p
        : {
            ...p,
            bytes: p.bytes + other.bytes,
            files: p.files + other.files,
            rate: p.rate + other.rate,
            elapsedMs: Math.max(p.elapsedMs, other.elapsedMs),
          },
    );
  };
  try {
    const [a, b] = await Promise.all(
      [0, 1].map((part) =>
        runWorkerJob<unknown, TreeSize[]>(
          'tree.size',
          { roots, share: { claims, part } },
          { onProgress: report(part), signal: stop.signal },
          workerOpts,
        ).catch((e: unknown) => {
          stop.abort();
          throw e;
        }),
      ),
    );
    return mergeTreeSizes(a!, b!);
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Reads a hand-made tar / tar.gz / zip through completely and judges every entry; with `outDir`, writes it
 * as our own data.tar.gz (inner manifest with every file's sha256). Removes what it wrote on failure.
 */
export function adoptArchive(
  opts: AdoptArchiveOptions,
  io: ArchiveIo = {},
  workerOpts?: WorkerJobOptions,
): Promise<AdoptArchiveResult> {
  return runWorkerJob('archive.adopt', opts, io, workerOpts);
}
