import { lstatSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { ProgressMeter, type ProgressSink } from '../progress.js';
import type { Ownership } from '../profiles/schema.js';
import {
  clearSystemUsersCache,
  gidForGroup,
  groupNameForGid,
  uidForUser,
  userNameForUid,
} from '../util/system-users.js';
import { runWorkerJob } from '../util/worker.js';
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
 * The walk runs on a worker thread with synchronous calls (`checkOwnershipJob`): one readdir per folder and
 * one lstat per entry, no promise per entry (500,000 awaited lstats on the main thread took 10 s and more).
 */
export function checkOwnership(
  targets: RepairTarget[],
  o: Ownership,
  onProgress: ProgressSink,
  signal?: AbortSignal,
): Promise<{ checked: number; mismatches: Mismatch[] }> {
  return runWorkerJob('owners.check', { targets, o }, { onProgress, ...(signal ? { signal } : {}) });
}

/** The walk itself (worker side; synchronous, iterative, depth first, never following a link). */
export function checkOwnershipJob(
  targets: RepairTarget[],
  o: Ownership,
  onProgress: ProgressSink,
): { checked: number; mismatches: Mismatch[] } {
  const ids = ownerIds(o);
  const policy: CompiledPolicy = compilePolicy(o);
  const meter = new ProgressMeter('checking owners', { bytes: null, files: null }, onProgress);
  const mismatches: Mismatch[] = [];
  let checked = 0;
  /** What is there now, not what the listing said; null when the service account removed it meanwhile. */
  const look = (abs: string): Stats | null => {
    try {
      return lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  };
  const judge = (abs: string, rel: string, st: Stats): void => {
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    checked++;
    if (checked === 3) crashPoint('ownership:mid-check');
    meter.add(0, 1, rel);
    if (st.uid !== ids.uid || st.gid !== ids.gid) {
      mismatches.push({
        path: abs,
        problem: `owned by ${describeOwner(st.uid, st.gid)}, policy says ${o.user}:${o.group}`,
      });
    }
    if (kind === 'dir' || kind === 'file') {
      const want = policy.modeFor(rel, kind);
      const have = st.mode & 0o7777;
      if (have !== want)
        mismatches.push({ path: abs, problem: `mode ${have.toString(8)}, policy says ${want.toString(8)}` });
    } else if (kind === 'other') {
      mismatches.push({ path: abs, problem: 'not a file, folder or symlink' });
    }
  };
  for (const t of targets) {
    const st = lstatSync(t.path);
    judge(t.path, t.id, st);
    if (!st.isDirectory()) continue;
    const stack: Array<{ abs: string; rel: string }> = [{ abs: t.path, rel: t.id }];
    while (stack.length > 0) {
      const d = stack.pop()!;
      let names: string[];
      try {
        names = readdirSync(d.abs);
      } catch (e) {
        // A folder the service account removed or replaced by a link meanwhile (its right): nothing to check in it.
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw e;
      }
      names.sort();
      for (const n of names) {
        const abs = path.join(d.abs, n);
        const rel = `${d.rel}/${n}`;
        const cst = look(abs);
        if (cst === null) continue;
        judge(abs, rel, cst);
        if (cst.isDirectory()) stack.push({ abs, rel });
      }
    }
  }
  meter.flush();
  return { checked, mismatches };
}
