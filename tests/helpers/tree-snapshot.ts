import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { groupNameForGid, userNameForUid, clearSystemUsersCache } from '../../src-main/engine/util/system-users.js';

/** One path of a folder tree, as much as "exactly as before" means: type, content, mode, owner names, link target. */
export interface SnapEntry {
  type: 'dir' | 'file' | 'symlink' | 'other' | 'missing';
  mode?: string;
  owner?: string;
  sha256?: string;
  link?: string;
}

/** Relative path (the folder itself is ".") → entry. A missing folder snapshots as { ".": missing }. */
export type TreeSnapshot = Record<string, SnapEntry>;

export async function snapshotTree(dir: string): Promise<TreeSnapshot> {
  clearSystemUsersCache();
  const out: TreeSnapshot = {};
  async function visit(abs: string, rel: string): Promise<void> {
    let st;
    try {
      st = await fsp.lstat(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && rel === '.') {
        out[rel] = { type: 'missing' };
        return;
      }
      throw e;
    }
    const owner = `${userNameForUid(st.uid) ?? st.uid}:${groupNameForGid(st.gid) ?? st.gid}`;
    if (st.isSymbolicLink()) {
      out[rel] = { type: 'symlink', owner, link: await fsp.readlink(abs) };
    } else if (st.isDirectory()) {
      out[rel] = { type: 'dir', owner, mode: (st.mode & 0o7777).toString(8) };
      for (const n of (await fsp.readdir(abs)).sort()) await visit(path.join(abs, n), rel === '.' ? n : `${rel}/${n}`);
    } else if (st.isFile()) {
      const sha256 = createHash('sha256')
        .update(await fsp.readFile(abs))
        .digest('hex');
      out[rel] = { type: 'file', owner, mode: (st.mode & 0o7777).toString(8), sha256 };
    } else {
      out[rel] = { type: 'other', owner, mode: (st.mode & 0o7777).toString(8) };
    }
  }
  await visit(dir, '.');
  return out;
}

/** Snapshots of several folders, keyed by the folder path. */
export async function snapshotFolders(dirs: string[]): Promise<Record<string, TreeSnapshot>> {
  const out: Record<string, TreeSnapshot> = {};
  for (const d of dirs) out[d] = await snapshotTree(d);
  return out;
}

/** Names of the entries in `parent` that are leftovers of a restore ("X.before-restore-…", ".edge-recovery-<id>"). */
export async function siblingsLike(target: string): Promise<string[]> {
  const parent = path.dirname(target);
  const base = path.basename(target);
  const names = await fsp.readdir(parent).catch(() => [] as string[]);
  // Also the restore's root-only work folders (.edge-recovery-<id>: staging, trash) beside the target.
  return names.filter((n) => (n !== base && n.startsWith(`${base}.`)) || n.startsWith('.edge-recovery-')).sort();
}
