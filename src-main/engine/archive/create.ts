import { createHash } from 'node:crypto';
import {
  type Dirent,
  closeSync,
  fstatSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  type Stats,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { ProgressMeter, type ProgressSink } from '../progress.js';
import { crashPoint } from '../restore/crash-point.js';
import { procFdPath } from '../util/atomic-fs.js';
import { resolveTrusted } from '../util/linked-folder.js';
import { groupNameForGid, userNameForUid } from '../util/system-users.js';
import type { FolderId } from '../util/safe-delete.js';
import { DEFAULT_GZIP_LEVEL, archiveBaseName } from './names.js';
import { GzipOut } from './gzip-out.js';
import { LineSpool, MANIFEST_FORMAT, MANIFEST_PATH, manifestLine, type ManifestLine } from './manifest.js';
import { PartWriter } from './part-writer.js';
import {
  DIR_FLAGS,
  OPEN_FLAGS,
  ReadHelper,
  changedDetail,
  entryLine,
  fileLine,
  sortedEntries,
  type Prefetched,
} from './read-helper.js';
import { BLOCK, encodeHeader } from './tar-header.js';
import { TarSink } from './tar-sink.js';
import type { ArchiveResult, CreateArchiveOptions } from './types.js';

export { DEFAULT_GZIP_LEVEL, ITEM_ID, archiveBaseName } from './names.js';

/**
 * Linux: every folder of the tree is opened (never through a link) and held while it is read, and what is in it
 * is named through that descriptor (/proc/self/fd/N/name, as openat would): an account that may change the
 * product's folders (the product's own) cannot redirect root's reading elsewhere (e.g. to /root) by swapping a
 * folder for a link once it was judged. Elsewhere, by path.
 */
const ANCHORED = process.platform === 'linux';
/** The reading helper starts for this many files or more (a thread costs ~10 MiB and ~40 ms to start). */
const HELPER_MIN_FILES = 2000;
/**
 * ... and files of this size or less on average: there the archive thread's per-file system calls are the limit
 * (measured, whole backup of 150,000 × 1 KiB: archive step 4.9–6.6 → 4.1–5.1 s). On 10 KiB files compression is
 * the limit and the helper only took CPU from it (30,000 × 10 KiB: 4.6–4.8 → 5.0–5.3 s, +18 MiB).
 */
const HELPER_MAX_AVERAGE = 4 * 1024;

/** Counting pass so progress has totals (and an ETA); lstat only, nothing kept in memory. */
function scan(root: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // reported with its name during the real pass
    }
    for (const n of names) {
      const p = path.join(dir, n);
      try {
        const st = lstatSync(p);
        if (st.isDirectory()) stack.push(p);
        else if (st.isFile()) {
          files++;
          bytes += st.size;
        }
      } catch {
        /* same */
      }
    }
  }
  return { bytes, files };
}

/**
 * An item's folder, opened and checked to be the folder its path names: every link on the way is root's (a link
 * only root could have made; one the product's account put in place of its folder is that account's), and what
 * was opened is where the path leads, looked at again after the open, so a swap before it is seen too.
 */
function openRootFolder(p: string): { fd: number; st: Stats } {
  let real: string;
  let fd: number;
  try {
    real = realpathSync(p);
    fd = openSync(real, DIR_FLAGS);
  } catch (e) {
    throw unreadable(e, p);
  }
  try {
    if (readlinkSync(procFdPath(fd)) !== real) throw swapped(p);
    resolveTrusted(p, () => swapped(p), { linksOnly: true }); // every link on the way root's
    if (realpathSync(p) !== real) throw swapped(p);
    return { fd, st: fstatSync(fd) };
  } catch (e) {
    closeSync(fd);
    throw e instanceof RecoveryError ? e : unreadable(e, p);
  }
}

/** A folder of the tree that became a link or another folder while it was backed up. */
function swapped(p: string, cause?: unknown): RecoveryError {
  return new RecoveryError(
    'UNSAFE_PATH',
    `${p} was replaced (by a link or another folder) while it was being backed up, so the backup stopped: it reads only the folders it checked.`,
    {
      hint: 'Find out who changes the product folders while the service is stopped, then start the backup again.',
      ...(cause !== undefined ? { cause } : {}),
    },
  );
}

function shrank(p: string): RecoveryError {
  return new RecoveryError('SOURCE_MISSING', `${p} shrank while it was being backed up.`, {
    hint: 'Make sure the product service is stopped, then start the backup again.',
  });
}

function unreadable(e: unknown, p: string): RecoveryError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'ENOTDIR') return swapped(p, e);
  if (code === 'ENOENT') {
    return new RecoveryError('SOURCE_MISSING', `${p} disappeared while it was being backed up.`, {
      hint: 'Make sure the product service is stopped, then start the backup again.',
      cause: e,
    });
  }
  const r = toRecoveryError(e, `reading ${p}`);
  if (r.code === 'INTERNAL') return new RecoveryError('INTERNAL', `Cannot read ${p}: ${r.message}`, { cause: e });
  return r;
}

export async function createArchiveJob(
  opts: CreateArchiveOptions,
  ctx: { progress: ProgressSink; willCreate: (p: string, recursive?: boolean, heldIn?: FolderId) => void },
): Promise<ArchiveResult> {
  const level = opts.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  const encrypted = (opts.passphrase !== undefined && opts.passphrase !== '') || opts.ageKey !== undefined;
  const owners = new Map<string, { uname: string; gname: string }>();
  const result: ArchiveResult = {
    parts: [],
    encrypted,
    files: 0,
    dirs: 0,
    symlinks: 0,
    contentBytes: 0,
    archiveBytes: 0,
    skipped: [],
    owners: [],
    gzipMembers: [],
  };

  const roots = opts.items.map((it) => {
    let st: Stats;
    try {
      st = statSync(it.path);
    } catch (e) {
      throw new RecoveryError('SOURCE_MISSING', `The folder ${it.path} (${it.id}) does not exist.`, { cause: e });
    }
    if (!st.isDirectory()) throw new RecoveryError('SOURCE_MISSING', `${it.path} (${it.id}) is not a folder.`);
    // Normalized once, so a child's path is the folder's path, a separator and its name.
    return { ...it, path: path.resolve(it.path), st };
  });

  const totals =
    opts.totals ??
    roots.reduce(
      (a, r) => {
        const s = scan(r.path);
        return { bytes: a.bytes + s.bytes, files: a.files + s.files };
      },
      { bytes: 0, files: 0 },
    );
  const meter = new ProgressMeter('archiving', totals, ctx.progress);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'edge-recovery-manifest-'));
  const spoolFile = path.join(tmp, 'files.jsonl');
  const spoolFd = openSync(spoolFile, 'w', 0o600);
  const spool = new LineSpool(spoolFd);
  spool.add(JSON.stringify({ format: MANIFEST_FORMAT, version: 1, items: opts.items.map((i) => ({ id: i.id })) }));

  const writer = new PartWriter(
    opts.outDir,
    archiveBaseName(encrypted),
    opts.splitSize,
    (f, heldIn) => ctx.willCreate(f, false, heldIn),
    opts.outDirAt,
  );
  let out: GzipOut | null = null;
  // Two cores or more and enough files: a second thread reads runs of small files.
  const helper =
    (opts.readHelper ??
    (totals.files >= HELPER_MIN_FILES &&
      totals.bytes <= totals.files * HELPER_MAX_AVERAGE &&
      os.availableParallelism() > 1))
      ? new ReadHelper()
      : null;
  try {
    // age loads only for an encrypted job.
    const enc = encrypted
      ? await (await import('./age-stream.js')).AgeEncryptor.create(opts.passphrase, opts.ageKey)
      : null;
    out = new GzipOut(level, enc, writer);
    const gz = out;
    const sink = new TarSink((b, done) => gz.write(b, done));

    // Owner names by id, the last pair remembered (a tree is mostly one owner): no lookup or key string per file.
    let lastUid = -1;
    let lastGid = -1;
    let lastNames = { uname: '', gname: '' };
    const names = (uid: number, gid: number): { uname: string; gname: string } => {
      if (uid === lastUid && gid === lastGid) return lastNames;
      const key = `${uid}:${gid}`;
      let o = owners.get(key);
      if (!o) {
        o = { uname: userNameForUid(uid) ?? '', gname: groupNameForGid(gid) ?? '' };
        owners.set(key, o);
      }
      lastUid = uid;
      lastGid = gid;
      lastNames = o;
      return o;
    };

    const base = (rel: string, st: Stats, type: ManifestLine['type'], size: number): ManifestLine =>
      entryLine(rel, st, type, size, names(st.uid, st.gid));

    /** The entry's header into the archive: a promise only when a batch is due for the compressor. */
    const emit = (m: ManifestLine): Promise<void> | undefined => {
      const h = encodeHeader({ ...m, linkpath: m.target });
      return sink.tryWrite(h) ? undefined : sink.write(h);
    };

    /** A file's header block, reused for every file (a header with pax records gets its own buffer). */
    const scratch = Buffer.alloc(BLOCK);

    /**
     * An entry of the tree: `abs` is its path (for messages), `at` the path it is opened by (on Linux through its
     * folder's descriptor, see ANCHORED). A folder is opened without following a link, checked to be the one
     * judged (`st`), and held while its entries are read.
     */
    const visit = async (abs: string, rel: string, st: Stats, at: string = abs): Promise<void> => {
      if (st.isDirectory()) {
        let dfd = -1;
        if (ANCHORED) {
          try {
            dfd = openSync(at, DIR_FLAGS);
          } catch (e) {
            throw unreadable(e, abs);
          }
        }
        try {
          if (dfd !== -1) {
            const dst = fstatSync(dfd);
            if (dst.dev !== st.dev || dst.ino !== st.ino) throw swapped(abs);
          }
          const m = base(rel, st, 'dir', 0);
          await emit(m);
          spool.add(manifestLine(m));
          result.dirs++;
          let children: Dirent[];
          try {
            children = sortedEntries(dfd !== -1 ? procFdPath(dfd) : abs);
          } catch (e) {
            throw unreadable(e, abs);
          }
          // abs is normalized (the root went through path.resolve): a child's path is a concatenation.
          const prefix = abs.endsWith(path.sep) ? abs : abs + path.sep;
          const here = dfd !== -1 ? `${procFdPath(dfd)}/` : prefix;
          const relPrefix = `${rel}/`;
          const pre = helper?.take(prefix);
          let i = pre ? await fromHelper(await pre, children, prefix, st) : 0;
          /** The child folder handed to the helper (this thread goes into every other one). */
          let handed = -1;
          for (; i < children.length; i++) {
            const d = children[i]!;
            const childAbs = prefix + d.name;
            const childAt = here + d.name;
            if (helper !== null && d.isDirectory() && i !== handed) {
              // This thread goes into this folder: the helper reads the next one meanwhile.
              let j = i + 1;
              while (j < children.length && !children[j]!.isDirectory()) j++;
              if (j < children.length) {
                handed = j;
                helper.ask(
                  prefix + children[j]!.name + path.sep,
                  `${relPrefix}${children[j]!.name}/`,
                  dfd !== -1 ? here + children[j]!.name : undefined,
                );
              }
            }
            // A regular file is opened (O_NOFOLLOW) and fstat'ed: no lstat first (one syscall less per file).
            if (d.isFile()) {
              // No await for a small file that fits in the current batch: no promise, no microtask per file.
              const pending = copyFile(childAbs, relPrefix + d.name, childAt);
              if (pending) await pending;
              continue;
            }
            let cst: Stats;
            try {
              cst = lstatSync(childAt);
            } catch (e) {
              throw unreadable(e, childAbs);
            }
            await visit(childAbs, relPrefix + d.name, cst, childAt);
          }
          // A folder handed over but not gone into (it was no folder any more when this thread got there): its
          // answer is awaited before this folder's descriptor, which the helper named it through, is closed.
          if (handed !== -1) {
            const p = helper!.take(prefix + children[handed]!.name + path.sep);
            if (p) (await p).release();
          }
        } finally {
          if (dfd !== -1) closeSync(dfd);
        }
      } else if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = readlinkSync(at);
        } catch (e) {
          // EINVAL: it is no link any more (it changed after it was listed).
          throw (e as NodeJS.ErrnoException).code === 'EINVAL' ? swapped(abs, e) : unreadable(e, abs);
        }
        const m = { ...base(rel, st, 'symlink', 0), target };
        await emit(m);
        spool.add(manifestLine(m));
        result.symlinks++;
      } else if (st.isFile()) {
        await copyFile(abs, rel, at);
      } else {
        const kind = st.isSocket() ? 'socket' : st.isFIFO() ? 'fifo' : 'device';
        result.skipped.push({ path: abs, reason: `${kind}: not backed up (the service recreates it)` });
      }
    };

    /**
     * The first entries of a folder as the helper wrote them, if they are exactly this thread's first entries
     * (the folder may have changed between the two listings): copied in; returns how many.
     */
    const fromHelper = async (got: Prefetched, children: Dirent[], prefix: string, st: Stats): Promise<number> => {
      try {
        const r = got.reply;
        if (r === null) return 0;
        // The helper opened the folder itself (by the same name, never through a link): only the same folder counts.
        if (r.dev !== undefined && (r.dev !== st.dev || r.ino !== st.ino)) return 0;
        for (let k = 0; k < r.done; k++) {
          const c = children[k];
          if (c === undefined || c.name !== r.names[k] || !c.isFile()) return 0;
        }
        if (r.shrank !== undefined && children[r.done]?.name === r.shrank) throw shrank(prefix + r.shrank);
        if (r.done === 0) return 0;
        await sink.write(got.data.subarray(0, r.len));
        spool.addText(r.lines);
        for (const o of r.owners) {
          const key = `${o.uid}:${o.gid}`;
          if (!owners.has(key)) owners.set(key, { uname: o.uname, gname: o.gname });
        }
        for (const ch of r.changed) (result.changed ??= []).push(ch);
        result.files += r.done;
        result.contentBytes += r.contentBytes;
        meter.add(r.contentBytes, r.done);
        return r.done;
      } finally {
        got.release();
      }
    };

    const readError = (e: unknown, abs: string): unknown => {
      if (e instanceof RecoveryError) return e;
      if ((e as NodeJS.ErrnoException).syscall === 'read') return unreadable(e, abs);
      return e;
    };

    /**
     * After the file's data: its checksum (false: it came up short), whether it changed while read, its
     * manifest line; `uncounted` bytes of it go to the progress now.
     */
    const fileDone = (
      abs: string,
      fd: number,
      fst: Stats,
      m: ManifestLine,
      digest: string | false,
      uncounted: number,
    ): void => {
      if (digest === false) throw shrank(abs);
      m.sha256 = digest;
      // A file written while it was read (no service manager stopped its writer): say which.
      const detail = changedDetail(fst, fstatSync(fd));
      if (detail !== null) (result.changed ??= []).push({ path: abs, detail });
      spool.add(manifestLine(m));
      result.files++;
      result.contentBytes += fst.size;
      meter.add(uncounted, 1, m.path);
      // Kill tests, and tests that must act while a backup is surely mid-archive: a pause here holds only this
      // worker thread, so the job's main thread (its progress, its cancel) keeps running.
      if (result.files === 1) crashPoint('archive:first-file');
    };

    const closeAfter = async (fd: number, work: Promise<void>): Promise<void> => {
      try {
        await work;
      } finally {
        closeSync(fd);
      }
    };

    /**
     * One file: open (O_NOFOLLOW), fstat, header, data, fstat, close. Synchronous (undefined) when header and
     * data fit in the current batch; a promise when a batch must go to the compressor first.
     */
    const copyFile = (abs: string, rel: string, at: string = abs): Promise<void> | undefined => {
      let fd: number;
      try {
        // O_NONBLOCK: if the file was swapped for a FIFO since the folder was listed, do not hang on it.
        fd = openSync(at, OPEN_FLAGS);
      } catch (e) {
        throw unreadable(e, abs);
      }
      let handedOver = false;
      try {
        const fst = fstatSync(fd);
        if (!fst.isFile()) {
          handedOver = true;
          return closeAfter(fd, visit(abs, rel, fst, at));
        }
        const m = fileLine(rel, fst, names(fst.uid, fst.gid));
        const header = encodeHeader(m, scratch);
        if (sink.tryWrite(header)) {
          let digest: string | false | null;
          try {
            digest = sink.copySmallFile(fd, fst.size);
          } catch (e) {
            throw readError(e, abs);
          }
          if (digest !== null) {
            fileDone(abs, fd, fst, m, digest, fst.size);
            return undefined;
          }
          handedOver = true;
          return closeAfter(fd, copyRest(abs, fd, fst, m));
        }
        // The batch is due for the compressor: the header is copied out of the reused block first.
        const own = Buffer.from(header);
        handedOver = true;
        return closeAfter(
          fd,
          sink.write(own).then(() => copyRest(abs, fd, fst, m)),
        );
      } finally {
        if (!handedOver) closeSync(fd);
      }
    };

    const copyRest = async (abs: string, fd: number, fst: Stats, m: ManifestLine): Promise<void> => {
      const hash = createHash('sha256');
      let complete: boolean;
      try {
        complete = await sink.copyFile(fd, fst.size, hash, (n) => meter.add(n, 0, m.path));
      } catch (e) {
        throw readError(e, abs);
      }
      fileDone(abs, fd, fst, m, complete && hash.digest('hex'), 0);
    };

    for (const r of roots) {
      if (!ANCHORED) {
        await visit(r.path, r.id, r.st);
        continue;
      }
      const root = openRootFolder(r.path);
      try {
        // `/.`: the held folder itself (O_NOFOLLOW on the /proc link would refuse it).
        await visit(r.path, r.id, root.st, `${procFdPath(root.fd)}/.`);
      } finally {
        closeSync(root.fd);
      }
    }

    spool.flush();
    const manifestSize = spool.bytes;
    const now = Math.floor(Date.now() / 1000);
    const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    await sink.write(
      encodeHeader({
        path: MANIFEST_PATH,
        type: 'file',
        size: manifestSize,
        mode: 0o644,
        mtime: now,
        ...self,
        uname: userNameForUid(self.uid) ?? '',
        gname: groupNameForGid(self.gid) ?? '',
      }),
    );
    const mfd = openSync(spoolFile, 'r');
    try {
      if (!(await sink.copyFile(mfd, manifestSize, createHash('sha256'), () => undefined))) {
        throw new RecoveryError('INTERNAL', 'The inner manifest could not be read back.');
      }
    } finally {
      closeSync(mfd);
    }
    await sink.end();
    await out.end();
    result.gzipMembers = out.members;
    result.parts = writer.finish();
    writer.commit();
    meter.flush();
  } catch (e) {
    out?.destroy();
    writer.abort();
    throw toRecoveryError(e, opts.outDir);
  } finally {
    await helper?.close();
    closeSync(spoolFd);
    rmSync(tmp, { recursive: true, force: true });
  }
  result.archiveBytes = writer.total;
  result.owners = [...new Map([...owners.values()].map((o) => [`${o.uname}:${o.gname}`, o])).values()];
  return result;
}
