import { createHash, type Hash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { childEnv } from '../util/child-env.js';
import {
  chmodSync,
  closeSync,
  constants as fsc,
  fchmodSync,
  fsyncSync,
  futimesSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { ProgressMeter, type ProgressSink } from '../progress.js';
import { checkEntryShape, hostile, matchesManifest } from './entry-check.js';
import { LineReader, MANIFEST_PATH, parseHead, parseLine, type ManifestLine } from './manifest.js';
import { readArchive } from './read-pipeline.js';
import type { TarEntryHeader } from './tar-header.js';
import type { ExtractArchiveOptions, ReadResult } from './types.js';

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW;

function sha256File(file: string): { sha256: string; size: number } {
  const fd = openSync(file, 'r');
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest('hex'), size };
}

/** Files on disk before we report success: one syncfs per staging filesystem (see syncTargets). */
function syncTargets(dirs: string[]): void {
  if (process.platform === 'linux') {
    for (const d of dirs) {
      const r = spawnSync('sync', ['-f', d], { stdio: 'ignore', env: childEnv() });
      if (r.status !== 0) throw new RecoveryError('INTERNAL', `Could not flush ${d} to disk (sync -f failed).`);
    }
  }
}

/**
 * Safe extraction into fresh staging folders. Every entry is judged before anything is written for it
 * (shape, item, manifest line); files are created with O_EXCL|O_NOFOLLOW under folders this extraction
 * created itself, so nothing can be written through a link or outside staging. Folder modes and mtimes
 * are applied last (deepest first) so read-only folders and children's writes don't interfere.
 */
export async function extractArchiveJob(
  dir: string,
  opts: ExtractArchiveOptions,
  ctx: { progress: ProgressSink; willCreate: (p: string, recursive?: boolean) => void },
): Promise<ReadResult> {
  const itemIds = new Set(Object.keys(opts.targets));
  const manifest = new LineReader(opts.manifestFile);
  const head = parseHead(manifest.next());
  if (!head) {
    manifest.close();
    throw new RecoveryError('BAD_INPUT', `${opts.manifestFile} is not an inner manifest of this tool.`);
  }
  for (const it of head.items) {
    if (!itemIds.has(it.id)) {
      manifest.close();
      throw new RecoveryError('BAD_INPUT', `No staging folder was given for item ${it.id}.`);
    }
  }
  const manifestSum = sha256File(opts.manifestFile);

  const created: string[] = [];
  const roots = new Map<string, string>();
  try {
    for (const [id, target] of Object.entries(opts.targets)) {
      const abs = path.resolve(target);
      try {
        mkdirSync(abs, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new RecoveryError('BAD_INPUT', `The staging folder ${abs} already exists.`, {
            hint: 'Remove it (after checking it holds nothing you need) and try again.',
          });
        }
        throw toRecoveryError(e, abs);
      }
      // Only after mkdir succeeded: a folder that existed before is never ours to remove.
      ctx.willCreate(abs, true);
      created.push(abs);
      roots.set(id, abs);
    }
  } catch (e) {
    manifest.close();
    for (const c of created) rmSync(c, { recursive: true, force: true });
    throw e;
  }

  const totalBytes = opts.parts.reduce((a, p) => a + p.size, 0);
  const meter = new ProgressMeter('extracting', { bytes: totalBytes, files: null }, ctx.progress);
  const result: ReadResult = { files: 0, contentBytes: 0 };
  // Folders this extraction created: the only places it writes into. Bounded by the folder count.
  const madeDirs = new Set<string>(itemIds);
  const dirMeta: { abs: string; mode: number; mtime: number }[] = [];

  let cur: { h: TarEntryHeader; m: ManifestLine | null; abs: string; fd: number; hash: Hash | null } | null = null;
  let manifestHash: Hash | null = null;
  let manifestEntryDone = false;

  const absOf = (parts: string[]): string => path.join(roots.get(parts[0]!)!, ...parts.slice(1));

  try {
    await readArchive(
      dir,
      opts.parts,
      opts.passphrase,
      {
        entry(h) {
          if (manifestEntryDone) throw hostile(h.path, 'entry after the inner manifest');
          const nextLine = manifest.next();
          if (nextLine === null && h.path === MANIFEST_PATH && h.type === 'file') {
            manifestHash = createHash('sha256');
            cur = { h, m: null, abs: '', fd: -1, hash: null };
            return;
          }
          const m = nextLine === null ? null : parseLine(nextLine);
          const parts = checkEntryShape(h, itemIds);
          const mismatch = matchesManifest(h, m);
          if (mismatch) throw hostile(h.path, mismatch);
          const abs = absOf(parts);
          if (parts.length === 1) {
            if (h.type !== 'dir') throw hostile(h.path, 'the item root is not a folder');
            dirMeta.push({ abs, mode: h.mode & 0o7777, mtime: h.mtime });
            cur = { h, m, abs, fd: -1, hash: null };
            return;
          }
          const parent = parts.slice(0, -1).join('/');
          if (!madeDirs.has(parent)) throw hostile(h.path, 'its folder is not a folder from this archive');
          let fd = -1;
          try {
            if (h.type === 'dir') {
              mkdirSync(abs, { mode: 0o700 });
              madeDirs.add(h.path);
              dirMeta.push({ abs, mode: h.mode & 0o7777, mtime: h.mtime });
            } else if (h.type === 'symlink') {
              symlinkSync(h.linkpath!, abs);
            } else {
              fd = openSync(abs, CREATE_FLAGS, 0o600);
            }
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw hostile(h.path, 'duplicate entry');
            throw toRecoveryError(e, abs);
          }
          cur = { h, m, abs, fd, hash: h.type === 'file' ? createHash('sha256') : null };
        },
        data(chunk) {
          const c = cur!;
          if (manifestHash && c.m === null && c.fd === -1) {
            manifestHash.update(chunk);
            return;
          }
          c.hash!.update(chunk);
          try {
            let off = 0;
            while (off < chunk.length) off += writeSync(c.fd, chunk, off, chunk.length - off);
          } catch (e) {
            throw toRecoveryError(e, c.abs);
          }
        },
        end() {
          const c = cur!;
          cur = null;
          if (c.m === null && manifestHash) {
            if (manifestHash.digest('hex') !== manifestSum.sha256 || c.h.size !== manifestSum.size) {
              throw new RecoveryError(
                'BACKUP_CORRUPT',
                'The inner manifest in the archive differs from the checked one.',
                {
                  hint: 'Verify the backup again, then restore.',
                },
              );
            }
            manifestEntryDone = true;
            return;
          }
          const { h, m, abs } = c;
          if (h.type === 'file') {
            try {
              if (c.hash!.digest('hex') !== m!.sha256) {
                throw new RecoveryError(
                  'BACKUP_CORRUPT',
                  `The backup is damaged: ${h.path} does not match its checksum.`,
                  {
                    hint: 'Use another copy of the backup.',
                    details: { file: h.path },
                  },
                );
              }
              // Explicit modes: the process umask must not change what was backed up.
              fchmodSync(c.fd, h.mode & 0o7777);
              futimesSync(c.fd, h.mtime, h.mtime);
              if (process.platform !== 'linux') fsyncSync(c.fd);
            } finally {
              closeSync(c.fd);
            }
            result.files++;
            result.contentBytes += h.size;
            meter.add(0, 1, h.path);
          } else if (h.type === 'symlink') {
            lutimesSync(abs, h.mtime, h.mtime);
          }
        },
      },
      meter,
      opts.ageKey,
    );
    if (!manifestEntryDone) {
      const left = manifest.next();
      const l = left === null ? null : parseLine(left);
      throw new RecoveryError(
        'BACKUP_CORRUPT',
        l
          ? `The backup is damaged: ${l.path} is missing from the archive.`
          : 'The backup is damaged: the inner manifest is missing.',
        { hint: 'Use another copy of the backup.', details: l ? { file: l.path } : undefined },
      );
    }
    for (let i = dirMeta.length - 1; i >= 0; i--) {
      const d = dirMeta[i]!;
      if (!lstatSync(d.abs).isDirectory()) throw hostile(d.abs, 'a folder was replaced during extraction');
      chmodSync(d.abs, d.mode);
      utimesSync(d.abs, d.mtime, d.mtime);
    }
    syncTargets(created);
    meter.flush();
    return result;
  } catch (e) {
    const c = cur as { fd: number } | null;
    if (c && c.fd !== -1) {
      try {
        closeSync(c.fd);
      } catch {
        /* already closed */
      }
    }
    for (const d of created) rmSync(d, { recursive: true, force: true });
    throw e;
  } finally {
    manifest.close();
  }
}
