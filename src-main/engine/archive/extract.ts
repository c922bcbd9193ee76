import { createHash, hash as hashOnce, type Hash } from 'node:crypto';
import { flushToDisk } from '../util/flush-to-disk.js';
import {
  closeSync,
  mkdtempSync,
  renameSync,
  rmSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  futimesSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readSync,
  symlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { ProgressMeter, type ProgressSink } from '../progress.js';
import { crashPoint } from '../restore/crash-point.js';
import { compilePolicy } from '../restore/ownership-policy.js';
import { CREATE_EXCL_FLAGS, DIR_OPEN_FLAGS, procFdPath, tempName } from '../util/atomic-fs.js';
import { removeTreeNoFollow, type FolderId } from '../util/safe-delete.js';
import { EntryScreen, hostile, matchesManifest } from './entry-check.js';
import { LineReader, LineSpool, MANIFEST_PATH, parseHead, parseLine, type ManifestLine } from './manifest.js';
import { readArchive } from './read-pipeline.js';
import type { TarEntryHeader } from './tar-header.js';
import {
  OWNERS_SEEN_KEPT,
  type ArchiveLimits,
  type ExtractArchiveOptions,
  type OwnersSeen,
  type ReadResult,
  type StagedOwner,
} from './types.js';
import { compareLists, manifestMaxBytes, seenLine } from './verify.js';
import { CREATE_FLAGS, FileWriters, SMALL_FILE, type WriterFailure } from './file-writers.js';

/** Below this many files the writer threads cost more to start than they save. */
const WRITERS_FROM_FILES = 2000;

/** A small file's descriptor while a writer thread creates it. */
const POOLED = -2;

/**
 * Files written between two flushes while unpacking (Linux; see countFile). Counted in files, not bytes: what makes
 * the last flush long is the number of new files (their inodes, folders and scattered blocks), not their size. A few
 * big files are written out at the end as fast as the disk goes, and flushing beside their unpacking only made the
 * disk serve the stick's reads and our writes at once (the bench reads both from one disk).
 */
const EARLY_FLUSH_FILES = 25_000;

function damaged(file: string): RecoveryError {
  return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${file} does not match its checksum.`, {
    hint: 'Use another copy of the backup.',
    details: { file },
  });
}

/** What an archive mode may keep without a policy: no setuid/setgid/sticky, no group/other write. */
const SAFE_MODE_MASK = 0o0755;

/** Stops reading as soon as the archive holds more than its manifest declared (a decompression bomb). */
export class LimitMeter {
  files = 0;
  bytes = 0;
  entries = 0;
  dirs = 0;
  symlinks = 0;
  constructor(private readonly limits: ArchiveLimits | undefined) {}

  entry(h: TarEntryHeader): void {
    this.entries++;
    if (h.type === 'file') {
      this.files++;
      this.bytes += h.size;
    } else if (h.type === 'dir') this.dirs++;
    else if (h.type === 'symlink') this.symlinks++;
    const l = this.limits;
    if (!l) return;
    const over =
      this.bytes > l.contentBytes
        ? `more than the ${l.contentBytes} bytes of data`
        : this.files > l.files
          ? `more than the ${l.files} files`
          : this.entries > l.entries
            ? `more than the ${l.entries} entries`
            : l.dirs !== undefined && this.dirs > l.dirs
              ? `more than the ${l.dirs} folders`
              : l.symlinks !== undefined && this.symlinks > l.symlinks
                ? `more than the ${l.symlinks} links`
                : null;
    if (over !== null) {
      throw new RecoveryError(
        'HOSTILE_ARCHIVE',
        `The archive holds ${over} its manifest declares (at ${JSON.stringify(h.path)}): reading stopped.`,
        {
          hint: 'This backup was tampered with (a decompression bomb?). Use another copy. Nothing outside the staging folder was written.',
          details: { entry: h.path },
        },
      );
    }
  }
}

/**
 * Checks that `dir` (a staging folder's parent) is a real folder only this account can enter, and returns a
 * path that names exactly that folder (through /proc/self/fd on Linux) for as long as `fd` stays open.
 */
function openPrivateParent(dir: string): { fd: number; at: string } {
  let fd: number;
  try {
    fd = openSync(dir, DIR_OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      throw new RecoveryError('UNSAFE_PATH', `${dir} is a link, not a folder: nothing was unpacked there.`);
    }
    throw toRecoveryError(e, dir);
  }
  if (process.platform !== 'win32') {
    const st = fstatSync(fd);
    const me = process.geteuid?.() ?? st.uid;
    if (st.uid !== me || (st.mode & 0o077) !== 0) {
      closeSync(fd);
      throw new RecoveryError(
        'UNSAFE_PATH',
        `The staging folders must be inside a folder only this account can enter; ${dir} is mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid}.`,
        { hint: 'The restore makes such a folder itself (.edge-recovery-<id>); pass staging folders inside one.' },
      );
    }
  }
  return { fd, at: process.platform === 'linux' ? procFdPath(fd) : dir };
}

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

/**
 * Safe extraction into fresh staging folders inside a folder only this account can enter. Every entry is
 * judged before anything is written for it (EntryScreen: shape, item, links resolved against the tree so
 * far; the declared totals); files are created with O_EXCL|O_NOFOLLOW under folders this extraction created
 * itself, so nothing can be written through a link or outside staging. Each file gets its owner and mode on
 * its own descriptor right after its data (open, write, fchown, [fchmod,] futimes, [fstat,] close); links get lchown
 * inside the private staging. With an owner, that `fstat` (an `lstat` for a link, a folder's own `fstat`) reads
 * back what the disk kept, so a disk that ignores owners or modes is found (`ReadResult.owners`) without a second
 * walk of the tree. Modes never keep setuid/setgid/sticky or group/other write unless the policy
 * says so. Folders get owner, mode and mtime last (deepest first), each opened O_DIRECTORY|O_NOFOLLOW, so
 * read-only folders and children's writes don't interfere.
 *
 * Two ways to hold the archive to its inner manifest:
 * - `manifestFile` (saved by an earlier verify): each entry is compared with its line before it is written;
 * - otherwise one pass: what is unpacked is spooled as manifest lines (with each file's sha256) and compared
 *   line by line with the inner manifest, the archive's last entry, when it arrives; `manifestOut` keeps it.
 *   Nothing is trusted before that comparison: the staging folders are removed unless everything matched.
 */
export async function extractArchiveJob(
  dir: string,
  opts: ExtractArchiveOptions,
  ctx: { progress: ProgressSink; willCreate: (p: string, recursive?: boolean, heldIn?: FolderId) => void },
): Promise<ReadResult> {
  const itemIds = new Set(Object.keys(opts.targets));
  const onePass = opts.manifestFile === undefined;
  const manifest = opts.manifestFile === undefined ? null : new LineReader(opts.manifestFile);
  let manifestSum: { sha256: string; size: number } | null = null;
  if (manifest) {
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
    manifestSum = sha256File(opts.manifestFile!);
  }

  const created: string[] = [];
  const roots = new Map<string, string>();
  const parents = new Map<string, { fd: number; at: string }>();
  const closeParents = (): void => {
    for (const p of parents.values()) closeSync(p.fd);
    parents.clear();
  };
  try {
    for (const [id, target] of Object.entries(opts.targets)) {
      const real = path.resolve(target);
      const dir = path.dirname(real);
      if (!parents.has(dir)) parents.set(dir, openPrivateParent(dir));
      // From here on, only paths through the parent's descriptor: a swapped path cannot redirect us.
      const abs = `${parents.get(dir)!.at}/${path.basename(real)}`;
      try {
        mkdirSync(abs, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new RecoveryError('BAD_INPUT', `The staging folder ${real} already exists.`, {
            hint: 'Remove it (after checking it holds nothing you need) and try again.',
          });
        }
        throw toRecoveryError(e, real);
      }
      // Only after mkdir succeeded: a folder that existed before is never ours to remove.
      ctx.willCreate(real, true, fstatSync(parents.get(dir)!.fd));
      created.push(abs);
      roots.set(id, abs);
    }
  } catch (e) {
    manifest?.close();
    for (const c of created) removeTreeNoFollow(c);
    closeParents();
    throw e;
  }
  const earlyFlush = process.platform === 'linux';
  const owner = process.platform === 'win32' ? undefined : opts.owner;
  const policy = owner ? compilePolicy({ user: '', group: '', ...owner }) : null;
  const modeFor = (h: TarEntryHeader, kind: 'dir' | 'file'): number =>
    policy ? policy.modeFor(h.path, kind) : h.mode & SAFE_MODE_MASK;
  // A file is created with its final mode when the umask leaves that mode alone (no fchmod then); the folder
  // it is created in is private to this account, so nobody can open it before its owner is set.
  const umask = process.platform === 'win32' ? 0o777 : process.umask();
  const screen = new EntryScreen(itemIds);
  const limits = new LimitMeter(opts.limits);

  // One pass: what the archive held, spooled in order (bounded memory), and where its inner manifest goes.
  let tmp: string | null = null;
  let seenFile = '';
  let seenFd = -1;
  let seen: LineSpool | null = null;
  let innerFile = '';
  let innerFd = -1;
  const manifestMax = manifestMaxBytes(opts.limits);

  const totalBytes = opts.parts.reduce((a, p) => a + p.size, 0);
  const meter = new ProgressMeter(
    'unpacking',
    { bytes: totalBytes, files: opts.totalFiles ?? opts.limits?.files ?? null },
    ctx.progress,
  );
  const result: ReadResult = { files: 0, contentBytes: 0 };
  const items: NonNullable<ReadResult['items']> = {};
  result.items = items;
  const expectedFiles = opts.totalFiles ?? opts.limits?.files ?? 0;
  const writerError = (f: WriterFailure): Error =>
    f.code === 'EEXIST'
      ? hostile(f.name, 'duplicate entry')
      : toRecoveryError(Object.assign(new Error(f.message), { code: f.code }), f.abs);
  let writers: FileWriters | null = null;
  // Folders this extraction created: the only places it writes into. Bounded by the folder count.
  const madeDirs = new Set<string>(itemIds);
  const dirMeta: { abs: string; mode: number; mtime: number; path: string }[] = [];

  /** A file's hash: one call for data that arrives in one piece (most small files), else a hash object. */
  let cur: {
    h: TarEntryHeader;
    m: ManifestLine | null;
    abs: string;
    fd: number;
    hash: Hash | null;
    sum?: string;
  } | null = null;
  let manifestHash: Hash | null = null;
  let inManifest = false;
  let manifestEntryDone = false;

  // The disk writes while we unpack: a flush every EARLY_FLUSH_FILES files (one at a time, not awaited), so the one
  // that ends the step finds little left to write (S's 500,000 files: 8.2 s → 0.1–1 s).
  // A disk's write error is reported once, to the first syncfs(2) after it (a later `sync -f` opens its own
  // descriptor after the error and is told nothing): an early flush's failure is the extraction's.
  let early: Promise<void> | null = null;
  let earlyFailed: unknown = null;
  let unflushed = 0;
  const countFile = (h: TarEntryHeader): void => {
    if (earlyFailed !== null) throw earlyFailed;
    if (earlyFlush) {
      if (++unflushed >= EARLY_FLUSH_FILES && early === null) {
        unflushed = 0;
        early = flushToDisk(created)
          .catch((e: unknown) => {
            earlyFailed ??= e;
          })
          .finally(() => {
            early = null;
          });
      }
    }
    result.files++;
    result.contentBytes += h.size;
    const item = (items[h.path.slice(0, h.path.indexOf('/'))] ??= { files: 0, contentBytes: 0 });
    item.files++;
    item.contentBytes += h.size;
    meter.add(0, 1, h.path);
  };

  const absOf = (parts: string[]): string => path.join(roots.get(parts[0]!)!, ...parts.slice(1));

  // With an owner, every entry is looked at on its descriptor once its owner, mode and time are set.
  const owners: OwnersSeen | undefined = owner ? { checked: 0, wrong: 0, first: [] } : undefined;
  const realOf = (name: string): string => {
    const parts = name.split('/');
    return path.join(path.resolve(opts.targets[parts[0]!]!), ...parts.slice(1));
  };
  const seenOwner = (name: string, kind: StagedOwner['kind'], st: Stats, want: number | null): void => {
    if (!owners) return;
    if (++owners.checked === 3) crashPoint('ownership:mid-check');
    const mode = st.mode & 0o7777;
    if (st.uid === owner!.uid && st.gid === owner!.gid && (want === null || mode === want)) return;
    owners.wrong++;
    if (owners.first.length < OWNERS_SEEN_KEPT) {
      owners.first.push({ path: realOf(name), kind, uid: st.uid, gid: st.gid, mode, want });
    }
  };

  try {
    // Inside the try: whatever of these was made is undone by the catch and the finally below.
    if (onePass) {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'edge-recovery-extract-'));
      seenFile = path.join(tmp, 'seen.jsonl');
      seenFd = openSync(seenFile, CREATE_EXCL_FLAGS, 0o600);
      seen = new LineSpool(seenFd);
      innerFile = opts.manifestOut
        ? path.join(path.dirname(opts.manifestOut), tempName(path.basename(opts.manifestOut)))
        : path.join(tmp, 'files.jsonl');
      if (opts.manifestOut) ctx.willCreate(innerFile);
      innerFd = openSync(innerFile, CREATE_EXCL_FLAGS, 0o600);
    }
    writers =
      expectedFiles >= WRITERS_FROM_FILES && opts.writers !== 0
        ? new FileWriters(
            {
              uid: owner?.uid ?? 0,
              gid: owner?.gid ?? 0,
              chown: owner !== undefined,
              fsync: process.platform !== 'linux',
              ...(opts.writers !== undefined ? { count: opts.writers } : {}),
            },
            writerError,
          )
        : null;
    await readArchive(
      dir,
      opts.parts,
      opts.passphrase,
      {
        entry(h) {
          if (manifestEntryDone) throw hostile(h.path, 'entry after the inner manifest');
          let m: ManifestLine | null = null;
          if (manifest) {
            const nextLine = manifest.next();
            if (nextLine === null && h.path === MANIFEST_PATH && h.type === 'file') {
              manifestHash = createHash('sha256');
              inManifest = true;
              cur = { h, m: null, abs: '', fd: -1, hash: null };
              return;
            }
            m = nextLine === null ? null : parseLine(nextLine);
          } else if (h.path === MANIFEST_PATH && h.type === 'file') {
            if (h.size > manifestMax) throw hostile(h.path, 'the inner manifest is far larger than its entries');
            inManifest = true;
            cur = { h, m: null, abs: '', fd: -1, hash: null };
            return;
          }
          limits.entry(h);
          const parts = screen.check(h);
          if (manifest) {
            const mismatch = matchesManifest(h, m);
            if (mismatch) throw hostile(h.path, mismatch);
          }
          const abs = absOf(parts);
          if (parts.length === 1) {
            if (h.type !== 'dir') throw hostile(h.path, 'the item root is not a folder');
            dirMeta.push({ abs, mode: modeFor(h, 'dir'), mtime: h.mtime, path: h.path });
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
              dirMeta.push({ abs, mode: modeFor(h, 'dir'), mtime: h.mtime, path: h.path });
            } else if (h.type === 'symlink') {
              symlinkSync(h.linkpath!, abs);
              // Inside the private staging nobody can swap it: lchown by path is safe here.
              if (owner) lchownSync(abs, owner.uid, owner.gid);
            } else if (writers !== null && h.size <= SMALL_FILE) {
              // Created by a writer thread once its data is here (see file-writers.ts).
              writers.begin(h.size);
              fd = POOLED;
            } else {
              fd = openSync(abs, CREATE_FLAGS, modeFor(h, 'file'));
            }
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw hostile(h.path, 'duplicate entry');
            throw toRecoveryError(e, abs);
          }
          cur = { h, m, abs, fd, hash: null };
        },
        data(chunk) {
          const c = cur!;
          if (inManifest) {
            if (manifestHash) manifestHash.update(chunk);
            else {
              let off = 0;
              while (off < chunk.length) off += writeSync(innerFd, chunk, off, chunk.length - off);
            }
            return;
          }
          if (c.hash === null && c.sum === undefined && chunk.length === c.h.size)
            c.sum = hashOnce('sha256', chunk, 'hex');
          else (c.hash ??= createHash('sha256')).update(chunk);
          if (c.fd === POOLED) {
            writers!.data(chunk);
            return;
          }
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
          if (inManifest) {
            inManifest = false;
            if (manifestHash && manifestSum) {
              if (manifestHash.digest('hex') !== manifestSum.sha256 || c.h.size !== manifestSum.size) {
                throw new RecoveryError(
                  'BACKUP_CORRUPT',
                  'The inner manifest in the archive differs from the checked one.',
                  {
                    hint: 'Verify the backup again, then restore.',
                  },
                );
              }
            }
            manifestEntryDone = true;
            return;
          }
          const { h, m, abs } = c;
          const sha = h.type === 'file' ? (c.sum ?? (c.hash ?? createHash('sha256')).digest('hex')) : undefined;
          seen?.add(seenLine(h, sha));
          if (h.type === 'file' && c.fd === POOLED) {
            if (m !== null && sha !== m.sha256) throw damaged(h.path);
            const mode = modeFor(h, 'file');
            writers!.end(abs, h.path, h.size, mode, (mode & umask) !== 0, h.mtime);
            countFile(h);
          } else if (h.type === 'file') {
            try {
              if (m !== null && sha !== m.sha256) {
                throw new RecoveryError(
                  'BACKUP_CORRUPT',
                  `The backup is damaged: ${h.path} does not match its checksum.`,
                  {
                    hint: 'Use another copy of the backup.',
                    details: { file: h.path },
                  },
                );
              }
              // On the descriptor of the file just created: owner first (chown clears setuid), then the mode
              // if the umask changed it at creation, then the time.
              if (owner) fchownSync(c.fd, owner.uid, owner.gid);
              const mode = modeFor(h, 'file');
              if ((mode & umask) !== 0) fchmodSync(c.fd, mode);
              futimesSync(c.fd, h.mtime, h.mtime);
              if (owners) seenOwner(h.path, 'file', fstatSync(c.fd), mode);
              if (process.platform !== 'linux') fsyncSync(c.fd);
            } finally {
              closeSync(c.fd);
            }
            countFile(h);
          } else if (h.type === 'symlink') {
            lutimesSync(abs, h.mtime, h.mtime);
            if (owners) seenOwner(h.path, 'symlink', lstatSync(abs), null);
          }
        },
      },
      meter,
      opts.ageKey,
      opts.gzipMembers,
    );
    // Every small file created (or the first failure, as this extraction's error).
    writers?.finish();
    if (early !== null) await early;
    if (earlyFailed !== null) throw earlyFailed;
    if (owners && writers) {
      // The writers' files: each checked on its descriptor (file-writer-worker.ts); the wrong ones named here.
      owners.checked += writers.pooled;
      owners.wrong += writers.wrong;
      for (const w of writers.wrongFirst) {
        if (owners.first.length >= OWNERS_SEEN_KEPT) break;
        owners.first.push({ path: realOf(w.name), kind: 'file', uid: w.uid, gid: w.gid, mode: w.mode, want: w.want });
      }
    }
    if (!manifestEntryDone) {
      const left = manifest?.next() ?? null;
      const l = left === null ? null : parseLine(left);
      throw new RecoveryError(
        'BACKUP_CORRUPT',
        l
          ? `The backup is damaged: ${l.path} is missing from the archive.`
          : 'The backup is damaged: the inner manifest is missing.',
        { hint: 'Use another copy of the backup.', details: l ? { file: l.path } : undefined },
      );
    }
    screen.finish();
    if (seen) {
      seen.flush();
      fsyncSync(innerFd);
      closeSync(innerFd);
      innerFd = -1;
      compareLists(seenFile, innerFile);
      if (opts.manifestOut) renameSync(innerFile, opts.manifestOut);
    }
    for (let i = dirMeta.length - 1; i >= 0; i--) {
      const d = dirMeta[i]!;
      let fd: number;
      try {
        fd = openSync(d.abs, DIR_OPEN_FLAGS);
      } catch {
        throw hostile(d.path, 'a folder was replaced during extraction');
      }
      try {
        if (owner) fchownSync(fd, owner.uid, owner.gid);
        fchmodSync(fd, d.mode);
        futimesSync(fd, d.mtime, d.mtime);
        if (owners) seenOwner(d.path, 'dir', fstatSync(fd), d.mode);
      } finally {
        closeSync(fd);
      }
    }
    // Files on disk before we report success: one syncfs per staging filesystem.
    if (opts.flush !== false) await flushToDisk(created);
    meter.flush();
    if (owners) result.owners = owners;
    return result;
  } catch (e) {
    // No writer thread may create anything once the staging folders are being removed.
    await writers?.stop();
    const c = cur as { fd: number } | null;
    if (c && c.fd >= 0) {
      try {
        closeSync(c.fd);
      } catch {
        /* already closed */
      }
    }
    for (const d of created) removeTreeNoFollow(d);
    if (innerFd !== -1) {
      try {
        closeSync(innerFd);
      } catch {
        /* already closed */
      }
      innerFd = -1;
    }
    if (onePass && opts.manifestOut && innerFile !== '') rmSync(innerFile, { force: true });
    throw e;
  } finally {
    await writers?.stop();
    manifest?.close();
    closeParents();
    if (seenFd !== -1) closeSync(seenFd);
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}
