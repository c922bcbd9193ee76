import { promises as fsp } from 'node:fs';
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

interface Entry {
  abs: string;
  rel: string;
  kind: 'dir' | 'file' | 'symlink' | 'other';
}

/** Every path under `root` (root first), depth first, without following symlinks. */
async function* walk(root: string, relRoot: string): AsyncGenerator<Entry> {
  const st = await fsp.lstat(root);
  yield {
    abs: root,
    rel: relRoot,
    kind: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other',
  };
  if (!st.isDirectory()) return;
  const stack: Array<{ abs: string; rel: string }> = [{ abs: root, rel: relRoot }];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const names = await fsp.readdir(d.abs, { withFileTypes: true });
    names.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const n of names) {
      const abs = path.join(d.abs, n.name);
      const rel = `${d.rel}/${n.name}`;
      const kind = n.isDirectory() ? 'dir' : n.isSymbolicLink() ? 'symlink' : n.isFile() ? 'file' : 'other';
      yield { abs, rel, kind };
      if (kind === 'dir') stack.push({ abs, rel });
    }
  }
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
 */
export async function checkOwnership(
  targets: RepairTarget[],
  o: Ownership,
  onProgress: ProgressSink,
): Promise<{ checked: number; mismatches: Mismatch[] }> {
  const ids = ownerIds(o);
  const policy: CompiledPolicy = compilePolicy(o);
  const meter = new ProgressMeter('checking owners', { bytes: null, files: null }, onProgress);
  const mismatches: Mismatch[] = [];
  let checked = 0;
  for (const t of targets) {
    for await (const e of walk(t.path, t.id)) {
      // What is there now, not what the listing said: the service account may have replaced a file of its
      // own by a link (its right); an entry it removed meanwhile is skipped.
      const st = await fsp.lstat(e.abs).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (st === null) continue;
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
      checked++;
      if (checked === 3) crashPoint('ownership:mid-check');
      meter.add(0, 1, e.rel);
      if (st.uid !== ids.uid || st.gid !== ids.gid) {
        mismatches.push({
          path: e.abs,
          problem: `owned by ${describeOwner(st.uid, st.gid)}, policy says ${o.user}:${o.group}`,
        });
      }
      if (kind === 'dir' || kind === 'file') {
        const want = policy.modeFor(e.rel, kind);
        const have = st.mode & 0o7777;
        if (have !== want)
          mismatches.push({ path: e.abs, problem: `mode ${have.toString(8)}, policy says ${want.toString(8)}` });
      } else if (kind === 'other') {
        mismatches.push({ path: e.abs, problem: 'not a file, folder or symlink' });
      }
    }
  }
  meter.flush();
  return { checked, mismatches };
}
