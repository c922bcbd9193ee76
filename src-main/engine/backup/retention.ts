import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readBackupSet } from './manifest.js';

/**
 * Keeps the newest `keep` complete backups of `profileId` in a device folder and deletes older ones.
 * Only complete sets (with a valid manifest) count and are deleted; the set just written is never deleted.
 * Returns the removed folders.
 */
export async function applyRetention(
  deviceDir: string,
  profileId: string,
  keep: number,
  current: string,
): Promise<string[]> {
  const names = await fsp.readdir(deviceDir);
  const sets: { dir: string; createdAt: string }[] = [];
  for (const n of names) {
    if (!n.startsWith(`Backup_${profileId}_`)) continue;
    const dir = path.join(deviceDir, n);
    try {
      const s = await readBackupSet(dir);
      if (s.manifest.profile.id === profileId) sets.push({ dir, createdAt: s.manifest.createdAt });
    } catch {
      // Incomplete or foreign: not ours to delete.
    }
  }
  sets.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.dir.localeCompare(a.dir)));
  const kept = new Set(sets.slice(0, keep).map((s) => s.dir));
  kept.add(path.resolve(current));
  const removed: string[] = [];
  for (const s of sets) {
    if (kept.has(path.resolve(s.dir))) continue;
    await fsp.rm(s.dir, { recursive: true, force: true });
    removed.push(s.dir);
  }
  return removed;
}
