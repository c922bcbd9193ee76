import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-fs.js';

/**
 * What `mirror` copied onto sticks, kept in the state folder: the SHA-256 of each copy's manifest.json (a set) or
 * of the file itself (a product's own backup file), with the creation time its *source* said. The stick is not
 * trusted: a set planted there can claim any creation time in its own manifest, so the stick's pruning ranks and
 * deletes only copies this record names, by the time recorded here; anything else on the stick is left alone
 * and never counts towards "keep N". The key is the content's hash, so a copy found under another name (or on
 * another stick, or at another mount point) is still recognised, and a planted folder cannot pass for one
 * without holding a byte-identical manifest — which makes it a duplicate of that copy, counted once.
 */
export const MIRROR_RECORD_FILE = 'mirror-copies.json';
/** Entries kept (newest first): bounded, far more than any stick holds. */
const MAX_ENTRIES = 5000;

export interface MirroredCopy {
  /** The source's creation time (its manifest's createdAt; a product file's modification time). */
  createdAt: string;
  /** The set folder's or file's name at the source. */
  name: string;
}

export type MirrorRecord = Record<string, MirroredCopy>;

const HASH = /^[0-9a-f]{64}$/;

export async function readMirrorRecord(stateDir: string): Promise<MirrorRecord> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(path.join(stateDir, MIRROR_RECORD_FILE), 'utf8'));
  } catch {
    return {};
  }
  const out: MirrorRecord = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const e = v as Partial<MirroredCopy> | null;
    if (HASH.test(k) && typeof e?.createdAt === 'string' && typeof e.name === 'string') {
      out[k] = { createdAt: e.createdAt, name: e.name };
    }
  }
  return out;
}

/** Adds copies to the record (written whole, atomically, 0600). */
export async function recordMirrored(stateDir: string, add: MirrorRecord): Promise<MirrorRecord> {
  const all = { ...(await readMirrorRecord(stateDir)), ...add };
  const kept = Object.entries(all)
    .sort(([, a], [, b]) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, MAX_ENTRIES);
  const out = Object.fromEntries(kept);
  await writeFileAtomic(path.join(stateDir, MIRROR_RECORD_FILE), JSON.stringify(out, null, 2) + '\n', 0o600);
  return out;
}
