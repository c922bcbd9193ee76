import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Drive } from 'drivelist';
import { toRecoveryError } from '../errors.js';
import { evaluateDrive, type DriveReason, type DriveRuleOptions, type DriveStatus } from './drive-rules.js';
import { filesystemOf, freeSpace } from './filesystem.js';

export interface DriveMountView {
  path: string;
  label: string | null;
  /** Normalised filesystem type; 'unknown' when the mount table does not list the path. */
  fsType: string;
  freeBytes: number | null;
  totalBytes: number | null;
}

export interface DriveView {
  device: string;
  description: string;
  sizeBytes: number | null;
  /** What to call the drive on screen: its first volume label, else its description, else its device. */
  label: string;
  mountpoints: DriveMountView[];
  isRemovable: boolean;
  isUSB: boolean;
  status: DriveStatus;
  reasons: DriveReason[];
}

export interface ListDrivesOptions {
  /** Also return hidden drives (with the reasons they are hidden). */
  all?: boolean;
  /** Space the backup needs, for the "not enough space" rule. */
  minFreeBytes?: number;
  /** The tool's own state folders (journal, staging). */
  stateDirs?: string[];
}

/** Swappable parts, so tests can feed recorded drive lists and mount tables. */
export interface ListDrivesDeps {
  list?: () => Promise<Drive[]>;
  mountsFile?: string;
}

async function drivelistList(): Promise<Drive[]> {
  // Imported lazily: drivelist loads a native addon at import time, and only this call needs it.
  const mod = await import('drivelist');
  return mod.list();
}

function samePath(a: string, b: string): boolean {
  if (process.platform === 'win32')
    return path.win32.normalize(a).toLowerCase() === path.win32.normalize(b).toLowerCase();
  return path.resolve(a) === path.resolve(b);
}

/**
 * Free space by statfs: exact, and no subprocess. node-disk-info parses `df -P` by splitting on
 * spaces, which breaks on mount points with spaces ("/media/tech/USB STICK"), so it is only the
 * Windows fallback for volumes statfs cannot answer for (it reads `wmic logicaldisk` there).
 */
async function spaceOf(mountpoint: string): Promise<{ freeBytes: number; totalBytes: number } | null> {
  try {
    return await freeSpace(mountpoint);
  } catch {
    if (process.platform !== 'win32') return null;
    try {
      const { getDiskInfo } = await import('node-disk-info');
      const letter = mountpoint.slice(0, 2).toUpperCase();
      const d = (await getDiskInfo()).find((x) => x.mounted.toUpperCase() === letter);
      return d === undefined ? null : { freeBytes: d.available, totalBytes: d.blocks };
    } catch {
      return null;
    }
  }
}

type MountFacts = DriveMountView & { isFuse: boolean; confirmed: boolean };

async function mountView(
  mp: { path: string; label: string | null },
  mountsFile: string | undefined,
): Promise<MountFacts> {
  const view: MountFacts = {
    path: mp.path,
    label: mp.label ?? null,
    fsType: 'unknown',
    freeBytes: null,
    totalBytes: null,
    isFuse: false,
    confirmed: false,
  };
  if (mp.path.startsWith('[')) return view; // "[SWAP]"
  try {
    const real = await fsp.realpath(mp.path);
    const fsInfo = await filesystemOf(real, mountsFile === undefined ? {} : { mountsFile });
    // If the mount table does not have this path as a mount point, statfs would report the
    // parent filesystem (often the system disk): better to say nothing than something wrong.
    if (!samePath(fsInfo.mountpoint, real)) return view;
    const space = await spaceOf(real);
    return {
      ...view,
      fsType: fsInfo.fsType,
      isFuse: fsInfo.isFuse,
      freeBytes: space?.freeBytes ?? null,
      totalBytes: space?.totalBytes ?? null,
      confirmed: true,
    };
  } catch {
    return view;
  }
}

function ruleOptions(opts: ListDrivesOptions): DriveRuleOptions {
  const r: DriveRuleOptions = {
    rootPath: process.platform === 'win32' ? (process.env.SystemDrive ?? 'C:') + '\\' : '/',
  };
  if (opts.minFreeBytes !== undefined) r.minFreeBytes = opts.minFreeBytes;
  if (opts.stateDirs !== undefined) r.stateDirs = opts.stateDirs;
  if (process.platform === 'win32') r.windowsSystemDrive = process.env.SystemDrive ?? 'C:';
  return r;
}

/**
 * The drives a backup could go to, each with its status and the reasons behind it. Hidden drives
 * (system disk, virtual, unmounted, read-only, too small) come back only with `all`, so the UI
 * can show why a stick is not offered. The order is drivelist's; nothing is pre-selected.
 */
export async function listDrives(opts: ListDrivesOptions = {}, deps: ListDrivesDeps = {}): Promise<DriveView[]> {
  let drives: Drive[];
  try {
    drives = await (deps.list ?? drivelistList)();
  } catch (e) {
    throw toRecoveryError(e, 'listing drives');
  }
  const rules = ruleOptions(opts);
  const views: DriveView[] = [];
  for (const d of drives) {
    const mounts = await Promise.all(d.mountpoints.map((m) => mountView(m, deps.mountsFile)));
    const verdict = evaluateDrive(
      {
        device: d.device,
        description: d.description,
        size: d.size,
        isRemovable: d.isRemovable,
        isUSB: d.isUSB,
        isSystem: d.isSystem,
        isVirtual: d.isVirtual,
        isReadOnly: d.isReadOnly,
        // lsblk can lag behind an unmount; only mounts the kernel's table confirms count as places to write.
        mountpoints: mounts.filter((m) => m.confirmed),
      },
      rules,
    );
    if (verdict.status === 'hidden' && opts.all !== true) continue;
    const label = mounts.find((m) => m.label)?.label ?? (d.description || d.device);
    views.push({
      device: d.device,
      description: d.description,
      sizeBytes: d.size,
      label,
      mountpoints: mounts.map(({ isFuse: _f, confirmed: _c, ...m }) => m),
      isRemovable: d.isRemovable,
      isUSB: d.isUSB === true,
      status: verdict.status,
      reasons: verdict.reasons,
    });
  }
  return views;
}
