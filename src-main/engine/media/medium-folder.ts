import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { openDirNoFollow, type MediumExpectation, type SafeDir } from '../util/atomic-fs.js';
import { findMount, parseMounts } from './mount-table.js';

/**
 * The mount point that holds `abs` by its path (the longest one that is a prefix of it), or null when that is the
 * system disk's "/" or there is no mount table to read (not Linux).
 */
async function holdingMount(abs: string, mountsFile = '/proc/self/mounts'): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  const text = await fsp.readFile(mountsFile, 'utf8').catch(() => null);
  if (text === null) return null;
  const m = findMount(parseMounts(text), abs);
  return m === undefined || m.mountpoint === '/' ? null : m.mountpoint;
}

/**
 * The folder `to` on a medium (made when missing) and the folders `rel` below it, made or found, returned held open.
 * Below the mount point that holds `to` (a stick, a backup disk), no folder on the way is followed as a link, those
 * of `to`'s own path included: whoever owns the stick's folders could put a link to /etc by the name of one of them,
 * and root made its folders there and wrote the backup into them. Above the mount point, and for a folder on the
 * system disk itself, the path is taken as the technician wrote it (its links followed); `rel` never follows one.
 */
export async function openMediumFolder(
  to: string,
  rel: string[],
  mode = 0o755,
  expect?: MediumExpectation,
  mountsFile?: string,
): Promise<SafeDir> {
  const abs = path.resolve(to);
  const mount = await holdingMount(abs, mountsFile);
  if (mount === null) {
    await fsp.mkdir(abs, { recursive: true });
    return openDirNoFollow(abs, rel, mode, expect);
  }
  const below = path
    .relative(mount, abs)
    .split(path.sep)
    .filter((c) => c !== '');
  // Named as the technician wrote it: the folders' names are the mount point's joined with the path below it.
  return openDirNoFollow(mount, [...below, ...rel], mode, expect);
}
