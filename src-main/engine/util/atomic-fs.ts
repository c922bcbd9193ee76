import { randomBytes } from 'node:crypto';
import { promises as fsp, constants as fsc, existsSync, fstatSync, lstatSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { RecoveryError } from '../errors.js';

export const PARTIAL_SUFFIX = '.partial';

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const O_DIRECTORY = fsc.O_DIRECTORY ?? 0;
/** Opens a folder itself, never a link in its place. */
export const DIR_OPEN_FLAGS = fsc.O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/** Creates a new file, never one that exists and never through a link. */
export const CREATE_EXCL_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW;

/** Linux: a path that names the open folder itself (like openat's dirfd), so a swapped path cannot redirect us. */
const PROC_FD = process.platform === 'linux' && existsSync('/proc/self/fd');

/**
 * What the descriptor `fd` of this process holds, as a path (Linux): `/proc/self/fd/N`, or with `name` the entry
 * `name` inside the folder it holds, `/proc/self/fd/N/name` (as openat(fd, name) would find it, whatever the folder's
 * own path names by then). The one spelling of such paths. Only this process has these descriptors: a child it
 * starts does not (dropPageCache opens the file here and hands dd the descriptor).
 */
export function procFdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

function unsafe(dir: string, why: string): RecoveryError {
  return new RecoveryError('UNSAFE_PATH', `${dir} ${why}: nothing was written there.`, {
    hint: 'Someone may have planted links on this medium or folder. Use another medium or folder, or remove them after checking where they point.',
    details: { path: dir },
  });
}

/**
 * A folder held open by descriptor. `at(name)` is a path to `name` inside exactly that folder (through
 * /proc/self/fd on Linux), whatever happens to the folder's own path afterwards.
 */
export class SafeDir {
  private constructor(
    readonly dir: string,
    readonly fh: FileHandle,
  ) {}

  /** Opens `dir` refusing a link in its place (ELOOP/ENOTDIR on the last component). */
  static async open(dir: string, shownAs = dir): Promise<SafeDir> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(dir, DIR_OPEN_FLAGS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || (code === 'ENOTDIR' && lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink())) {
        throw unsafe(shownAs, 'is a link, not a folder');
      }
      throw e;
    }
    return new SafeDir(path.resolve(shownAs), fh);
  }

  at(name: string): string {
    if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
      throw new RecoveryError('BAD_INPUT', `Not a plain file name: ${JSON.stringify(name)}.`);
    }
    return PROC_FD ? procFdPath(this.fh.fd, name) : path.join(this.dir, name);
  }

  /** The folder itself, as a path that cannot be redirected. */
  get self(): string {
    return PROC_FD ? procFdPath(this.fh.fd) : this.dir;
  }

  readdir(): Promise<string[]> {
    return fsp.readdir(this.self);
  }

  /** What is at `name` in this folder, without following a link; null when nothing. */
  async lstat(name: string): Promise<Stats | null> {
    try {
      return await fsp.lstat(this.at(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async sync(): Promise<void> {
    if (process.platform === 'win32') return;
    await this.fh.sync();
  }

  /**
   * True when the path `p` (its last component not followed) still names this very folder (device and inode): an
   * account that may write the folder above can rename it away and put a link or a folder of its own by its name.
   */
  async isAt(p: string): Promise<boolean> {
    const [a, b] = await Promise.all([this.fh.stat(), fsp.lstat(p).catch(() => null)]);
    return b !== null && b.isDirectory() && a.dev === b.dev && a.ino === b.ino;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/**
 * An error (of a job that read or wrote through `d.self`, e.g. in a worker) that names the held folder by its /proc
 * path, named by the folder's own path again: a technician can act on `/media/usb/…/data.tar.gz`, not on
 * `/proc/self/fd/23/data.tar.gz`. Anything else is returned as it is.
 */
export function namedByPath(e: unknown, d: SafeDir): unknown {
  const held = d.self;
  if (held === d.dir || !(e instanceof RecoveryError)) return e;
  // The folder's number, not a longer one that starts with it (fd 2 in /proc/self/fd/23).
  const at = new RegExp(`${held.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\d)`, 'g');
  const swap = (v: unknown): unknown =>
    typeof v === 'string'
      ? v.replace(at, () => d.dir)
      : Array.isArray(v)
        ? v.map(swap)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]))
          : v;
  return RecoveryError.fromJSON(swap(e.toJSON()) as ReturnType<RecoveryError['toJSON']>);
}

/**
 * A chmod that fails with ENOSYS: the filesystem has no modes at all (fusefat, the FAT32 of kernels without
 * vfat, does not implement chmod). The file keeps the mode it was created with, as far as there is one.
 */
export function ignoreModeless(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOSYS') throw e;
}

/** A synchronous chmod, with ENOSYS (a filesystem without modes) ignored. */
export function chmodUnlessModeless(chmod: () => void): void {
  try {
    chmod();
  } catch (e) {
    ignoreModeless(e);
  }
}

/** A random temp name beside `base`: nobody can plant a link for a name they cannot guess. */
export function tempName(base: string): string {
  return `.${base}.${randomBytes(8).toString('hex')}${PARTIAL_SUFFIX}`;
}

/** fsyncs a directory so a rename inside it survives a power cut. Not possible on Windows: ignored there. */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fsp.open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `file` durably and without following any link: a new file under a random name created
 * with O_CREAT|O_EXCL|O_NOFOLLOW in the folder held open (checked not to be a link), mode set on the
 * descriptor, fsynced, renamed over `file`, folder fsynced. A link planted at `file` itself is refused
 * (a rename would replace it, but a folder with planted links is not one to trust).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const d = await SafeDir.open(path.dirname(file));
  try {
    await writeInDir(d, path.basename(file), data, mode);
  } finally {
    await d.close();
  }
}

/** writeFileAtomic inside a folder already held open. */
export async function writeInDir(d: SafeDir, name: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const there = await d.lstat(name);
  if (there?.isSymbolicLink()) throw unsafe(path.join(d.dir, name), 'is a link planted where the tool writes');
  const tmp = d.at(tempName(name));
  const fh = await fsp.open(tmp, CREATE_EXCL_FLAGS, 0o600);
  try {
    await fh.writeFile(data);
    if (process.platform !== 'win32') await fh.chmod(mode).catch(ignoreModeless);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, d.at(name));
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await d.sync();
}

/**
 * Creates the folder `dir` (and missing parents) without following a link anywhere below `base`: each
 * component is made (mode) or found as a real folder, never a link. `base` itself must be a real folder.
 */
export async function mkdirNoFollow(
  base: string,
  rel: string[],
  mode = 0o755,
  expect?: MediumExpectation,
): Promise<string> {
  const d = await openDirNoFollow(base, rel, mode, expect);
  await d.close();
  return d.dir;
}

/**
 * mkdirNoFollow, returning the last folder held open: whoever may write on the medium can rename or swap the
 * folders on its path afterwards, so what is written there goes through the descriptor (SafeDir.at), not the path.
 */
export async function openDirNoFollow(
  base: string,
  rel: string[],
  mode = 0o755,
  expect?: MediumExpectation,
): Promise<SafeDir> {
  const top = await SafeDir.open(base);
  let held = false;
  try {
    if (expect !== undefined) await checkSameMedium(top, expect);
    if (rel.length === 0) {
      held = true;
      return top;
    }
    return await openDirBelow(top, rel, mode);
  } finally {
    if (!held) await top.close();
  }
}

/**
 * The folder `rel` below the folder held open as `base`, made (mode) or found as a real folder, each component
 * opened through the one above it (never a link, never by the path from the top): returned held open. `base` stays
 * open (the caller's). `mode` null: only found, never made (a missing folder is ENOENT), as for a source to read.
 */
export async function openDirBelow(base: SafeDir, rel: string[], mode: number | null = 0o755): Promise<SafeDir> {
  let cur = base;
  try {
    for (const c of rel) {
      try {
        if (mode !== null) await fsp.mkdir(cur.at(c), { mode });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const next = await SafeDir.open(cur.at(c), path.join(cur.dir, c));
      if (cur !== base) await cur.close();
      cur = next;
    }
    if (cur === base) throw new RecoveryError('INTERNAL', 'openDirBelow needs at least one folder name.');
    return cur;
  } catch (e) {
    if (cur !== base) await cur.close();
    throw e;
  }
}

/**
 * Makes the folder `dir` and the folders on the way to it (mode), as `mkdir -p` would, but each one made or entered
 * through the folder above it held open, and a link on the way followed only when no other account could have put
 * it there: the link is ours (root's), with one name (not a hard link another account made to it), and so is the
 * folder holding it, which no one else may write (or which is sticky, as /tmp: no one else may rename our entries).
 * Any other link (one the product's account put in a folder of its own, to a root-only folder) is refused with
 * UNSAFE_PATH before anything is made where it leads. A system's
 * own links (/var/run → /run) and an administrator's (a data folder linked to another disk) are root's in root's
 * folders: followed. Linux (/proc/self/fd); elsewhere a plain recursive mkdir. (resolveTrusted in
 * util/linked-folder.ts judges a path's links and folders by their names, for checks that make and open nothing;
 * this walk acts on what it judged, through descriptors, so nothing can be swapped between the look and the use.)
 */
export async function makeFoldersTo(dir: string, mode = 0o755): Promise<void> {
  await (await openFolderTo(dir, mode)).close();
}

/**
 * The folder `dir` held open, reached as makeFoldersTo reaches it (each folder through the one above it held open,
 * only links no other account could have put followed), made on the way with `make` (a mode) or, without, refused
 * where a folder is missing (ENOENT). Linux (/proc/self/fd); elsewhere `dir` opened by its path (made with `make`).
 */
export async function openFolderTo(dir: string, make?: number): Promise<SafeDir> {
  const abs = path.resolve(dir);
  if (!PROC_FD) {
    if (make !== undefined) await fsp.mkdir(abs, { recursive: true, mode: make });
    return SafeDir.open(abs);
  }
  const me = process.geteuid?.() ?? 0;
  const parts = (p: string): string[] => p.split('/').filter((c) => c !== '' && c !== '.');
  const todo = parts(abs);
  let cur = await SafeDir.open('/');
  let shown = '/';
  let links = 0;
  try {
    while (todo.length > 0) {
      const c = todo.shift()!;
      const at = c === '..' ? `${cur.self}/..` : cur.at(c);
      let st = await fsp.lstat(at).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' && make !== undefined) return null;
        throw e;
      });
      if (st === null) {
        await fsp.mkdir(at, { mode: make }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        st = await fsp.lstat(at);
      }
      const here = c === '..' ? path.dirname(shown) : path.join(shown, c);
      if (st.isSymbolicLink()) {
        const holder = await cur.fh.stat();
        const holderSafe = holder.uid === me && ((holder.mode & 0o022) === 0 || (holder.mode & 0o1000) !== 0);
        // One name only: a second name for one of root's links (a hard link: /var/run given the name /tmp/product)
        // is another account's doing where fs.protected_hardlinks is 0 (the kernel's default), owned by root all the
        // same, and in a sticky folder no one else could have put a link of root's.
        if (st.uid !== me || !holderSafe || st.nlink !== 1) {
          throw unsafe(
            here,
            `is a link on the way to ${abs} that another account could have put there (the link's owner is uid ${st.uid}, ${st.nlink} name${st.nlink === 1 ? '' : 's'}, the folder holding it uid ${holder.uid}, mode ${(holder.mode & 0o7777).toString(8)}): it is not followed${make !== undefined ? ', so no folder was made where it leads' : ''}`,
          );
        }
        if (++links > 40) throw unsafe(here, `leads through more than 40 links on the way to ${abs}`);
        const to = await fsp.readlink(at);
        todo.unshift(...parts(to));
        if (to.startsWith('/')) {
          await cur.close();
          cur = await SafeDir.open('/');
          shown = '/';
        }
        continue;
      }
      if (!st.isDirectory()) {
        throw new RecoveryError(
          'UNSAFE_PATH',
          `${here} is not a folder, so ${abs} cannot be ${make !== undefined ? 'made' : 'reached'}: nothing was written there.`,
          {
            hint: 'Something else is where a folder is expected: check it, then start again.',
            details: { path: here },
          },
        );
      }
      // Opened without following: a link put by the name since the look above is refused, not followed.
      const next = await SafeDir.open(at, here);
      await cur.close();
      cur = next;
      shown = here;
    }
  } catch (e) {
    await cur.close();
    throw e;
  }
  return cur;
}

/**
 * The filesystem a folder was judged on (host/page-paths.ts: a stick the page chose). Checked on the open folder
 * before the first write: a stick unmounted and replaced by a folder, or a link, since the check is refused.
 */
export interface MediumExpectation {
  dev: number;
  /** How to name the place in the message. */
  shownAs: string;
}

async function checkSameMedium(dir: SafeDir, expect: MediumExpectation): Promise<void> {
  const st = await dir.fh.stat();
  if (st.dev === expect.dev) return;
  throw new RecoveryError(
    'MEDIUM_GONE',
    `${expect.shownAs} is no longer the stick that was chosen (another filesystem is there now), so nothing was written to it.`,
    { hint: 'Plug the stick in again (or choose it again) and start once more.', details: { at: expect.shownAs } },
  );
}

/** Renames `from` to `to` and fsyncs both parent folders. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await fsp.rename(from, to);
  await fsyncDir(path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(from));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Sync variant for workers: true when `fd` and `p` name the same inode (p not followed). */
export function sameFile(fd: number, p: string): boolean {
  const a = fstatSync(fd);
  const b = lstatSync(p, { throwIfNoEntry: false });
  return b !== undefined && a.dev === b.dev && a.ino === b.ino;
}
