import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BackupClass } from '../backup/manifest.js';
import { writeFileAtomic } from '../util/atomic-fs.js';

/**
 * The last verified backup of this device, per profile, kept in the state folder so `status` and the wizard's
 * start screen can say how old it is and where it is without a stick plugged in.
 */
export interface BackupRecord {
  profileId: string;
  deviceId: string;
  setDir: string;
  /** Where the backup was written to (--to). */
  to: string;
  createdAt: string;
  class: BackupClass;
  encrypted: boolean;
}

export interface LastBackupView extends BackupRecord {
  ageMs: number;
  /** False when the set is no longer where it was written (stick unplugged, removed). */
  present: boolean;
  /** Older than the threshold: say so loudly. */
  stale: boolean;
  thresholdMs: number;
}

export const RECORD_FILE = 'last-backups.json';
/** Default warning threshold: a week (a daily schedule that failed a whole week is news). */
export const DEFAULT_STALE_MS = 7 * 86_400_000;

async function readAll(stateDir: string): Promise<Record<string, BackupRecord>> {
  try {
    const raw = JSON.parse(await fsp.readFile(path.join(stateDir, RECORD_FILE), 'utf8')) as unknown;
    return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, BackupRecord>) : {};
  } catch {
    return {};
  }
}

/** Called after a backup verified (manual or scheduled). */
export async function recordVerifiedBackup(stateDir: string, r: BackupRecord): Promise<void> {
  const all = await readAll(stateDir);
  const prev = all[r.profileId];
  // A clock that went backwards must not hide a newer backup.
  if (prev && prev.createdAt > r.createdAt && prev.setDir !== r.setDir) return;
  all[r.profileId] = r;
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(stateDir, RECORD_FILE), JSON.stringify(all, null, 2) + '\n', 0o644);
}

/** Every place this machine's recorded verified backups were written to (`to`), once each. */
export async function backupLocations(stateDir: string): Promise<string[]> {
  const to = Object.values(await readAll(stateDir)).map((r) => r?.to);
  return [...new Set(to.filter((t): t is string => typeof t === 'string' && t !== ''))];
}

/** The newest recorded verified backup (of one profile, or of any), with its age. */
export async function lastBackup(
  stateDir: string,
  opts: { profileId?: string; now?: Date; thresholdMs?: number } = {},
): Promise<LastBackupView | null> {
  const all = Object.values(await readAll(stateDir)).filter(
    (r) => opts.profileId === undefined || r.profileId === opts.profileId,
  );
  const newest = all.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
  if (!newest) return null;
  const now = (opts.now ?? new Date()).getTime();
  const ageMs = Math.max(0, now - Date.parse(newest.createdAt));
  const thresholdMs = opts.thresholdMs ?? DEFAULT_STALE_MS;
  const present = await fsp.stat(path.join(newest.setDir, 'manifest.json')).then(
    () => true,
    () => false,
  );
  return { ...newest, ageMs, present, stale: ageMs > thresholdMs, thresholdMs };
}

/** "3 hours ago", "12 days ago". */
export function describeAge(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} minute${min === 1 ? '' : 's'} ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'} ago`;
  return `${Math.floor(h / 24)} days ago`;
}
