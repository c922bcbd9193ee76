import { promises as fsp } from 'node:fs';
import { RecoveryError } from '../errors.js';

/** A file or folder as someone judged it: its device and inode at that moment. */
export interface PlaceIdentity {
  dev: number;
  ino: number;
}

/**
 * Refuses (UNSAFE_PATH) when `p` no longer leads to the file or folder judged as `id`: the wizard's host judged the
 * backup the page named (on a stick, in its practice folder, …) before the job started, and an account that owns
 * folders on its own stick could swap one of them for a link to another set (an older backup of this machine) in
 * between. Windows keeps the path (its file index is not a stable number here).
 */
export async function refuseOtherPlace(p: string, id: PlaceIdentity | undefined, what: string): Promise<void> {
  if (id === undefined || process.platform === 'win32') return;
  const st = await fsp.stat(p).catch(() => null);
  if (st !== null && st.dev === id.dev && st.ino === id.ino) return;
  throw new RecoveryError(
    'UNSAFE_PATH',
    `${what} at ${p} is no longer the one that was chosen: it was replaced (by a link or another folder) since. Nothing was read or changed.`,
    {
      hint: 'Another account can change the folders on this stick. Use a stick only you can write to, then choose the backup again.',
      details: { path: p },
    },
  );
}
