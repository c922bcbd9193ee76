import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { DIR_OPEN_FLAGS, SafeDir, procFdPath } from './atomic-fs.js';

const LINUX_FD = process.platform === 'linux';

/**
 * An entry of the folder open as `fd`, as bytes: Linux names need not be UTF-8 (an ISO-8859-1 name read as a string
 * comes back with U+FFFD and cannot be found by it, so the folder never emptied).
 */
function fdPath(fd: number, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${procFdPath(fd)}/`), name]);
}

/**
 * Deletes the folder `dir` and everything in it without ever following a link: each folder is opened by
 * descriptor (O_DIRECTORY|O_NOFOLLOW) and its entries are removed through that descriptor (like unlinkat),
 * so a folder swapped for a link half-way makes the open fail instead of redirecting the delete. Links are
 * removed, never followed. Missing `dir` is fine.
 */
export function removeTreeNoFollow(dir: string): void {
  if (!LINUX_FD) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const fd = openForDelete(dir);
  if (fd === null) return;
  try {
    emptyDirFd(fd, 0);
  } finally {
    closeSync(fd);
  }
  rmdirSync(dir);
}

/**
 * Removes the folder at `at` only if, opened by descriptor (never through a link), it still is what was judged
 * (`still`, given a path to the folder held): judging and deleting by the name would delete whatever an account that
 * may write the folder above renamed to it in between (root's newest set, whose files that account cannot delete
 * itself). What is deleted is the folder held; its name goes only while it still names that folder. False when it was
 * not removed (gone, replaced, or no longer what was judged: kept). Retention and the mirror's prune use it.
 */
export async function removeFolderIfStill(
  at: string,
  shown: string,
  still: (self: string) => Promise<boolean>,
): Promise<boolean> {
  let f: SafeDir;
  try {
    f = await SafeDir.open(at, shown);
  } catch {
    return false;
  }
  try {
    if (!(await still(f.self))) return false;
    removeHeldTree(at, f.fh.fd);
    return true;
  } finally {
    await f.close();
  }
}

/**
 * Deletes the folder this process holds open as `fd` (the one it made at `dir`): its entries are removed through
 * the descriptor, never following a link, and the name `dir` is removed only while it still names that folder.
 * Another account that may write the folder above can have renamed it away and put a link or a folder of its own
 * at `dir`: that is left alone (what this job made there is gone, emptied by descriptor).
 */
export function removeHeldTree(dir: string, fd: number): void {
  if (!LINUX_FD) {
    removeTreeNoFollow(dir);
    return;
  }
  emptyDirFd(fd, 0);
  const held = fstatSync(fd);
  const there = lstatSync(dir, { throwIfNoEntry: false });
  if (there === undefined || !there.isDirectory() || there.dev !== held.dev || there.ino !== held.ino) return;
  rmdirSync(dir);
}

/** A folder's identity (device and inode), as a job that holds it open sees it. */
export interface FolderId {
  dev: number;
  ino: number;
}

/**
 * Removes `name` (with `recursive`, the folder and everything in it, never following a link) from the folder at `dir`,
 * only while that path names the folder `held`: a worker job tells its host what it creates in a folder it holds, and
 * the host removes it when the job fails or is cancelled. By the path alone, an account that may write a folder above
 * (beside a restore's targets, on a stick) could swap one for a link, and root would delete whatever bears that name
 * where the link leads. A folder at `dir` that is not the one held (moved away, replaced, a link) is left alone: what
 * the job made in the one it held is its caller's to remove, through the folder it holds.
 */
export function removeFromHeldFolder(dir: string, name: string, held: FolderId, recursive: boolean): void {
  if (!LINUX_FD) {
    rmSync(path.join(dir, name), { force: true, recursive });
    return;
  }
  let fd: number;
  try {
    fd = openSync(dir, DIR_OPEN_FLAGS);
  } catch {
    return; // gone, or a link in its place: not the folder held
  }
  try {
    const st = fstatSync(fd);
    if (st.dev !== held.dev || st.ino !== held.ino) return;
    const at = procFdPath(fd, name);
    if (recursive) {
      removeTreeNoFollow(at);
      return;
    }
    const there = lstatSync(at, { throwIfNoEntry: false });
    if (there !== undefined && !there.isDirectory()) unlinkSync(at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens the folder at `p` by descriptor, never through a link: a link or a file in its place (found by the lstat,
 * or swapped in between the lstat and the open) is removed itself, and null is returned, as for an entry already
 * gone. The descriptor is checked to be the folder the lstat saw (not something renamed in between).
 */
function openForDelete(p: string | Buffer): number | null {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (st === undefined) return null;
  if (!st.isDirectory()) {
    unlinkSync(p);
    return null;
  }
  let fd: number;
  try {
    fd = openSync(p, DIR_OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      unlinkSync(p);
      return null;
    }
    if (code === 'ENOENT') return null;
    throw e;
  }
  const a = fstatSync(fd);
  if (a.ino !== st.ino || a.dev !== st.dev) {
    closeSync(fd);
    throw new RecoveryError('INTERNAL', `${path.basename(p.toString())} changed while deleting.`);
  }
  return fd;
}

function emptyDirFd(fd: number, depth: number): void {
  if (depth > 4096) throw new RecoveryError('INTERNAL', 'A folder to delete is nested too deeply.');
  // Another process holding a descriptor inside may still add entries: list again until empty (bounded).
  for (let round = 0; ; round++) {
    const names = readdirSync(procFdPath(fd), { encoding: 'buffer' });
    if (names.length === 0) return;
    if (round === 1000) throw new RecoveryError('INTERNAL', 'Entries keep appearing in a folder being deleted.');
    removeEntries(fd, names, depth);
  }
}

function removeEntries(fd: number, names: Buffer[], depth: number): void {
  for (const name of names) {
    const p = fdPath(fd, name);
    const sub = openForDelete(p);
    if (sub === null) continue;
    try {
      emptyDirFd(sub, depth + 1);
    } finally {
      closeSync(sub);
    }
    try {
      rmdirSync(p);
    } catch (e) {
      // Refilled in between, or swapped for a link (ENOTDIR, the folder itself was emptied by descriptor): the
      // caller lists this folder again, and a link found then is removed, not followed.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'ENOTDIR') throw e;
    }
  }
}

/**
 * A root-only (0700, owned by this process's user) work folder, made or found: refused when it is a link,
 * owned by someone else, or open to others. Returns its path.
 */
export function ensurePrivateDir(dir: string): string {
  closeSync(openPrivateDir(ensureFolder(dir)));
  return dir;
}

/**
 * The work folder `dir` opened (a descriptor; the caller closes it) and judged on it: refused when it is a link,
 * owned by someone else, or open to others. An account that may write the folder `dir` is in can rename the
 * work folder away and put its own by that name at any moment, but never change what this descriptor is.
 */
export function openPrivateDir(dir: string, shown = dir): number {
  let fd: number;
  try {
    fd = openSync(dir, DIR_OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      throw new RecoveryError('UNSAFE_PATH', `${shown} is a link, not the tool's own work folder.`, {
        hint: 'Someone put a link where the restore keeps its work folder. Remove it after checking, then resume.',
      });
    }
    throw e;
  }
  try {
    const st = fstatSync(fd);
    const me = process.geteuid?.() ?? 0;
    if (st.uid !== me) {
      throw new RecoveryError('UNSAFE_PATH', `${shown} belongs to another account (uid ${st.uid}).`, {
        hint: 'Someone created or replaced the restore work folder: it is not the one the restore made. Remove it after checking, then resume (or roll back).',
      });
    }
    if ((st.mode & 0o077) !== 0) {
      throw new RecoveryError(
        'UNSAFE_PATH',
        `${shown} is open to other accounts (mode ${(st.mode & 0o777).toString(8)}).`,
      );
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/**
 * Deletes `victim` (a folder or anything else) so that no other account can redirect it: first an atomic
 * rename into the root-only folder `trashDir` (same filesystem), then removeTreeNoFollow inside it. `trashDir` is
 * judged root's own (0700) on a descriptor (`held`, when the caller already opened and judged it, else opened here)
 * and both the rename and the delete go through that descriptor: an account that may write beside it can rename it
 * away and put a folder of its own by its name, but never receive the victim. Missing `victim` is fine (a resumed
 * clean-up). Returns the path it was moved to (already deleted).
 */
export function discardInto(
  trashDir: string,
  victim: string,
  name: string,
  held?: number,
  expect?: { dev: string; ino: string },
): string {
  const fd = held ?? openPrivateDir(ensureFolder(trashDir));
  try {
    const into = LINUX_FD ? procFdPath(fd, name) : path.join(trashDir, name);
    const other = (p: string): boolean => isOtherFolder(p, expect);
    const refuse = (): RecoveryError => notTheFolder(victim, 'the folder the restore set aside');
    if (lstatSync(victim, { throwIfNoEntry: false }) !== undefined) {
      if (other(victim)) throw refuse();
      if (lstatSync(into, { throwIfNoEntry: false }) !== undefined) removeTreeNoFollow(into);
      renameSync(victim, into);
    }
    if (other(into)) {
      // Swapped between the look and the rename: put back beside where it was found (a new name: the old one may be
      // taken again by now), never deleted.
      renameSync(into, `${victim}.not-deleted-${randomBytes(4).toString('hex')}`);
      throw refuse();
    }
    removeTreeNoFollow(into);
  } finally {
    if (held === undefined) closeSync(fd);
  }
  return path.join(trashDir, name);
}

/** Whether `p` (not followed) is something other than the folder `expect` names; false without `expect` or entry. */
export function isOtherFolder(p: string, expect?: { dev: string; ino: string }): boolean {
  if (expect === undefined) return false;
  const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
  return st !== undefined && (String(st.dev) !== expect.dev || String(st.ino) !== expect.ino);
}

/** The refusal when `victim` is no longer `what` (another folder was put by its name): nothing is deleted. */
export function notTheFolder(victim: string, what: string): RecoveryError {
  return new RecoveryError(
    'UNSAFE_PATH',
    `${victim} is no longer ${what} (another folder was put by its name): it was not deleted.`,
    {
      hint: `Something that may write in ${path.dirname(victim)} moved folders there: look at ${victim} and delete it by hand if it is yours to delete.`,
      details: { path: victim },
    },
  );
}

/** `dir` made (0700) when missing; an existing one is left for openPrivateDir to judge. */
export function ensureFolder(dir: string): string {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return dir;
}
