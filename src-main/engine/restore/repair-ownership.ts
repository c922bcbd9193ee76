import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { ProgressMeter, type Progress, type ProgressSink } from '../progress.js';
import type { Ownership } from '../profiles/schema.js';
import {
  clearSystemUsersCache,
  gidForGroup,
  groupNameForGid,
  uidForUser,
  userNameForUid,
} from '../util/system-users.js';
import { runWorkerJob } from '../util/worker.js';
import type { StagedOwner } from '../archive/types.js';
import { crashPoint } from './crash-point.js';
import { compilePolicy, type CompiledPolicy } from './ownership-policy.js';

export interface OwnerIds {
  uid: number;
  gid: number;
}

/** The policy's owner as local ids, looked up by name: a rebuilt machine may number them differently. */
export function ownerIds(o: Ownership): OwnerIds {
  clearSystemUsersCache();
  const uid = uidForUser(o.user);
  const gid = gidForGroup(o.group);
  const missing = [
    uid === undefined ? `user "${o.user}"` : null,
    gid === undefined ? `group "${o.group}"` : null,
  ].filter((x): x is string => x !== null);
  if (uid === undefined || gid === undefined) {
    throw new RecoveryError(
      'USER_MISSING',
      `The ${missing.join(' and ')} that must own the restored folders do not exist on this machine.`,
      {
        hint: `Install the product first (it creates them), or create them: useradd --system ${o.user}. Nothing was changed.`,
        details: { user: o.user, group: o.group },
      },
    );
  }
  return { uid, gid };
}

export interface RepairTarget {
  id: string;
  path: string;
}

export interface Mismatch {
  path: string;
  problem: string;
}

function describeOwner(uid: number, gid: number): string {
  return `${userNameForUid(uid) ?? uid}:${groupNameForGid(gid) ?? gid}`;
}

/**
 * lstats every path and lists those that do not match the policy (owner by name, mode by rule). It only
 * reads: owners and modes are set on each descriptor at extraction, in root-only staging (see extract.ts).
 * The walk runs on worker threads with synchronous calls (`checkOwnershipJob`), no promise per entry (500,000
 * awaited lstats on the main thread took 10 s and more). With more than one core, two workers share it: each
 * lists every folder (one readdir per folder) and lstats every other entry, so they split the lstats whatever
 * the shape of the tree.
 */
export async function checkOwnership(
  targets: RepairTarget[],
  o: Ownership,
  onProgress: ProgressSink,
  signal?: AbortSignal,
): Promise<{ checked: number; mismatches: Mismatch[] }> {
  const parts = Math.min(2, os.availableParallelism());
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort);
  const latest: Progress[] = [];
  const report = (k: number, p: Progress): void => {
    latest[k] = p;
    const all = latest.filter((x): x is Progress => x !== undefined);
    onProgress({
      ...p,
      files: all.reduce((a, x) => a + x.files, 0),
      elapsedMs: Math.max(...all.map((x) => x.elapsedMs)),
    });
  };
  try {
    const results = await Promise.all(
      Array.from({ length: parts }, (_, part) =>
        runWorkerJob<unknown, { checked: number; mismatches: Mismatch[] }>(
          'owners.check',
          { targets, o, part, parts },
          { onProgress: (p) => report(part, p), signal: stop.signal },
        ).catch((e: unknown) => {
          stop.abort(); // the other part stops too
          throw e;
        }),
      ),
    );
    const mismatches = results
      .flatMap((r) => r.mismatches)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { checked: results.reduce((a, r) => a + r.checked, 0), mismatches };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * What is wrong with one path against the policy (owner by id, mode by rule for files and folders, no other
 * kinds), appended to `out`. `rel` is the path from the item (`<item id>/…`), as the policy's globs see it.
 */
export function judgeOwnership(
  abs: string,
  rel: string,
  st: Stats,
  ids: OwnerIds,
  policy: CompiledPolicy,
  o: Ownership,
  out: Mismatch[],
): void {
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  const want = kind === 'dir' || kind === 'file' ? policy.modeFor(rel, kind) : null;
  judgeIds(abs, kind, st.uid, st.gid, st.mode & 0o7777, want, ids, o, out);
}

/** The owner and mode the extraction read back on the descriptors and found wrong, in the same words. */
export function stagedMismatches(seen: StagedOwner[], ids: OwnerIds, o: Ownership): Mismatch[] {
  const out: Mismatch[] = [];
  for (const m of seen) judgeIds(m.path, m.kind, m.uid, m.gid, m.mode, m.want, ids, o, out);
  return out;
}

function judgeIds(
  abs: string,
  kind: 'dir' | 'file' | 'symlink' | 'other',
  uid: number,
  gid: number,
  have: number,
  want: number | null,
  ids: OwnerIds,
  o: Ownership,
  out: Mismatch[],
): void {
  if (uid !== ids.uid || gid !== ids.gid) {
    out.push({ path: abs, problem: `owned by ${describeOwner(uid, gid)}, policy says ${o.user}:${o.group}` });
  }
  if (kind === 'other') out.push({ path: abs, problem: 'not a file, folder or symlink' });
  else if (want !== null && have !== want) {
    out.push({ path: abs, problem: `mode ${have.toString(8)}, policy says ${want.toString(8)}` });
  }
}

/**
 * The walk itself (worker side; synchronous, iterative, depth first, never following a link). Part `part` of
 * `parts` lstats and judges the entries whose position in the walk (the same in every part: names sorted)
 * modulo `parts` is `part`; every part descends into every folder.
 */
export function checkOwnershipJob(
  targets: RepairTarget[],
  o: Ownership,
  onProgress: ProgressSink,
  part = 0,
  parts = 1,
): { checked: number; mismatches: Mismatch[] } {
  const ids = ownerIds(o);
  const policy: CompiledPolicy = compilePolicy(o);
  const meter = new ProgressMeter('checking owners', { bytes: null, files: null }, onProgress);
  const mismatches: Mismatch[] = [];
  let checked = 0;
  let position = 0;
  /** What is there now, not what the listing said; null when it is gone meanwhile. */
  const look = (abs: string): Stats | null => {
    try {
      return lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  };
  const judge = (abs: string, rel: string, st: Stats): void => {
    checked++;
    if (checked === 3) crashPoint('ownership:mid-check');
    meter.add(0, 1, rel);
    judgeOwnership(abs, rel, st, ids, policy, o, mismatches);
  };
  for (const t of targets) {
    const st = lstatSync(t.path);
    if (part === 0) judge(t.path, t.id, st);
    if (!st.isDirectory()) continue;
    const stack: Array<{ abs: string; rel: string }> = [{ abs: t.path, rel: t.id }];
    while (stack.length > 0) {
      const d = stack.pop()!;
      let entries: Dirent[];
      try {
        entries = readdirSync(d.abs, { withFileTypes: true });
      } catch (e) {
        // A folder removed or replaced by a link meanwhile: nothing to check in it.
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw e;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const abs = path.join(d.abs, e.name);
        const rel = `${d.rel}/${e.name}`;
        if (position++ % parts === part) {
          const cst = look(abs);
          if (cst === null) continue;
          judge(abs, rel, cst);
          if (cst.isDirectory()) stack.push({ abs, rel });
        } else if (e.isDirectory()) stack.push({ abs, rel });
      }
    }
  }
  meter.flush();
  return { checked, mismatches };
}
