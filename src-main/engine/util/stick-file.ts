import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { openRegularFile, readOpenedCapped, type OpenedRegular } from './given-path.js';

/** No manifest.json or SHA256SUMS of ours comes near this (one line per 1 MiB gzip member at most). */
export const STICK_TEXT_MAX = 64 * 1024 * 1024;

/**
 * A small text file of a backup set on a stick (manifest.json, SHA256SUMS), read without trusting the stick: a
 * link is not followed, a FIFO or a device is neither opened nor waited on (openRegularFile: only a regular file is
 * opened, even if the name is swapped meanwhile), and nothing past `max` bytes is read. Those are BACKUP_CORRUPT (exit 3); a missing file is the fs
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
  // Never opened unless it is a regular file: opening a device node can act (a watchdog starts on open).
  let opened: OpenedRegular;
  try {
    opened = await openRegularFile(file, { noFollow: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw bad('is a link');
    throw e;
  }
  if (opened.fh === null) throw bad('is not a regular file');
  const { fh, st } = opened;
  try {
    if (st.size > max) throw bad(`is ${st.size} bytes, far more than a backup's`);
    const bytes = await readOpenedCapped(fh, st.size);
    if (bytes === null) throw bad('grew while it was read');
    return bytes.toString('utf8');
  } finally {
    await fh.close();
  }
}
