import { promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * Appliances with a data partition often have `Storage -> /data/eds/Storage`. The data lives at the link's
 * target: a backup reads it through the link, a restore writes into the target (the staging copy and the
 * set-aside folder go beside it, on that disk) and keeps the link itself.
 *
 * Returns the real folder a configured path leads to when that path is a symlink (following every link,
 * also in the target's parents), or null when the path is not a symlink (a plain folder, or nothing).
 * A dangling link yields where it points (its parent resolved), so a restore fills that place instead of
 * replacing the link with a folder on the system disk. A link to something that is not a folder yields null.
 */
export async function linkedFolder(p: string): Promise<string | null> {
  const st = await fsp.lstat(p).catch(() => null);
  if (st === null || !st.isSymbolicLink()) return null;
  const real = await fsp.realpath(p).catch(() => null);
  if (real !== null) {
    const rst = await fsp.stat(real).catch(() => null);
    return rst !== null && rst.isDirectory() ? real : null;
  }
  // Dangling: where it points, with the parent's own links resolved.
  const to = path.resolve(path.dirname(p), await fsp.readlink(p));
  const parent = await fsp.realpath(path.dirname(to)).catch(() => path.dirname(to));
  return path.join(parent, path.basename(to));
}
