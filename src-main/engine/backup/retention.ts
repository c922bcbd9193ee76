import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MANIFEST_NAME, readBackupSet } from './manifest.js';

/**
 * After a new backup verified: keeps the newest `keep` complete backups of `profileId` in a device folder
 * (all of them when `keep` is null) and deletes older ones, and deletes the debris of interrupted backups of
 * that profile (set folders without manifest.json: never a backup, and now superseded). Sets with a
 * manifest this tool cannot read are foreign and left alone; the set just written is never deleted.
 * Returns the removed folders.
 */
export async function applyRetention(
  deviceDir: string,
  profileId: string,
  keep: number | null,
  current: string,
): Promise<string[]> {
  const names = await fsp.readdir(deviceDir);
  const sets: { dir: string; createdAt: string }[] = [];
  const debris: string[] = [];
  for (const n of names) {
    if (!n.startsWith(`Backup_${profileId}_`)) continue;
    const dir = path.join(deviceDir, n);
    if (path.resolve(dir) === path.resolve(current)) continue;
    const st = await fsp.lstat(dir).catch(() => null);
    if (st === null || !st.isDirectory()) continue;
    const hasManifest = await fsp.lstat(path.join(dir, MANIFEST_NAME)).then(
      () => true,
      () => false,
    );
    if (!hasManifest) {
      debris.push(dir);
      continue;
    }
    try {
      const s = await readBackupSet(dir);
      if (s.manifest.profile.id === profileId) sets.push({ dir, createdAt: s.manifest.createdAt });
    } catch {
      // A manifest this tool cannot read: not ours to delete.
    }
  }
  sets.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.dir.localeCompare(a.dir)));
  const removed: string[] = [];
  for (const dir of debris) {
    await fsp.rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  if (keep === null) return removed;
  // The current set counts as one of the kept.
  for (const s of sets.slice(Math.max(0, keep - 1))) {
    await fsp.rm(s.dir, { recursive: true, force: true });
    removed.push(s.dir);
  }
  return removed;
}
