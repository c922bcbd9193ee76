import { lstatSync, promises as fsp, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { systemFolderProblem } from '../profiles/rules.js';

/**
 * Appliances with a data partition often have `Storage -> /data/eds/Storage`. The data lives at the link's
 * target: a backup reads it through the link, a restore writes into the target (the staging copy and the
 * set-aside folder go beside it, on that disk) and keeps the link itself.
 *
 * Returns the real folder a configured path leads to when that path is a symlink (following every link,
 * also in the target's parents), or null when the path is not a symlink (a plain folder, or nothing).
 * A dangling link yields where it points (its parent resolved), so a restore fills that place instead of
 * replacing the link with a folder on the system disk. A link to something that is not a folder yields null.
 *
 * The link is not ours, so where it leads is trusted only if nobody but root (this account) can change it:
 * every folder the way passes through must be root's and not writable by group or others (a sticky folder
 * such as /tmp only where the entry in it is root's), and every link on the way root's, with one name. Otherwise another
 * account (the service account owning /data/eds) could point the restore at /etc, which would be set aside
 * and replaced by a folder that account owns; or make the backup carry /etc onto the stick. A system folder
 * (/etc, /usr, …) as the target is refused too. Both are UNSAFE_PATH (exit 4), before anything changes.
 */
export async function linkedFolder(p: string): Promise<string | null> {
  const st = await fsp.lstat(p).catch(() => null);
  if (st === null || !st.isSymbolicLink()) return null;
  const resolved = resolveTrusted(p, (place, why) => unsafe(p, place, why));
  if (resolved.st !== null && !resolved.st.isDirectory()) return null;
  if (process.platform !== 'win32') {
    const sys = systemFolderProblem(resolved.place, 'linux');
    if (sys !== null) throw unsafe(p, resolved.place, `it leads to a system folder (${sys})`);
  }
  return resolved.place; // a folder, or (dangling) the place it points to
}

const MAX_LINK_HOPS = 40;

function unsafe(link: string, place: string, why: string): RecoveryError {
  return new RecoveryError(
    'UNSAFE_PATH',
    `${link} is a link, and where it leads (${place}) is not safe to follow: ${why}. Nothing was changed.`,
    {
      hint: 'Make the link and every folder on the way to its target belong to root and not writable by others (chown root:root, chmod 755), or name the real folder in the profile, then start again.',
      details: { link, target: place },
    },
  );
}

/**
 * Resolves `p` component by component as the kernel would, checking that every folder a name is looked up in
 * is root's (or this account's) and not writable by group/others (sticky folders: the entry must be root's), and
 * that every link followed is root's. `st` is null when the last component does not exist (a dangling link).
 * `fail(place, why)` makes the error thrown when a check fails. Synchronous (a few lstat calls): the job lock
 * uses it on the state folder before it takes the lock.
 *
 * `linksOnly`: only the links are judged (root's, at most 40), not the folders: for a folder another account owns
 * by design (a product's folder, which the backup reads), where only a link that account made must not lead on.
 */
export function resolveTrusted(
  p: string,
  fail: (place: string, why: string) => Error,
  opts: { linksOnly?: boolean } = {},
): { place: string; st: Stats | null } {
  const win = process.platform === 'win32';
  const me = process.geteuid?.() ?? 0;
  const trusted = (uid: number): boolean => win || uid === 0 || uid === me;
  const todo = path
    .resolve(p)
    .split(path.sep)
    .filter((c) => c !== '');
  let cur = path.parse(path.resolve(p)).root;
  let curSt = lstatSync(cur);
  let hops = 0;
  for (;;) {
    const c = todo.shift();
    if (c === undefined) return { place: cur, st: curSt };
    if (c === '.') continue;
    if (c === '..') {
      cur = path.dirname(cur);
      curSt = lstatSync(cur);
      continue;
    }
    const folders = !win && opts.linksOnly !== true;
    if (folders) {
      if (!trusted(curSt.uid)) throw fail(cur, `the folder ${cur} belongs to uid ${curSt.uid}`);
      const sticky = (curSt.mode & 0o1000) !== 0;
      if ((curSt.mode & 0o022) !== 0 && !sticky) {
        throw fail(cur, `the folder ${cur} is writable by others (mode ${(curSt.mode & 0o7777).toString(8)})`);
      }
    }
    const next = path.join(cur, c);
    let st: Stats | null;
    try {
      st = lstatSync(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      st = null;
    }
    if (st === null) {
      // Nothing there (a dangling link): the place it names, as far as it exists resolved.
      return { place: path.join(next, ...todo.filter((x) => x !== '.')), st: null };
    }
    if (folders && (curSt.mode & 0o1000) !== 0 && (curSt.mode & 0o022) !== 0 && !trusted(st.uid)) {
      throw fail(next, `${next} belongs to uid ${st.uid} in the shared folder ${cur}`);
    }
    if (st.isSymbolicLink()) {
      if (!trusted(st.uid)) throw fail(next, `the link ${next} belongs to uid ${st.uid}`);
      // A second name for one of root's links (a hard link: `ln /var/run /tmp/product`, which any account may make
      // where fs.protected_hardlinks is 0, the kernel's default) is root's all the same, but put there by another.
      if (!win && st.nlink !== 1) throw fail(next, `the link ${next} has ${st.nlink} names (a hard link to it)`);
      if (++hops > MAX_LINK_HOPS) throw fail(next, 'a loop of links');
      const target = readlinkSync(next);
      if (path.isAbsolute(target)) {
        cur = path.parse(target).root;
        curSt = lstatSync(cur);
      }
      todo.unshift(...target.split(/[\\/]/).filter((x) => x !== ''));
      continue;
    }
    cur = next;
    curSt = st;
    if (todo.length > 0 && !st.isDirectory()) throw fail(next, `${next} is not a folder`);
  }
}

/**
 * Refuses folders of which one lies inside another (UNSAFE_PATH, exit 4). A profile's folders never overlap as
 * written (profile rules); once links are followed they can (Storage -> …/Configuration/Storage): a backup would
 * archive the data twice, a restore could not set one aside without the other. `why` ends the message.
 */
export function refuseOverlap(folders: { id: string; path: string }[], throughLinks: boolean, why: string): void {
  for (const a of folders) {
    for (const b of folders) {
      const inner = path.resolve(b.path) + path.sep;
      if (a !== b && inner.startsWith(path.resolve(a.path) + path.sep)) {
        throw new RecoveryError(
          'UNSAFE_PATH',
          `The folders ${a.id} (${a.path}) and ${b.id} (${b.path}) overlap${throughLinks ? ' once links are followed' : ''}: ${b.id} lies inside ${a.id}${why}.`,
          {
            hint: 'Make each folder of the profile a separate folder on this machine (check its links). Nothing was changed.',
          },
        );
      }
    }
  }
}
