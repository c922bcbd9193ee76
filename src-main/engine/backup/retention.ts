import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { SafeDir } from '../util/atomic-fs.js';
import { removeFolderIfStill } from '../util/safe-delete.js';
import { readStickText } from '../util/stick-file.js';
import { MANIFEST_NAME, readBackupSet, type BackupClass } from './manifest.js';
import {
  forgetSets,
  manifestSha256,
  readWrittenSets,
  recordedStarted,
  unvouchedReason,
  type WrittenSet,
} from './written-sets.js';

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
  /** Why this machine's record of the sets it wrote (written-sets.ts) does not vouch for it; absent: it does. */
  unvouched?: string;
  /** SHA-256 of its manifest.json as judged: it is removed only while the folder by its name still has that one. */
  manifestSha256?: string;
}

export interface RetentionRemoval {
  dir: string;
  /** null for the debris of an interrupted backup (no manifest: never a backup). */
  createdAt: string | null;
  class: BackupClass | null;
  /** Why it goes, in plain words. */
  reason: string;
}

export function hasRetention(p: RetentionPolicy): boolean {
  return p.keepManual !== undefined || p.keepAutomatic !== undefined || p.maxAgeAutomaticMs !== undefined;
}

const newestFirst = (a: RetentionCandidate, b: RetentionCandidate) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.dir.localeCompare(a.dir);

/** How far ahead of this machine's clock a set's date may be before it is not believed (clock skew between machines). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A set retention cannot vouch for: kept, never counted, never the reason another set goes. */
export interface RetentionNotCounted {
  dir: string;
  createdAt: string;
  class: BackupClass;
  /** Why it is not counted, in plain words. */
  reason: string;
}

/**
 * Which sets retention may count. A set's `createdAt` is only what its manifest says, and anyone holding the stick can
 * write a manifest (and its SHA256SUMS), with any date, and a set that counted would push a real backup out of the
 * newest N. So only the sets this machine recorded writing count (`unvouched` absent: see retentionCandidates); and
 * even then, a set dated after the one just written (`current`), after this machine's clock (beyond CLOCK_SKEW_MS),
 * or with a date that is not a date does not. Sets not counted are kept, and never cause a removal.
 */
export function vouchedSets(
  sets: RetentionCandidate[],
  opts: { now: Date; current?: string },
): { counted: RetentionCandidate[]; notCounted: RetentionNotCounted[] } {
  const cur =
    opts.current === undefined ? undefined : sets.find((s) => path.resolve(s.dir) === path.resolve(opts.current!));
  const curMs = cur === undefined ? NaN : Date.parse(cur.createdAt);
  const limitMs = opts.now.getTime() + CLOCK_SKEW_MS;
  const counted: RetentionCandidate[] = [];
  const notCounted: RetentionNotCounted[] = [];
  for (const s of sets) {
    const ms = Date.parse(s.createdAt);
    const isCurrent = s === cur;
    const reason = isCurrent
      ? null
      : !Number.isFinite(ms)
        ? 'not counted: its date is not a date'
        : ms > limitMs
          ? 'not counted: dated in the future'
          : s.unvouched !== undefined
            ? s.unvouched
            : Number.isFinite(curMs) && ms > curMs
              ? 'not counted: dated after the backup just written'
              : null;
    if (reason === null) counted.push(s);
    else notCounted.push({ ...s, reason });
  }
  return { counted, notCounted };
}

/**
 * The pure rule. `sets` are complete (verified) backups of one device and profile. Only the sets vouchedSets
 * counts take part; the others are kept. Never removed: the set just written (`current`) and the newest counted
 * one, whatever the policy says.
 */
export function planRetention(
  sets: RetentionCandidate[],
  policy: RetentionPolicy,
  opts: { now: Date; current?: string },
): RetentionRemoval[] {
  const sorted = vouchedSets(sets, opts).counted.sort(newestFirst);
  const protectedDirs = new Set<string>();
  if (sorted[0]) protectedDirs.add(path.resolve(sorted[0].dir));
  if (opts.current !== undefined) protectedDirs.add(path.resolve(opts.current));
  const out: (RetentionCandidate & { reason: string })[] = [];
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
  return out.filter((r) => !protectedDirs.has(path.resolve(r.dir))).sort(newestFirst);
}

/**
 * The backups of `profileId` in a device folder: complete ones with their class (a manifest without one is
 * manual), each marked `unvouched` unless `records` (this machine's, written-sets.ts) holds it as verified with the
 * hash its manifest.json has now; and the debris of interrupted backups (set folders without manifest.json that
 * `records` holds as started, and that hold only what a backup writes, see isOurUnfinishedSet). Sets with a manifest
 * this tool cannot read are foreign and left out; so is `current`'s debris check (it has its manifest).
 */
export async function retentionCandidates(
  deviceDir: string,
  profileId: string,
  records: WrittenSet[],
  held?: SafeDir,
): Promise<{ sets: RetentionCandidate[]; debris: string[] }> {
  // Read through the device folder held open when given (an account that may write the stick can swap its path).
  const at = (n: string): string => (held === undefined ? path.join(deviceDir, n) : held.at(n));
  const names = await fsp.readdir(held === undefined ? deviceDir : held.self);
  const sets: RetentionCandidate[] = [];
  const debris: string[] = [];
  for (const n of names) {
    if (!n.startsWith(`Backup_${profileId}_`)) continue;
    const dir = path.join(deviceDir, n);
    const st = await fsp.lstat(at(n)).catch(() => null);
    if (st === null || !st.isDirectory()) continue;
    const hasManifest = await fsp.lstat(path.join(at(n), MANIFEST_NAME)).then(
      () => true,
      () => false,
    );
    if (!hasManifest) {
      // Only a folder this tool wrote: a hand-placed one (a copy, notes, a set whose manifest.json was lost) is
      // not debris, whatever it is called.
      // And only one this machine recorded starting: a folder named like ours holding a backup's files (a set
      // whose manifest.json was lost, a copy) may be someone's only copy of their data.
      if (recordedStarted(records, dir, profileId) && (await isOurUnfinishedSet(at(n), n, profileId))) debris.push(dir);
      continue;
    }
    try {
      const s = await readBackupSet(at(n));
      if (s.manifest.profile.id === profileId) {
        const sha256 = manifestSha256(s.text);
        const unvouched = unvouchedReason(records, dir, profileId, sha256);
        sets.push({
          dir,
          createdAt: s.manifest.createdAt,
          class: s.manifest.class ?? 'manual',
          manifestSha256: sha256,
          ...(unvouched === null ? {} : { unvouched }),
        });
      }
    } catch {
      // A manifest this tool cannot read: not ours to delete.
    }
  }
  return { sets, debris };
}

/** What a backup writes at the top of its set folder (manifest.json last), and the temp names it writes them under. */
const SET_ENTRY =
  /^(?:data\.tar\.gz(?:\.age)?(?:\.\d{3,})?|SHA256SUMS|RESTORE\.txt|\.?(?:data\.tar\.gz(?:\.age)?(?:\.\d{3,})?|SHA256SUMS|RESTORE\.txt|manifest\.json)(?:\.[0-9a-f]{16})?\.partial)$/;

/**
 * The debris of an interrupted backup of this tool: named as run-backup names its sets
 * (`Backup_<profile>_<YYYYMMDD_HHMM>Z`, `_2`, `_3` … for a second one in the same minute), and holding nothing but
 * what a backup writes there: its data parts, SHA256SUMS, RESTORE.txt, the product's artifacts folder, and their
 * `.partial` temp names. Anything else in it (or a link in its place) means a person put it there.
 */
async function isOurUnfinishedSet(dir: string, name: string, profileId: string): Promise<boolean> {
  const stamp = name.slice(`Backup_${profileId}_`.length);
  if (!/^\d{8}_\d{4}Z(?:_\d{1,4})?$/.test(stamp)) return false;
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.every((e) => (e.name === 'artifacts' ? e.isDirectory() : e.isFile() && SET_ENTRY.test(e.name)));
}

/**
 * After a new backup (`current`) verified: deletes the debris of interrupted backups of the profile that this
 * machine recorded starting (never a backup, and now superseded) and applies the policy by class to the sets this
 * machine recorded writing (its state folder `stateDir`, written-sets.ts). Returns what it removed and why, and
 * the sets it kept without counting them (see vouchedSets) and why. The records of what it removed are dropped.
 */
export async function applyRetention(
  deviceDir: string,
  profileId: string,
  policy: RetentionPolicy,
  current: string,
  opts: { stateDir: string; now?: Date; deviceFolder?: SafeDir },
): Promise<{ removed: RetentionRemoval[]; notCounted: RetentionNotCounted[] }> {
  const now = opts.now ?? new Date();
  const held = opts.deviceFolder ?? (await SafeDir.open(deviceDir));
  try {
    return await applyHeld(deviceDir, held, profileId, policy, current, now, opts.stateDir);
  } finally {
    if (opts.deviceFolder === undefined) await held.close();
  }
}

async function applyHeld(
  deviceDir: string,
  held: SafeDir,
  profileId: string,
  policy: RetentionPolicy,
  current: string,
  now: Date,
  stateDir: string,
): Promise<{ removed: RetentionRemoval[]; notCounted: RetentionNotCounted[] }> {
  const { sets, debris } = await retentionCandidates(deviceDir, profileId, await readWrittenSets(stateDir), held);
  const { notCounted } = vouchedSets(sets, { now, current });
  const removed: RetentionRemoval[] = [];
  for (const dir of debris) {
    if (path.resolve(dir) === path.resolve(current)) continue;
    const n = path.basename(dir);
    if (!(await removeFolderIfStill(held.at(n), dir, (self) => isOurUnfinishedSet(self, n, profileId)))) continue;
    removed.push({ dir, createdAt: null, class: null, reason: 'unfinished (interrupted) backup, superseded' });
  }
  for (const r of planRetention(sets, policy, { now, current })) {
    const judged = sets.find((x) => x.dir === r.dir)?.manifestSha256;
    const sameManifest = async (self: string): Promise<boolean> => {
      const s = await readBackupSet(`${self}/.`).catch(() => null);
      return s !== null && judged !== undefined && manifestSha256(s.text) === judged;
    };
    if (!(await removeFolderIfStill(held.at(path.basename(r.dir)), r.dir, sameManifest))) continue;
    removed.push({ dir: r.dir, createdAt: r.createdAt, class: r.class, reason: r.reason });
  }
  // A record left behind (the state folder not writable now) only stays until the file's cap: never fatal here.
  await forgetSets(
    stateDir,
    removed.map((r) => r.dir),
    profileId,
  ).catch(() => undefined);
  await removeReportsOf(
    held,
    removed.map((r) => path.basename(r.dir)),
  );
  return { removed, notCounted };
}

/**
 * Removes the backup reports (report-backup-<stamp>.json/.html/.pdf beside the sets) of the sets just removed, so
 * the stick never shows a report for a backup that is gone. A report is matched by the set folder it names; one
 * that cannot be read, or that names another set, is left alone.
 */
async function removeReportsOf(deviceDir: SafeDir, removedSets: string[]): Promise<void> {
  if (removedSets.length === 0) return;
  const gone = new Set(removedSets);
  for (const n of await deviceDir.readdir().catch(() => [] as string[])) {
    const m = /^(report-backup-[\w.-]+)\.json$/.exec(n);
    if (m === null) continue;
    try {
      // Opened only as the regular file it is, never through a link at its name (readStickText): an account that may
      // write the device folder can swap the report for a link to a device node or a FIFO at any moment.
      const text = await readStickText(deviceDir.at(n), 4 * 1024 * 1024);
      const j = JSON.parse(text) as { kind?: unknown; backupPath?: unknown };
      if (j.kind !== 'backup' || typeof j.backupPath !== 'string') continue;
      if (!gone.has(path.basename(j.backupPath.replace(/[\\/]+$/, '')))) continue;
      for (const ext of ['.json', '.html', '.pdf']) await fsp.rm(deviceDir.at(m[1] + ext), { force: true });
    } catch {
      // Not a report this tool can read: not ours to delete.
    }
  }
}
