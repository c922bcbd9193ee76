import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readBackupSet, type BackupClass } from './manifest.js';

/**
 * Which backups to keep, by class: manual ones (made by a technician) and automatic ones (made by a schedule)
 * are counted apart, so a nightly schedule never pushes out the backup taken before a risky change.
 */
export interface RetentionPolicy {
  /** Keep the newest N manual backups (absent: keep all). */
  keepManual?: number;
  /** Keep the newest N automatic backups (absent: no count limit). */
  keepAutomatic?: number;
  /** Delete automatic backups older than this (absent: no age limit). */
  maxAgeAutomaticMs?: number;
}

export interface RetentionCandidate {
  dir: string;
  createdAt: string;
  class: BackupClass;
}

export interface RetentionRemoval extends RetentionCandidate {
  /** Why it goes, in plain words. */
  reason: string;
}

export function hasRetention(p: RetentionPolicy): boolean {
  return p.keepManual !== undefined || p.keepAutomatic !== undefined || p.maxAgeAutomaticMs !== undefined;
}

const newestFirst = (a: RetentionCandidate, b: RetentionCandidate) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.dir.localeCompare(a.dir);

/**
 * The pure rule. `sets` are complete (verified) backups of one device and profile. Never removed: the set
 * just written (`current`) and the newest of all, whatever the policy says.
 */
export function planRetention(
  sets: RetentionCandidate[],
  policy: RetentionPolicy,
  opts: { now: Date; current?: string },
): RetentionRemoval[] {
  const sorted = [...sets].sort(newestFirst);
  const protectedDirs = new Set<string>();
  if (sorted[0]) protectedDirs.add(path.resolve(sorted[0].dir));
  if (opts.current !== undefined) protectedDirs.add(path.resolve(opts.current));
  const out: RetentionRemoval[] = [];
  const byClass = (c: BackupClass) => sorted.filter((s) => s.class === c);
  const manual = byClass('manual');
  if (policy.keepManual !== undefined) {
    for (const s of manual.slice(policy.keepManual)) {
      out.push({ ...s, reason: `more than the ${policy.keepManual} newest manual backups` });
    }
  }
  const automatic = byClass('automatic');
  automatic.forEach((s, i) => {
    const ageMs = opts.now.getTime() - Date.parse(s.createdAt);
    if (policy.maxAgeAutomaticMs !== undefined && ageMs > policy.maxAgeAutomaticMs) {
      out.push({
        ...s,
        reason: `automatic backup older than ${Math.floor(policy.maxAgeAutomaticMs / 86_400_000)} days`,
      });
    } else if (policy.keepAutomatic !== undefined && i >= policy.keepAutomatic) {
      out.push({ ...s, reason: `more than the ${policy.keepAutomatic} newest automatic backups` });
    }
  });
  return out.filter((r) => !protectedDirs.has(path.resolve(r.dir))).sort(newestFirst) as RetentionRemoval[];
}

/** Complete backups of `profileId` in a device folder, with their class (a manifest without one is manual). */
export async function retentionCandidates(deviceDir: string, profileId: string): Promise<RetentionCandidate[]> {
  const names = await fsp.readdir(deviceDir);
  const sets: RetentionCandidate[] = [];
  for (const n of names) {
    if (!n.startsWith(`Backup_${profileId}_`)) continue;
    const dir = path.join(deviceDir, n);
    try {
      const s = await readBackupSet(dir);
      if (s.manifest.profile.id === profileId) {
        sets.push({ dir, createdAt: s.manifest.createdAt, class: s.manifest.class ?? 'manual' });
      }
    } catch {
      // Incomplete or foreign: not ours to delete here.
    }
  }
  return sets;
}

/**
 * Applies the policy in a device folder after a new backup (`current`) verified. Returns what it removed and why.
 */
export async function applyRetention(
  deviceDir: string,
  profileId: string,
  policy: RetentionPolicy,
  current: string,
  now: Date = new Date(),
): Promise<RetentionRemoval[]> {
  const plan = planRetention(await retentionCandidates(deviceDir, profileId), policy, { now, current });
  for (const r of plan) await fsp.rm(r.dir, { recursive: true, force: true });
  return plan;
}
