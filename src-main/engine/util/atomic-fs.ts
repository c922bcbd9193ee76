import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';

export const PARTIAL_SUFFIX = '.partial';

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

/** Writes `data` to `file.partial`, fsyncs it, renames it to `file` and fsyncs the folder. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = file + PARTIAL_SUFFIX;
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await fsp.rename(tmp, file);
  await fsyncDir(path.dirname(file));
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
