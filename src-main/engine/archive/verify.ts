import { createHash, hash as hashOnce, type Hash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { ProgressMeter, type ProgressSink } from '../progress.js';
import { CREATE_EXCL_FLAGS, tempName } from '../util/atomic-fs.js';
import type { FolderId } from '../util/safe-delete.js';
import {
  LineReader,
  LineSpool,
  MANIFEST_PATH,
  manifestLine,
  parseHead,
  parseLine,
  type ManifestLine,
} from './manifest.js';
import { EntryScreen } from './entry-check.js';
import { LimitMeter } from './extract.js';
import { readArchive } from './read-pipeline.js';
import type { TarEntryHeader } from './tar-header.js';
import type { ReadResult, VerifyArchiveOptions } from './types.js';

function corrupt(msg: string, file?: string): RecoveryError {
  return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${msg}.`, {
    hint: 'Use another copy of the backup.',
    details: file === undefined ? undefined : { file },
  });
}

/**
 * Reads the whole archive back: every part's checksum, every file's sha256, and the entry list compared
 * with the inner manifest. The manifest is the last entry, so what we see is spooled to a temp file and
 * the two lists are compared line by line at the end (bounded memory).
 */
export async function verifyArchiveJob(
  dir: string,
  opts: VerifyArchiveOptions,
  ctx: { progress: ProgressSink; willCreate: (p: string, recursive?: boolean, heldIn?: FolderId) => void },
): Promise<ReadResult> {
  const totalBytes = opts.parts.reduce((a, p) => a + p.size, 0);
  const meter = new ProgressMeter(
    'verifying',
    // Files to check, from the manifest (a restore, verify) or the archive just written (the backup's read-back).
    { bytes: totalBytes, files: opts.totalFiles ?? opts.limits?.files ?? null },
    ctx.progress,
  );
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'edge-recovery-verify-'));
  const seenFile = path.join(tmp, 'seen.jsonl');
  const seenFd = openSync(seenFile, CREATE_EXCL_FLAGS, 0o600);
  const seen = new LineSpool(seenFd);
  const manifestFile = opts.manifestOut
    ? path.join(path.dirname(opts.manifestOut), tempName(path.basename(opts.manifestOut)))
    : path.join(tmp, 'files.jsonl');
  if (opts.manifestOut) ctx.willCreate(manifestFile);
  const manifestFd = openSync(manifestFile, CREATE_EXCL_FLAGS, 0o600);
  const result: ReadResult = { files: 0, contentBytes: 0 };
  // Per-item figures for the restore's free-space check (measured, not declared).
  const items: NonNullable<ReadResult['items']> = {};
  if (opts.limits || opts.screen) result.items = items;
  // The restore's own screen, when asked (verify and the restore's check; not the backup's read-back).
  const screen = opts.screen ? new EntryScreen(opts.screen.itemIds ? new Set(opts.screen.itemIds) : null) : null;
  const limits = new LimitMeter(opts.limits);
  const manifestMax = manifestMaxBytes(opts.limits);

  let cur: TarEntryHeader | null = null;
  let wantHash = false;
  let hash: Hash | null = null;
  /** A file whose data came in one piece is hashed in one call (no hash object per small file). */
  let sum: string | null = null;
  let inManifest = false;
  let manifestDone = false;
  try {
    const read = await readArchive(
      dir,
      opts.parts,
      opts.passphrase,
      {
        entry(h) {
          if (manifestDone) throw corrupt(`${h.path} follows the inner manifest`, h.path);
          cur = h;
          inManifest = h.path === MANIFEST_PATH && h.type === 'file';
          if (inManifest && h.size > manifestMax) throw corrupt('the inner manifest is far larger than its entries');
          if (!inManifest) {
            limits.entry(h);
            screen?.check(h);
          }
          wantHash = h.type === 'file' && !inManifest;
          hash = null;
          sum = null;
        },
        data(chunk) {
          if (inManifest) {
            let off = 0;
            while (off < chunk.length) off += writeSync(manifestFd, chunk, off, chunk.length - off);
          } else if (wantHash) {
            if (hash === null && sum === null && chunk.length === cur!.size) sum = hashOnce('sha256', chunk, 'hex');
            else (hash ??= createHash('sha256')).update(chunk);
          }
        },
        end() {
          const h = cur!;
          if (inManifest) {
            manifestDone = true;
            return;
          }
          seen.add(seenLine(h, wantHash ? (sum ?? (hash ?? createHash('sha256')).digest('hex')) : undefined));
          if (h.type === 'file') {
            result.files++;
            result.contentBytes += h.size;
            if (result.items) {
              const slash = h.path.indexOf('/');
              const item = (items[slash === -1 ? h.path : h.path.slice(0, slash)] ??= { files: 0, contentBytes: 0 });
              item.files++;
              item.contentBytes += h.size;
            }
            meter.add(0, 1, h.path);
          }
        },
      },
      meter,
      opts.ageKey,
      opts.gzipMembers,
    );
    if (!manifestDone) throw corrupt('the inner manifest is missing');
    result.direct = read.direct;
    screen?.finish();
    seen.flush();
    fsyncSync(manifestFd);
    closeSync(manifestFd);
    compareLists(seenFile, manifestFile);
    if (opts.manifestOut) renameSync(manifestFile, opts.manifestOut);
    meter.flush();
    return result;
  } catch (e) {
    try {
      closeSync(manifestFd);
    } catch {
      /* already closed */
    }
    rmSync(manifestFile, { force: true });
    throw e;
  } finally {
    closeSync(seenFd);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The inner-manifest line an entry read from the archive deserves (compared as text with the written one). */
export function seenLine(h: TarEntryHeader, sha256: string | undefined): string {
  const line: ManifestLine = {
    path: h.path,
    type: h.type === 'file' || h.type === 'dir' || h.type === 'symlink' ? h.type : (h.type as 'file'),
    size: h.type === 'file' ? h.size : 0,
    mode: h.mode & 0o7777,
    mtime: h.mtime,
    uname: h.uname,
    gname: h.gname,
    uid: h.uid,
    gid: h.gid,
  };
  if (sha256 !== undefined) line.sha256 = sha256;
  if (h.type === 'symlink') line.target = h.linkpath ?? '';
  return manifestLine(line);
}

/** The inner manifest lists every entry in a line of bounded size: a bigger one is not a list. */
export function manifestMaxBytes(limits: VerifyArchiveOptions['limits']): number {
  return limits ? (limits.entries + 1) * 16 * 1024 : Infinity;
}

/** What the archive held (spooled, in order) against its inner manifest, line by line: throws BACKUP_CORRUPT. */
export function compareLists(seenFile: string, manifestFile: string): void {
  const want = new LineReader(manifestFile);
  const got = new LineReader(seenFile);
  try {
    if (!parseHead(want.next())) throw corrupt('the inner manifest has no valid header line');
    // Nearly always the two lists are the same bytes: compared as bytes, lines are parsed only to explain a difference.
    if (sameAfterHead(seenFile, manifestFile)) return;
    for (;;) {
      const w = want.next();
      const g = got.next();
      if (w === null && g === null) return;
      if (w === g) continue;
      const wl = w === null ? null : parseLine(w);
      const gl = g === null ? null : parseLine(g);
      if (!gl) throw corrupt(`${wl?.path} is listed in the inner manifest but missing from the archive`, wl?.path);
      if (!wl) throw corrupt(`${gl.path} is in the archive but not in the inner manifest`, gl.path);
      if (wl.path !== gl.path) {
        throw corrupt(`the archive has ${gl.path} where the inner manifest lists ${wl.path}`, gl.path);
      }
      const diff = (
        ['type', 'size', 'sha256', 'target', 'mode', 'mtime', 'uname', 'gname', 'uid', 'gid'] as const
      ).find((k) => wl[k] !== gl[k]);
      if (diff === 'sha256') throw corrupt(`${gl.path} does not match its checksum`, gl.path);
      if (diff) throw corrupt(`${gl.path} differs from the inner manifest (${diff})`, gl.path);
    }
  } finally {
    want.close();
    got.close();
  }
}

/** Whether the seen list is byte for byte the inner manifest after its first line (read in chunks). */
function sameAfterHead(seenFile: string, manifestFile: string): boolean {
  const a = openSync(seenFile, 'r');
  const b = openSync(manifestFile, 'r');
  try {
    const ba = Buffer.allocUnsafe(256 * 1024);
    const bb = Buffer.allocUnsafe(256 * 1024);
    // The head line ends at the first newline byte (a newline byte is never part of a longer UTF-8 character).
    let head = -1;
    let pos = 0;
    while (head === -1) {
      const n = readSync(b, bb, 0, bb.length, pos);
      if (n === 0) return false;
      const nl = bb.subarray(0, n).indexOf(0x0a);
      if (nl !== -1) head = pos + nl + 1;
      pos += n;
    }
    if (fstatSync(b).size - head !== fstatSync(a).size) return false;
    let pa = 0;
    let pb = head;
    for (;;) {
      const na = readSync(a, ba, 0, ba.length, pa);
      const nb = readSync(b, bb, 0, na, pb);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (!ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      pa += na;
      pb += nb;
    }
  } finally {
    closeSync(a);
    closeSync(b);
  }
}
