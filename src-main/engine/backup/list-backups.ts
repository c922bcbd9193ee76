import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BackupGroup, BackupSummary } from '../../shared/contract.js';
import { isRecoveryError, RecoveryError } from '../errors.js';
import { HAND_MADE_NAME } from './hand-made.js';
import { MANIFEST_NAME, readBackupSet } from './manifest.js';
import { refuseSpecialPath } from '../util/given-path.js';
import { SET_HINT } from './manifest.js';

async function isDir(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Hand-made archives: the path itself, or beside the sets (the stick's top, EdgeRecovery/, a device folder). */
async function findHandMade(dir: string): Promise<string[]> {
  if (HAND_MADE_NAME.test(dir) && (await isFile(dir))) return [dir];
  const out: string[] = [];
  for (const d of [dir, path.join(dir, 'EdgeRecovery')]) {
    for (const n of await fsp.readdir(d).catch(() => [] as string[])) {
      if (HAND_MADE_NAME.test(n) && (await isFile(path.join(d, n)))) out.push(path.join(d, n));
    }
  }
  return out;
}

async function summarizeHandMade(file: string): Promise<BackupSummary> {
  const st = await fsp.stat(file);
  const format = /\.zip$/i.test(file) ? 'zip' : /\.tar$/i.test(file) ? 'tar' : 'tar.gz';
  return {
    path: file,
    deviceId: 'hand-made',
    hostname: 'Archives made by hand',
    profileId: '',
    productName: `Archive made by hand (${format}): no recorded checksums, read through before restoring`,
    productVersion: null,
    createdAt: st.mtime.toISOString(),
    sizeBytes: st.size,
    files: 0,
    encrypted: false,
    complete: true,
    // Made by a technician, by hand.
    class: 'manual',
    handMade: true,
  };
}

/** Finds backup set folders from a stick's mount point, its EdgeRecovery folder, a device folder or a set. */
async function findSetDirs(dir: string): Promise<string[]> {
  if (await isFile(dir)) return [];
  if (
    await fsp.stat(path.join(dir, MANIFEST_NAME)).then(
      () => true,
      () => false,
    )
  )
    return [dir];
  if (path.basename(dir).startsWith('Backup_')) return [dir];
  let top = dir;
  if (await isDir(path.join(dir, 'EdgeRecovery'))) top = path.join(dir, 'EdgeRecovery');
  const out: string[] = [];
  const level1 = await fsp.readdir(top).catch(() => [] as string[]);
  for (const n of level1) {
    const p = path.join(top, n);
    if (n.startsWith('Backup_') && (await isDir(p))) out.push(p);
    else if (await isDir(p)) {
      for (const m of await fsp.readdir(p).catch(() => [] as string[])) {
        if (m.startsWith('Backup_') && (await isDir(path.join(p, m)))) out.push(path.join(p, m));
      }
    }
  }
  return out;
}

async function summarize(dir: string): Promise<BackupSummary> {
  try {
    const { manifest: m } = await readBackupSet(dir);
    let missing: string | undefined;
    for (const p of m.archive.parts) {
      const st = await fsp.stat(path.join(dir, p.name)).catch(() => null);
      if (st === null || st.size !== p.size) {
        missing = st === null ? `${p.name} is missing` : `${p.name} has the wrong size`;
        break;
      }
    }
    const s: BackupSummary = {
      path: dir,
      deviceId: m.deviceId,
      hostname: m.hostname,
      profileId: m.profile.id,
      productName: m.profile.productName,
      productVersion: m.productVersion,
      createdAt: m.createdAt,
      sizeBytes: m.archive.parts.reduce((a, p) => a + p.size, 0),
      contentBytes: m.contentBytes,
      files: m.files,
      encrypted: m.archive.encryption !== null,
      class: m.class ?? 'manual',
      complete: missing === undefined,
    };
    if (missing !== undefined) s.problem = missing;
    return s;
  } catch (e) {
    // Incomplete sets are listed (so the technician sees them) but never offered for restore.
    const device = path.basename(path.dirname(dir));
    const m = /^Backup_(.+)_(\d{8}_\d{4}Z)/.exec(path.basename(dir));
    return {
      path: dir,
      deviceId: device,
      hostname: '',
      profileId: m?.[1] ?? 'unknown',
      productName: '',
      productVersion: null,
      createdAt: m
        ? `${m[2]!.slice(0, 4)}-${m[2]!.slice(4, 6)}-${m[2]!.slice(6, 8)}T${m[2]!.slice(9, 11)}:${m[2]!.slice(11, 13)}:00.000Z`
        : '',
      sizeBytes: 0,
      files: 0,
      encrypted: false,
      class: 'manual',
      complete: false,
      problem: isRecoveryError(e) ? e.message : String(e),
    };
  }
}

/** Backups under `dir`, grouped by device id, newest first within each group; this device's group first. */
export async function listBackups(
  dir: string,
  opts: { device?: string; thisDeviceId?: string } = {},
): Promise<BackupGroup[]> {
  await refuseSpecialPath(dir, 'a stick or a folder of backups', SET_HINT);
  // A mistyped path or a stick that is not mounted said "No backups under …" (exit 0), as if the stick were empty.
  if ((await fsp.stat(dir).catch(() => null)) === null) {
    throw new RecoveryError('BACKUP_NOT_FOUND', `There is no folder ${dir}. Nothing was read or changed.`, {
      hint: 'Check the stick is plugged in and mounted, and give its mount point or a folder of backups.',
      details: { path: dir },
    });
  }
  const sets = [
    ...(await Promise.all((await findSetDirs(dir)).map(summarize))),
    ...(await Promise.all((await findHandMade(dir)).map(summarizeHandMade))),
  ];
  const groups = new Map<string, BackupGroup>();
  for (const s of sets) {
    if (opts.device !== undefined && s.deviceId !== opts.device) continue;
    let g = groups.get(s.deviceId);
    if (!g) {
      g = { deviceId: s.deviceId, hostname: s.hostname, thisDevice: s.deviceId === opts.thisDeviceId, backups: [] };
      groups.set(s.deviceId, g);
    }
    if (!g.hostname && s.hostname) g.hostname = s.hostname;
    g.backups.push(s);
  }
  const out = [...groups.values()];
  for (const g of out) g.backups.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  out.sort(
    (a, b) =>
      Number(b.thisDevice) - Number(a.thisDevice) ||
      (b.backups[0]?.createdAt ?? '').localeCompare(a.backups[0]?.createdAt ?? ''),
  );
  return out;
}
