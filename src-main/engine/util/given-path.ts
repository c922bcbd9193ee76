import {
  closeSync,
  constants as fsc,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  promises as fsp,
  readSync,
  statSync,
  type Stats,
} from 'node:fs';
import { constants as osc } from 'node:os';
import { RecoveryError } from '../errors.js';
import { procFdPath } from './atomic-fs.js';

/**
 * Paths the technician names on the command line or in the wizard (a backup folder, a stick, a passphrase file)
 * can name anything: a FIFO, /dev/zero, a terminal. Opening a FIFO waits for a writer forever and reading a device
 * never ends, so such paths are classified by `stat` (which opens nothing) or opened O_NONBLOCK and judged by
 * `fstat` on the descriptor, and anything that is not what was asked for is bad input (exit 2) that changes nothing.
 */
export function fileKind(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link'; // from lstat
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a folder';
  if (st.isFile()) return 'a regular file';
  return 'a special file';
}

/** What the technician can give instead of a stick path that is a pipe, a device or a file. */
export const STICK_HINT = "Give the stick's mount point (e.g. /media/usb) or a folder on it.";

const isSpecial = (st: Stats): boolean => !st.isDirectory() && !st.isFile();

/**
 * Refuses (BAD_INPUT) a path that exists and is neither a folder nor a regular file (nor a regular file either,
 * with `folderOnly`: a place to write into), saying what it is: "/dev/zero is not a backup folder: it is a
 * character device". A missing path is left to the caller.
 */
export async function refuseSpecialPath(
  p: string,
  role: string,
  hint: string,
  opts: { folderOnly?: boolean } = {},
): Promise<void> {
  const st = await fsp.stat(p).catch(() => null);
  if (st === null || !(isSpecial(st) || (opts.folderOnly === true && st.isFile()))) return;
  throw new RecoveryError('BAD_INPUT', `${p} is not ${role}: it is ${fileKind(st)}. Nothing was read or changed.`, {
    hint,
    details: { path: p },
  });
}

/**
 * O_PATH (Linux): a descriptor that names an inode without opening it. A device's driver is not called (a watchdog
 * does not start), a FIFO does not wait for a writer; fstat works on it. Node passes the raw flag to open(2).
 */
const O_PATH = 0o10000000;
let reopenable: boolean | undefined;
/** Linux with /proc: a regular file can be judged on an O_PATH descriptor and then reopened through it. */
const canReopen = (): boolean => (reopenable ??= process.platform === 'linux' && existsSync('/proc/self/fd'));

/** What open(2) says of a trailing link with O_NOFOLLOW; O_PATH|O_NOFOLLOW opens the link itself instead. */
function linkRefused(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ELOOP: too many symbolic links encountered, open '${file}'`), {
    code: 'ELOOP',
    errno: -osc.errno.ELOOP,
    syscall: 'open',
    path: file,
  });
}

function notSameFile(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ESTALE: ${file} changed while it was opened`), { code: 'ESTALE', path: file });
}

/** A regular file opened for reading (`fh` and its fstat), or `fh` null and what the name was instead. */
export type OpenedRegular = { fh: fsp.FileHandle; st: Stats } | { fh: null; st: Stats };

/**
 * Opens `file` for reading only if it is a regular file, without opening anything else on the way: a device node
 * (or a link to one) is never opened, a FIFO never waited on, even when a less-privileged account swaps the name
 * for a link to a device at any moment. On Linux the name is resolved once, with O_PATH (nothing is opened), the
 * inode is judged by fstat, and only a regular file is reopened for reading through /proc/self/fd/<n> (the same
 * inode, whatever the name points at by then; checked by dev/ino). Elsewhere (Windows; Linux without /proc) the
 * name is judged by lstat/stat and then opened O_NONBLOCK and judged again by fstat, which leaves a window in
 * which a swapped-in device node is opened (not read).
 * With `noFollow` a trailing link is refused with ELOOP, as open(2) with O_NOFOLLOW does; other errors of open(2)
 * (ENOENT, EACCES) are thrown as they are.
 */
export async function openRegularFile(file: string, o: { noFollow?: boolean } = {}): Promise<OpenedRegular> {
  const nofollow = o.noFollow ? (fsc.O_NOFOLLOW ?? 0) : 0;
  if (!canReopen()) {
    // Judged by stat before it is opened (stat opens nothing), then by fstat on what was opened.
    const pre = await (o.noFollow ? fsp.lstat(file) : fsp.stat(file)).catch(() => null);
    if (pre !== null && !pre.isFile() && !pre.isSymbolicLink()) return { fh: null, st: pre };
    const fh = await fsp.open(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | nofollow);
    const st = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (st.isFile()) return { fh, st };
    await fh.close();
    return { fh: null, st };
  }
  const ref = await fsp.open(file, O_PATH | nofollow);
  try {
    const st = await ref.stat();
    if (st.isSymbolicLink()) throw linkRefused(file);
    if (!st.isFile()) return { fh: null, st };
    // The magic link is the point: it leads to the inode judged above, not to whatever the name means now.
    const fh = await fsp.open(procFdPath(ref.fd), fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      const now = await fh.stat();
      if (now.dev !== st.dev || now.ino !== st.ino) throw notSameFile(file);
      return { fh, st: now };
    } catch (e) {
      await fh.close();
      throw e;
    }
  } finally {
    await ref.close();
  }
}

/** Why openRegularOrRefuse did not open a file: a link, something other than a regular file, or open(2)'s error. */
export type NotOpened = { link: true } | { special: Stats } | { error: NodeJS.ErrnoException };

/**
 * openRegularFile never following a link, for a name in a folder another account may change (a product's work
 * folder): the file as a descriptor, or `refuse`'s error, worded by the caller, for a link, a FIFO or device, or an
 * error of open(2).
 */
export async function openRegularOrRefuse(file: string, refuse: (why: NotOpened) => Error): Promise<fsp.FileHandle> {
  const o = await openRegularFile(file, { noFollow: true }).catch((e: NodeJS.ErrnoException) => {
    throw refuse(e.code === 'ELOOP' ? { link: true } : { error: e });
  });
  if (o.fh === null) throw refuse({ special: o.st });
  return o.fh;
}

/** openRegularFile, synchronously: a descriptor (the caller closes it) or null and what the name was instead. */
export function openRegularFileSync(
  file: string,
  o: { noFollow?: boolean } = {},
): { fd: number; st: Stats } | { fd: null; st: Stats } {
  const nofollow = o.noFollow ? (fsc.O_NOFOLLOW ?? 0) : 0;
  if (!canReopen()) {
    const pre = o.noFollow ? lstatSync(file) : statSync(file);
    if (!pre.isFile() && !pre.isSymbolicLink()) return { fd: null, st: pre };
    const fd = openSync(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | nofollow);
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (st.isFile()) return { fd, st };
    closeSync(fd);
    return { fd: null, st };
  }
  const ref = openSync(file, O_PATH | nofollow);
  try {
    const st = fstatSync(ref);
    if (st.isSymbolicLink()) throw linkRefused(file);
    if (!st.isFile()) return { fd: null, st };
    const fd = openSync(procFdPath(ref), fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      const now = fstatSync(fd);
      if (now.dev !== st.dev || now.ino !== st.ino) throw notSameFile(file);
      return { fd, st: now };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  } finally {
    closeSync(ref);
  }
}

/**
 * The whole of an opened regular file whose fstat said `size` bytes, read through its descriptor: at most `size`
 * and one byte are read, so a file that grows while it is read (a FIFO or device never gets here) is never read
 * without end. The bytes, or null when there were more than `size` (the caller refuses it in its own words).
 */
export async function readOpenedCapped(fh: fsp.FileHandle, size: number): Promise<Buffer | null> {
  const buf = Buffer.alloc(size + 1);
  let n = 0;
  for (let r = 1; r > 0 && n < buf.length; n += r) r = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
  return n > size ? null : buf.subarray(0, n);
}

/** readOpenedCapped, synchronously, on a descriptor. */
export function readOpenedCappedSync(fd: number, size: number): Buffer | null {
  const buf = Buffer.alloc(size + 1);
  let n = 0;
  for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, n);
  return n > size ? null : buf.subarray(0, n);
}

/** What a given file is for, in a message: "the passphrase file". */
export interface GivenFileOptions {
  what: string;
  /** At most this many bytes are read; a larger file is refused. */
  max: number;
  /** Refuse a link (files only root should have written, e.g. a key file). Default: links are followed. */
  noFollow?: boolean;
  /** The error for a file that cannot be opened (default: BAD_INPUT "Cannot read …"). */
  openError?: (e: NodeJS.ErrnoException) => Error;
  /**
   * Judges what was opened (or found instead: a FIFO, a device, a folder) by its fstat, before anything is read
   * and before the checks of its own: an error to refuse it with, or undefined to go on (e.g. owner and mode).
   */
  check?: (st: Stats) => Error | undefined;
}

/**
 * Reads a small file named by an option (passphrase, credentials, profile, ticket fields): opened only if it is a
 * regular file (openRegularFile: not a FIFO, a device, a folder, even one swapped in while it is opened), at most
 * `max` bytes. Anything else is BAD_INPUT (exit 2) naming the file and what it is.
 */
export async function readGivenFile(file: string, o: GivenFileOptions): Promise<Buffer> {
  const notRegular = (st: Stats): RecoveryError =>
    new RecoveryError(
      'BAD_INPUT',
      `${o.what[0]!.toUpperCase()}${o.what.slice(1)} ${file} is not a regular file: it is ${fileKind(st)}. Nothing was read.`,
      { hint: `Give ${o.what} as an ordinary file (not a pipe, device or folder).`, details: { file } },
    );
  // Never opened unless it is a regular file: opening a device node can act (a watchdog starts on open).
  let opened: OpenedRegular;
  try {
    opened = await openRegularFile(file, { noFollow: o.noFollow === true });
  } catch (e) {
    if (o.openError) throw o.openError(e as NodeJS.ErrnoException);
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ELOOP' && o.noFollow
        ? 'it is a link (give the file itself)'
        : code === 'ENOENT'
          ? 'there is no such file'
          : (e as Error).message;
    throw new RecoveryError('BAD_INPUT', `Cannot read ${o.what} ${file}: ${why}.`, { details: { file }, cause: e });
  }
  const refused = o.check?.(opened.st);
  if (refused !== undefined) {
    await opened.fh?.close();
    throw refused;
  }
  if (opened.fh === null) throw notRegular(opened.st);
  const { fh, st } = opened;
  try {
    if (st.size > o.max) {
      throw new RecoveryError(
        'BAD_INPUT',
        `${o.what[0]!.toUpperCase()}${o.what.slice(1)} ${file} is ${st.size} bytes; at most ${o.max} are read.`,
        { hint: `Check that ${file} is the right file.`, details: { file } },
      );
    }
    const bytes = await readOpenedCapped(fh, st.size);
    if (bytes === null) {
      throw new RecoveryError(
        'BAD_INPUT',
        `${o.what[0]!.toUpperCase()}${o.what.slice(1)} ${file} changed while it was read.`,
        { details: { file } },
      );
    }
    return bytes;
  } finally {
    await fh.close();
  }
}

/**
 * A small regular file read synchronously (where the caller cannot wait: building a client), or null: opened only
 * if it is a regular file (openRegularFileSync: a FIFO does not hold the open, which here would stop the whole
 * process; a device is not opened), at most `max` bytes, anything else (missing, a FIFO, a device, larger) null.
 */
export function readSmallFileSync(file: string, max: number): string | null {
  let fd: number;
  let st: Stats;
  try {
    const opened = openRegularFileSync(file); // not opened unless regular: opening a device node can act
    if (opened.fd === null) return null;
    ({ fd, st } = opened);
  } catch {
    return null;
  }
  try {
    if (st.size > max) return null;
    return readOpenedCappedSync(fd, st.size)?.toString('utf8') ?? null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
