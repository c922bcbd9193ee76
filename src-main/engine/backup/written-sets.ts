import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-fs.js';
import type { BackupClass } from './manifest.js';

/**
 * The backup sets this machine wrote, kept in its state folder (root-only, mode 0600): what retention may count and
 * delete. A stick is not trusted: anyone holding it can write a set (a manifest and its SHA256SUMS) with any date,
 * and a set that counted would push a real backup out of the newest N. So retention counts only sets recorded here
 * as verified whose manifest.json still hashes to the value recorded, deletes only those, and removes as debris of
 * an interrupted backup only a folder recorded here as started. Everything else on the stick is kept and reported.
 *
 * A set is known by its profile, its device folder's name (EdgeRecovery/<device>), its own folder's name and the
 * SHA-256 of its manifest.json, not by its full path: a stick mounts at another place next time. A copy of a set
 * (same names, byte-identical manifest) counts as that set; a set rewritten after it was recorded does not.
 */
export const WRITTEN_SETS_FILE = 'written-sets.json';
/** Records kept, newest first. Far more than any stick holds; dropping one only makes its set kept for good. */
export const MAX_WRITTEN_SETS = 5000;

export interface WrittenSet {
  /** started: the folder was about to be made (its debris may be removed); verified: manifest.json written. */
  state: 'started' | 'verified';
  profileId: string;
  /** The device folder's name (EdgeRecovery/<device>). */
  device: string;
  /** The set folder's name (Backup_<profile>_<stamp>Z…). */
  name: string;
  /** Where it was written, for a person reading this file. */
  setDir: string;
  /** SHA-256 of manifest.json as written (verified only). */
  manifestSha256?: string;
  /** The manifest's createdAt (verified only). */
  createdAt?: string;
  class?: BackupClass;
  recordedAt: string;
}

const HASH = /^[0-9a-f]{64}$/;

/** The hash a set's manifest.json is known by: of the text read and checked (our manifests are UTF-8, so its bytes). */
export function manifestSha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function valid(v: unknown): v is WrittenSet {
  const e = v as Partial<WrittenSet> | null;
  if (typeof e !== 'object' || e === null) return false;
  const names = [e.profileId, e.device, e.name, e.setDir, e.recordedAt].every((x) => typeof x === 'string' && x !== '');
  if (!names) return false;
  if (e.state === 'started') return true;
  return (
    e.state === 'verified' &&
    typeof e.manifestSha256 === 'string' &&
    HASH.test(e.manifestSha256) &&
    typeof e.createdAt === 'string' &&
    (e.class === 'manual' || e.class === 'automatic')
  );
}

/** The records (an absent or unreadable file: none, so nothing is counted or deleted). */
export async function readWrittenSets(stateDir: string): Promise<WrittenSet[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(path.join(stateDir, WRITTEN_SETS_FILE), 'utf8'));
  } catch {
    return [];
  }
  const sets = (raw as { sets?: unknown } | null)?.sets;
  return Array.isArray(sets) ? sets.filter(valid) : [];
}

const sameSet = (a: Pick<WrittenSet, 'profileId' | 'device' | 'name'>, b: typeof a) =>
  a.profileId === b.profileId && a.device === b.device && a.name === b.name;

/** A set folder's identity from its path: .../EdgeRecovery/<device>/<name>. */
function idOf(setDir: string, profileId: string): Pick<WrittenSet, 'profileId' | 'device' | 'name' | 'setDir'> {
  const dir = path.resolve(setDir);
  return { profileId, device: path.basename(path.dirname(dir)), name: path.basename(dir), setDir: dir };
}

/** Reads, changes and writes the records whole (atomically, O_EXCL|O_NOFOLLOW temp and rename, 0600). */
async function update(stateDir: string, change: (all: WrittenSet[]) => WrittenSet[]): Promise<void> {
  const all = change(await readWrittenSets(stateDir))
    .sort((a, b) => b.recordedAt.localeCompare(a.recordedAt))
    .slice(0, MAX_WRITTEN_SETS);
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(
    path.join(stateDir, WRITTEN_SETS_FILE),
    JSON.stringify({ version: 1, sets: all }, null, 2) + '\n',
    0o600,
  );
}

/** Before a backup makes its set folder: from now on, its folder without manifest.json is this machine's debris. */
export async function recordSetStarted(stateDir: string, setDir: string, profileId: string): Promise<void> {
  const id = idOf(setDir, profileId);
  await update(stateDir, (all) => [
    { state: 'started', ...id, recordedAt: new Date().toISOString() },
    ...all.filter((e) => !sameSet(e, id)),
  ]);
}

/** Once a set verified and its manifest.json is written: retention may count it (and delete it) from now on. */
export async function recordSetVerified(
  stateDir: string,
  setDir: string,
  profileId: string,
  manifestText: string,
  m: { createdAt: string; class: BackupClass },
): Promise<void> {
  const id = idOf(setDir, profileId);
  await update(stateDir, (all) => [
    {
      state: 'verified',
      ...id,
      manifestSha256: manifestSha256(manifestText),
      createdAt: m.createdAt,
      class: m.class,
      recordedAt: new Date().toISOString(),
    },
    ...all.filter((e) => !sameSet(e, id)),
  ]);
}

/** Forgets the sets removed (by retention, or an unfinished one after a failure): the file never grows with them. */
export async function forgetSets(stateDir: string, setDirs: string[], profileId: string): Promise<void> {
  if (setDirs.length === 0) return;
  const gone = setDirs.map((d) => idOf(d, profileId));
  await update(stateDir, (all) => all.filter((e) => !gone.some((g) => sameSet(e, g))));
}

/** Drops the "started" record of a set (never a verified one): its folder is then never removed as debris. */
export async function forgetStarted(stateDir: string, setDir: string, profileId: string): Promise<void> {
  const id = idOf(setDir, profileId);
  await update(stateDir, (all) => all.filter((e) => !(e.state === 'started' && sameSet(e, id))));
}

/**
 * Whether the records vouch for the set in `setDir` whose manifest.json hashes to `sha256`: null when they do (a
 * verified record of the same profile, device folder and set name, with that hash), else why not, in plain words.
 */
export function unvouchedReason(
  records: WrittenSet[],
  setDir: string,
  profileId: string,
  sha256: string,
): string | null {
  const id = idOf(setDir, profileId);
  const mine = records.filter((e) => e.state === 'verified' && sameSet(e, id));
  if (mine.some((e) => e.manifestSha256 === sha256)) return null;
  return mine.length > 0
    ? 'not counted: its manifest.json changed after this machine wrote it'
    : 'not counted: this machine has no record of writing it (written elsewhere, by hand, or before this machine kept a record)';
}

/** Whether `setDir` (no manifest.json) is a set folder this machine recorded starting and never saw verify. */
export function recordedStarted(records: WrittenSet[], setDir: string, profileId: string): boolean {
  const id = idOf(setDir, profileId);
  return records.some((e) => e.state === 'started' && sameSet(e, id));
}
