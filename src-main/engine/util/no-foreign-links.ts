import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { SafeDir } from './atomic-fs.js';

const MAX_LINK_HOPS = 40;

function foreignLink(dir: string, link: string, why: string): RecoveryError {
  return new RecoveryError(
    'UNSAFE_PATH',
    `${dir} is reached through the link ${link}, which ${why}: nothing was written there.`,
    {
      hint: 'Someone who may write this medium may have put a link in place of one of its folders. Check where it points and remove it.',
      details: { path: dir, link },
    },
  );
}

/**
 * Opens the existing folder `dir` so that no link another account could have put on the way is followed: every
 * folder is opened without following a link, through the folder held before it (as openat would). A link is
 * followed only when it is root's, in a folder of root's that nobody else may write (an administrator's
 * /mnt/usb → /media/usb); any other link (on a stick, whose folders are whoever may write the stick's) is refused
 * with UNSAFE_PATH. What is written through the folder returned goes where `dir` was when it was opened, whatever
 * its path names afterwards. Windows: the folder itself only (no openat there).
 */
export async function openFolderNoForeignLinks(dir: string): Promise<SafeDir> {
  const abs = path.resolve(dir);
  if (process.platform === 'win32') return SafeDir.open(abs);
  let todo = abs.split('/').filter((c) => c !== '' && c !== '.');
  let cur = await SafeDir.open('/');
  let curSt: Stats = await cur.fh.stat();
  let hops = 0;
  let done = false;
  /** Walks again from the top, to `p` (a resolved path) and then the components still to walk. */
  const fromTop = async (p: string): Promise<void> => {
    todo = path
      .resolve(p, ...todo)
      .split('/')
      .filter((x) => x !== '' && x !== '.');
    await cur.close();
    cur = await SafeDir.open('/');
    curSt = await cur.fh.stat();
  };
  try {
    for (;;) {
      const c = todo.shift();
      if (c === undefined) {
        done = true;
        return cur;
      }
      const shown = path.join(cur.dir, c);
      if (c === '..') {
        // Only from a link's target (abs was resolved): taken by name, from the top again.
        await fromTop(path.resolve(cur.dir, '..'));
        continue;
      }
      const st = await fsp.lstat(cur.at(c));
      if (st.isSymbolicLink()) {
        const folderTrusted = curSt.uid === 0 && (curSt.mode & 0o022) === 0;
        if (st.uid !== 0 || !folderTrusted) {
          throw foreignLink(
            abs,
            shown,
            st.uid !== 0 ? `belongs to uid ${st.uid}` : `is in ${cur.dir}, which others may change`,
          );
        }
        if (++hops > MAX_LINK_HOPS) throw foreignLink(abs, shown, 'is one of a loop of links');
        await fromTop(path.resolve(cur.dir, await fsp.readlink(cur.at(c))));
        continue;
      }
      // Opened without following a link: one swapped in since the lstat is refused by the kernel (ELOOP).
      const next = await SafeDir.open(cur.at(c), shown);
      await cur.close();
      cur = next;
      curSt = await cur.fh.stat();
      if (!curSt.isDirectory()) throw new RecoveryError('UNSAFE_PATH', `${shown} is not a folder.`);
    }
  } finally {
    if (!done) await cur.close();
  }
}
