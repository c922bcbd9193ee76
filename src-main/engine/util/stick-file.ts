import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';

/** No manifest.json or SHA256SUMS of ours comes near this (one line per 1 MiB gzip member at most). */
export const STICK_TEXT_MAX = 64 * 1024 * 1024;

/**
 * A small text file of a backup set on a stick (manifest.json, SHA256SUMS), read without trusting the stick: a
 * link is not followed (O_NOFOLLOW), a FIFO or device is not opened (lstat first) nor waited on (O_NONBLOCK, then
 * it must be a regular file), and nothing past `max` bytes is read. Those are BACKUP_CORRUPT (exit 3); a missing file is the fs
 * error (ENOENT) as before, for the caller to explain.
 */
export async function readStickText(file: string, max = STICK_TEXT_MAX): Promise<string> {
  const bad = (why: string): RecoveryError =>
    new RecoveryError(
      'BACKUP_CORRUPT',
      `${path.basename(file)} in ${path.dirname(file)} ${why}: it is not a backup file.`,
      {
        hint: 'This stick was changed by something other than this tool. Use another copy of the backup.',
        details: { file },
      },
    );
  // Judged before it is opened: opening a device node can act (a watchdog starts on open). The fstat below still
  // checks what was opened.
  const pre = await fsp.lstat(file).catch(() => null);
  if (pre?.isSymbolicLink()) throw bad('is a link');
  if (pre !== null && !pre.isFile()) throw bad('is not a regular file');
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw bad('is a link');
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw bad('is not a regular file');
    if (st.size > max) throw bad(`is ${st.size} bytes, far more than a backup's`);
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) throw bad('grew while it was read');
    }
    return buf.toString('utf8', 0, n);
  } finally {
    await fh.close();
  }
}
