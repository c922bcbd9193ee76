import {
  closeSync,
  constants as fsc,
  fstatSync,
  openSync,
  promises as fsp,
  readSync,
  statSync,
  type Stats,
} from 'node:fs';
import { RecoveryError } from '../errors.js';

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

/** What a given file is for, in a message: "the passphrase file". */
export interface GivenFileOptions {
  what: string;
  /** At most this many bytes are read; a larger file is refused. */
  max: number;
  /** Refuse a link (files only root should have written, e.g. a key file). Default: links are followed. */
  noFollow?: boolean;
  /** The error for a file that cannot be opened (default: BAD_INPUT "Cannot read …"). */
  openError?: (e: NodeJS.ErrnoException) => Error;
}

/**
 * Reads a small file named by an option (passphrase, credentials, profile, ticket fields): opened O_NONBLOCK (a
 * FIFO does not hold the open), judged by fstat on that descriptor (only a regular file is read: not a FIFO, a
 * device, a folder), at most `max` bytes. Anything else is BAD_INPUT (exit 2) naming the file and what it is.
 */
export async function readGivenFile(file: string, o: GivenFileOptions): Promise<Buffer> {
  const flags = fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | (o.noFollow ? (fsc.O_NOFOLLOW ?? 0) : 0);
  const notRegular = (st: Stats): RecoveryError =>
    new RecoveryError(
      'BAD_INPUT',
      `${o.what[0]!.toUpperCase()}${o.what.slice(1)} ${file} is not a regular file: it is ${fileKind(st)}. Nothing was read.`,
      { hint: `Give ${o.what} as an ordinary file (not a pipe, device or folder).`, details: { file } },
    );
  // Judged by stat before it is opened (stat opens nothing): opening a device node can act (a watchdog starts on
  // open). The fstat on the descriptor below still checks what was opened.
  const pre = await (o.noFollow ? fsp.lstat(file) : fsp.stat(file)).catch(() => null);
  if (pre !== null && !pre.isFile() && !pre.isSymbolicLink()) throw notRegular(pre);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, flags);
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
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(st);
    if (st.size > o.max) {
      throw new RecoveryError(
        'BAD_INPUT',
        `${o.what[0]!.toUpperCase()}${o.what.slice(1)} ${file} is ${st.size} bytes; at most ${o.max} are read.`,
        { hint: `Check that ${file} is the right file.`, details: { file } },
      );
    }
    // Read to the cap + 1 whatever fstat said: a file that grows while it is read is refused too.
    const buf = Buffer.alloc(o.max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > o.max) {
        throw new RecoveryError('BAD_INPUT', `${o.what} ${file} is larger than ${o.max} bytes.`, {
          details: { file },
        });
      }
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/**
 * A small regular file read synchronously (where the caller cannot wait: building a client), or null: opened
 * O_NONBLOCK (a FIFO does not hold the open, which here would stop the whole process), fstat on the descriptor,
 * at most `max` bytes, anything else (missing, a FIFO, a device, larger) null.
 */
export function readSmallFileSync(file: string, max: number): string | null {
  let fd: number;
  try {
    if (!statSync(file).isFile()) return null; // not opened: opening a device node can act

    fd = openSync(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, n);
    return n > st.size ? null : buf.toString('utf8', 0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
