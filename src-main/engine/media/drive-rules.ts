/**
 * Which drives may hold a backup, and why not. Pure: the drive list, the picker and the
 * confirmation all ask these rules, so a drive is never "fine" in one place and hidden in another.
 * There is deliberately no notion of a default drive: the technician always picks one.
 */
import { formatBytes } from '../../shared/size.js';

export interface DriveMountFacts {
  path: string;
  label?: string | null;
  /** Normalised filesystem type (see filesystemOf); null when unknown. */
  fsType?: string | null;
  isFuse?: boolean;
  freeBytes?: number | null;
  totalBytes?: number | null;
}

/** What drivelist says about a drive, plus filesystem facts per mount point. */
export interface DriveFacts {
  device: string;
  description: string;
  size: number | null;
  isRemovable: boolean;
  isUSB: boolean | null;
  isSystem: boolean;
  isVirtual: boolean | null;
  isReadOnly: boolean;
  mountpoints: DriveMountFacts[];
}

export interface DriveRuleOptions {
  /** Free space the backup needs; 0 or absent when not known yet. */
  minFreeBytes?: number;
  /** The running system's root; '/' on Linux. */
  rootPath?: string;
  /** Folders of the tool's own state (journal, staging); a drive holding them is not a backup target. */
  stateDirs?: string[];
  /** Windows system drive letter, e.g. 'C:' (from %SystemDrive%). */
  windowsSystemDrive?: string;
  /** Warn when less than this share of the filesystem stays free after the backup. Default 0.1. */
  nearlyFullRatio?: number;
}

export type DriveStatus = 'ok' | 'warning' | 'hidden';

export type DriveReasonCode =
  | 'SYSTEM_DRIVE'
  | 'HOLDS_TOOL_STATE'
  | 'VIRTUAL'
  | 'NO_MEDIUM'
  | 'NOT_MOUNTED'
  | 'READ_ONLY'
  | 'TOO_SMALL'
  | 'NOT_ENOUGH_SPACE'
  | 'FAT32_SPLIT'
  | 'NO_OWNERS_ON_MEDIUM'
  | 'NEARLY_FULL'
  | 'NOT_REMOVABLE';

export interface DriveReason {
  code: DriveReasonCode;
  message: string;
}

export interface DriveVerdict {
  status: DriveStatus;
  reasons: DriveReason[];
  /** The mount point the space and filesystem reasons refer to (the one with most free space). */
  mountpoint?: string;
}

const HIDING: ReadonlySet<DriveReasonCode> = new Set([
  'SYSTEM_DRIVE',
  'HOLDS_TOOL_STATE',
  'VIRTUAL',
  'NO_MEDIUM',
  'NOT_MOUNTED',
  'READ_ONLY',
  'TOO_SMALL',
  'NOT_ENOUGH_SPACE',
]);

export function isHidingReason(code: DriveReasonCode): boolean {
  return HIDING.has(code);
}

/** Windows paths compare case-insensitively with either slash; POSIX paths exactly. */
function norm(p: string): string {
  return /^[A-Za-z]:/.test(p) || p.includes('\\')
    ? p.replace(/\\/g, '/').replace(/\/+$/, '').toLowerCase() || '/'
    : p.replace(/\/+$/, '') || '/';
}

function isInside(child: string, parent: string): boolean {
  const c = norm(child);
  const p = norm(parent);
  if (p === '/') return c.startsWith('/');
  return c === p || c.startsWith(p + '/');
}

const SYSTEM_MOUNTS = ['/boot', '/boot/efi', '/usr', '/var', '/home'];

function isRealMount(path: string): boolean {
  // lsblk reports swap as "[SWAP]"; it is not a place to write files.
  return path !== '' && !path.startsWith('[');
}

export function evaluateDrive(drive: DriveFacts, opts: DriveRuleOptions = {}): DriveVerdict {
  const reasons: DriveReason[] = [];
  const add = (code: DriveReasonCode, message: string): void => {
    reasons.push({ code, message });
  };
  const root = opts.rootPath ?? '/';
  const mounts = drive.mountpoints.filter((m) => isRealMount(m.path));
  const sysDrive = opts.windowsSystemDrive?.replace(/[\\/]+$/, '');

  // drivelist's isSystem only means "not removable and not virtual": it never looks at what is
  // mounted, so a fixed disk holding / must be recognised from its mount points as well.
  const holdsSystem = mounts.some(
    (m) =>
      norm(m.path) === norm(root) ||
      SYSTEM_MOUNTS.some((s) => norm(m.path) === s) ||
      (sysDrive !== undefined && sysDrive !== '' && isInside(m.path, sysDrive + '/')),
  );
  if (drive.isSystem || holdsSystem) {
    add('SYSTEM_DRIVE', 'This is the system disk: the tool never writes to it.');
  } else if ((opts.stateDirs ?? []).some((d) => mounts.some((m) => isInside(d, m.path)))) {
    add('HOLDS_TOOL_STATE', "This drive holds the tool's own working files: pick a separate USB stick.");
  }
  if (drive.isVirtual === true) {
    add('VIRTUAL', 'This is a virtual disk (for example memory or swap), not a USB stick.');
  } else if (drive.size === null || drive.size === 0) {
    add(
      'NO_MEDIUM',
      'The drive reports no size: there is probably no medium in it. Insert the stick or card and refresh.',
    );
  }
  if (drive.isReadOnly) {
    add('READ_ONLY', 'The drive is read-only: check the write-protect switch on the stick, or use another one.');
  }

  const need = Math.max(0, opts.minFreeBytes ?? 0);
  if (mounts.length === 0) {
    if (reasons.length === 0) {
      add(
        'NOT_MOUNTED',
        'The drive is not mounted. Mount it first (open it in the file manager), then refresh the list.',
      );
    }
    return verdict(reasons, undefined);
  }

  const best = [...mounts].sort((a, b) => (b.freeBytes ?? -1) - (a.freeBytes ?? -1))[0]!;
  if (need > 0 && drive.size !== null && drive.size > 0 && drive.size < need) {
    add(
      'TOO_SMALL',
      `The drive holds ${formatBytes(drive.size)}; the backup needs about ${formatBytes(need)}. Use a larger stick.`,
    );
  } else if (need > 0 && best.freeBytes != null && best.freeBytes < need) {
    add(
      'NOT_ENOUGH_SPACE',
      `Only ${formatBytes(best.freeBytes)} free; the backup needs about ${formatBytes(need)}. Free some space or use another stick.`,
    );
  }

  const fs = (best.fsType ?? '').toLowerCase();
  if (fs === 'vfat' || fs === 'msdos' || fs === 'fat' || fs === 'fat32') {
    add('FAT32_SPLIT', 'The stick is FAT32, which cannot hold files over 4 GB: the backup will be split into parts.');
  }
  if (fs === 'exfat' || fs === 'ntfs' || fs === 'vfat' || fs === 'msdos' || best.isFuse === true) {
    add(
      'NO_OWNERS_ON_MEDIUM',
      'Files on this stick cannot keep their owners. That is fine: the backup archive records owners itself and restores them.',
    );
  }
  if (best.freeBytes != null && best.totalBytes != null && best.totalBytes > 0) {
    const after = best.freeBytes - need;
    const ratio = opts.nearlyFullRatio ?? 0.1;
    if (after >= 0 && after < best.totalBytes * ratio) {
      add('NEARLY_FULL', `The stick will be nearly full after the backup (${formatBytes(after)} left).`);
    }
  }
  if (!drive.isRemovable && drive.isUSB !== true && !reasons.some((r) => isHidingReason(r.code))) {
    add('NOT_REMOVABLE', 'This is a fixed disk, not a removable stick: the backup would stay inside this machine.');
  }
  return verdict(reasons, best.path);
}

function verdict(reasons: DriveReason[], mountpoint: string | undefined): DriveVerdict {
  const status: DriveStatus = reasons.some((r) => isHidingReason(r.code))
    ? 'hidden'
    : reasons.length > 0
      ? 'warning'
      : 'ok';
  const v: DriveVerdict = { status, reasons };
  if (mountpoint !== undefined) v.mountpoint = mountpoint;
  return v;
}
