import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { findMount, fuseSubtype, isFuseType, parseMounts, type MountEntry } from './mount-table.js';
import { runTool } from './run-tool.js';

export interface FilesystemInfo {
  mountpoint: string;
  /** Normalised, lower case: ext4, vfat, exfat, ntfs, xfs, tmpfs … ('unknown' when nobody could say). */
  fsType: string;
  device: string;
  isFuse: boolean;
  /** Largest single file the filesystem takes, in bytes; null when it is not a practical limit. */
  maxFileSize: number | null;
  /** Whether files there can carry a POSIX owner and group (chown works and sticks). */
  supportsOwners: boolean;
}

export interface FilesystemOptions {
  /** Mount table to read; tests point this at a recorded copy. */
  mountsFile?: string;
  /** Finds the real filesystem of a `fuseblk` device; defaults to `blkid`. */
  blkid?: (device: string) => Promise<string | null>;
}

const GIB = 1024 ** 3;
/** FAT32 stores sizes in 32 bits. */
export const FAT32_MAX_FILE = 4 * GIB - 1;
/** fusefat (the only FAT32 on kernels without vfat) fails writes at 2 GiB with EPERM, measured here. */
export const FUSEFAT_MAX_FILE = 2 * GIB - 1;

const FAT_TYPES = new Set(['vfat', 'msdos', 'fat', 'fat16', 'fat32', 'umsdos']);
const NO_OWNER_TYPES = new Set([...FAT_TYPES, 'exfat', 'ntfs', 'ntfs3', 'fuseblk', 'hfsplus', 'iso9660', 'udf']);

export function isFatType(fsType: string): boolean {
  return FAT_TYPES.has(fsType.toLowerCase());
}

/** A file name, a later folder, or a target not created yet: the nearest folder that exists decides. */
async function nearestExisting(p: string): Promise<string> {
  let cur = path.resolve(p);
  for (;;) {
    try {
      return await fsp.realpath(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw toRecoveryError(e, p);
      const up = path.dirname(cur);
      if (up === cur) throw toRecoveryError(e, p);
      cur = up;
    }
  }
}

async function blkidType(device: string): Promise<string | null> {
  const r = await runTool('blkid', ['-o', 'value', '-s', 'TYPE', device], 10_000);
  const t = r.stdout.trim();
  return r.code === 0 && t !== '' ? t : null;
}

export function describeFilesystem(
  fsType: string,
  isFuse: boolean,
): Pick<FilesystemInfo, 'maxFileSize' | 'supportsOwners'> {
  const t = fsType.toLowerCase();
  const fat = isFatType(t);
  return {
    maxFileSize: fat ? (isFuse ? FUSEFAT_MAX_FILE : FAT32_MAX_FILE) : null,
    // Through FUSE, chown fails with EPERM and chmod does nothing (measured with exfat-fuse).
    supportsOwners: !isFuse && !NO_OWNER_TYPES.has(t),
  };
}

async function filesystemOfWindows(real: string): Promise<FilesystemInfo> {
  // Best effort: Windows has no mount table. The volume root is the drive letter (or UNC share),
  // and Get-Volume names its filesystem; without PowerShell we say 'unknown' rather than guess.
  const root = path.win32.parse(real).root;
  const letter = /^([A-Za-z]):/.exec(root)?.[1];
  let fsType = 'unknown';
  if (letter !== undefined) {
    const r = await runTool('powershell.exe', [
      '-NoProfile',
      '-NonInteractive',
      '-Command',
      `(Get-Volume -DriveLetter ${letter}).FileSystemType`,
    ]);
    const t = r.stdout.trim().toLowerCase();
    if (r.code === 0 && t !== '') fsType = t === 'fat32' || t === 'fat' ? 'vfat' : t;
  }
  const desc = describeFilesystem(fsType, false);
  // NTFS has owners, but Windows owners are SIDs, not the POSIX names the backup restores.
  return {
    mountpoint: root,
    fsType,
    device: letter !== undefined ? `${letter.toUpperCase()}:` : root,
    isFuse: false,
    ...desc,
  };
}

/** What filesystem holds `p` (which need not exist yet), from the kernel's mount table. */
export async function filesystemOf(p: string, opts: FilesystemOptions = {}): Promise<FilesystemInfo> {
  const real = await nearestExisting(p);
  if (process.platform === 'win32' && opts.mountsFile === undefined) return filesystemOfWindows(real);
  const mountsFile = opts.mountsFile ?? '/proc/self/mounts';
  let text: string;
  try {
    text = await fsp.readFile(mountsFile, 'utf8');
  } catch (e) {
    throw toRecoveryError(e, mountsFile);
  }
  const m = findMount(parseMounts(text), real);
  if (m === undefined) {
    throw new RecoveryError('INTERNAL', `No mount in ${mountsFile} holds ${real}.`);
  }
  const isFuse = isFuseType(m.fsType);
  let fsType = m.fsType.toLowerCase();
  if (isFuse) {
    fsType = fuseSubtype(fsType) ?? (await (opts.blkid ?? blkidType)(m.device))?.toLowerCase() ?? fsType;
  }
  return { mountpoint: m.mountpoint, fsType, device: m.device, isFuse, ...describeFilesystem(fsType, isFuse) };
}

/** Free space for an unprivileged writer (what `df` shows as Avail) and the filesystem's size. */
export async function freeSpace(p: string): Promise<{ freeBytes: number; totalBytes: number }> {
  const real = await nearestExisting(p);
  try {
    const s = await fsp.statfs(real);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch (e) {
    throw toRecoveryError(e, real);
  }
}

/** Where automounters put sticks and disks (udisks: /media/<user>/<label>, /run/media/<user>/<label>). */
const AUTOMOUNT_ROOTS = ['/media', '/run/media'];

/**
 * Why `to` (a folder a backup is about to write into, which need not exist yet) is not on the disk it names, or
 * null. When the stick or backup disk is not mounted, its mount folder is an ordinary folder of the system disk (an
 * /etc/fstab mount point stays there empty; udisks' /media/<user>/<label> is gone and `mkdir -p` would make it
 * again): a backup "to the stick" then went to the system disk, verified, recorded as the last backup, and hidden
 * under the disk once it is mounted again. Linux only.
 * - `to` lies under a mount point /etc/fstab lists that is not mounted now;
 * - `to` lies under /media or /run/media, but on the filesystem that holds that folder itself (no stick there).
 */
export async function unmountedMedium(
  to: string,
  opts: { fstabFile?: string; mountsFile?: string } = {},
): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  const abs = path.resolve(to);
  let mounts: MountEntry[];
  try {
    mounts = parseMounts(await fsp.readFile(opts.mountsFile ?? '/proc/self/mounts', 'utf8'));
  } catch {
    return null; // no mount table to judge by: as before
  }
  const real = await nearestExisting(abs);
  const holder = findMount(mounts, real);
  const fstabText = await fsp.readFile(opts.fstabFile ?? '/etc/fstab', 'utf8').catch(() => '');
  const fstab = parseMounts(
    fstabText
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n'),
  ).filter((e) => e.mountpoint.startsWith('/') && e.mountpoint !== '/');
  const listed = findMount(fstab, abs);
  if (listed !== undefined) {
    const where = await fsp.realpath(listed.mountpoint).catch(() => listed.mountpoint);
    // What holds the folder must be that mount or one below it (a disk mounted inside it), not the disk above it.
    const at = holder?.mountpoint ?? '/';
    if (at !== where && !at.startsWith(where + '/')) {
      return `${listed.mountpoint} is a mount point in /etc/fstab (${listed.device}), but nothing is mounted there: ${abs} would be on the disk that holds ${path.dirname(listed.mountpoint)}`;
    }
  }
  for (const root of AUTOMOUNT_ROOTS) {
    if (abs !== root && !abs.startsWith(root + '/')) continue;
    const inside = holder !== undefined && (holder.mountpoint === root || holder.mountpoint.startsWith(root + '/'));
    if (!inside || holder.mountpoint === root) {
      return `no stick or disk is mounted at ${abs} or above it under ${root}: it would be on ${holder?.mountpoint === '/' || holder === undefined ? 'the system disk' : `the filesystem mounted at ${holder.mountpoint}`}`;
    }
  }
  return null;
}

/** unmountedMedium as a refusal (MEDIUM_GONE, before anything is written): `what` is "backup" or "mirror". */
export async function refuseUnmountedMedium(to: string, what: string): Promise<void> {
  const why = await unmountedMedium(to);
  if (why === null) return;
  throw new RecoveryError('MEDIUM_GONE', `The stick or backup disk is not mounted: ${why}.`, {
    hint: `Plug in the stick or disk and mount it (or give the folder it is mounted at), then start the ${what} again. Nothing was changed.`,
    details: { to },
  });
}

/**
 * Whether the medium at `p` is still there: the path is readable (a real directory read, since
 * stat alone can answer from cache after an unplug) and still sits on its own mount, not on the
 * system disk's empty mount folder left behind when the stick went away.
 */
export async function checkMediumPresent(
  p: string,
  opts: { expectedMountpoint?: string; mountsFile?: string } = {},
): Promise<boolean> {
  let real: string;
  try {
    real = await fsp.realpath(p);
    const st = await fsp.stat(real);
    if (st.isDirectory()) await fsp.readdir(real);
    else await (await fsp.open(real, 'r')).close();
  } catch {
    return false;
  }
  if (process.platform === 'win32' && opts.mountsFile === undefined) return true;
  try {
    const text = await fsp.readFile(opts.mountsFile ?? '/proc/self/mounts', 'utf8');
    const m = findMount(parseMounts(text), real);
    if (m === undefined) return false;
    if (opts.expectedMountpoint !== undefined) return m.mountpoint === path.resolve(opts.expectedMountpoint);
    return m.mountpoint !== '/';
  } catch {
    return false;
  }
}
