import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { symlinkEscapes } from '../archive/entry-check.js';

export interface TreeSize {
  exists: boolean;
  bytes: number;
  files: number;
  dirs: number;
  /** Symlinks whose target leaves the folder (absolute, or escaping with ..): relative path and target. */
  outsideLinks: { path: string; target: string }[];
}

/** Sizes a folder without following links; iterative, so deep trees cannot overflow the stack. */
export async function treeSize(root: string): Promise<TreeSize> {
  const out: TreeSize = { exists: false, bytes: 0, files: 0, dirs: 0, outsideLinks: [] };
  try {
    const st = await fsp.lstat(root);
    if (!st.isDirectory()) return out;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  out.exists = true;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    out.dirs++;
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        out.files++;
        out.bytes += (await fsp.lstat(p)).size;
      } else {
        out.files++;
        if (e.isSymbolicLink()) {
          const target = await fsp.readlink(p);
          const rel = path.relative(root, dir).split(path.sep).filter(Boolean);
          if (symlinkEscapes(rel, target) !== null) out.outsideLinks.push({ path: path.relative(root, p), target });
        }
      }
    }
  }
  return out;
}
