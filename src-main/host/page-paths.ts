import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../engine/errors.js';
import { filesystemOf } from '../engine/media/filesystem.js';
import { absolutePathProblem, systemFolderProblem } from '../engine/profiles/rules.js';
import type { Profile } from '../engine/profiles/schema.js';
import { resolveTrusted } from '../engine/util/linked-folder.js';
import { clearSystemUsersCache, uidForUser, userNameForUid } from '../engine/util/system-users.js';
import { isInside } from '../engine/util/path-inside.js';

/**
 * Which folders the page may name. The handler table answers a page (Electron's window, the privileged helper's
 * unprivileged main, serve's browser) and often runs with more rights than whoever drives that page: the helper is
 * root for the desktop user, serve is root for a browser. A path from the page is therefore never taken as it is:
 *
 * - **Source folders**: `root` (profiles.plan, backup.start, restore.start) only inside this host's own practice
 *   sandbox; a restore writes the trusted profile's own folders. A backup's `folders` (profiles.plan, backup.start:
 *   the technician correcting where the product keeps its data) inside the sandbox, or an existing folder owned by
 *   the profile's product account (`ownership.user`, not root) that passes the profile schema's folder rules
 *   (absolute, not a system folder such as /etc): root copies onto a stick only what that account could read
 *   anyway, never /root or /etc. Other folders need a profile in the root-only profiles folder, or the CLI.
 * - **Where a backup is written** (backup.start `to`, mirror.start `to`): the mount point of a drive the drive
 *   rules offer as removable (as `drives.list` shows it, confirmed by the kernel's mount table, reached only
 *   through folders no other account can change), or the practice stick.
 * - **Where sets are read from** (backups.list `dir`, verify.start/restore.start `backup`, mirror.start `from`):
 *   inside such a stick's mount (on that filesystem, not one mounted beneath it; its mount point reached only
 *   through folders no other account can change, as for a write), inside the practice stick, or
 *   a place this machine's own verified backups went (`<state>/last-backups.json`; never `/` itself): the place
 *   itself or inside its EdgeRecovery folder, never another file there (mirror's glob is refused there).
 *
 * Judged on the real path (links and `..` resolved first): a link on a stick that leads off it is refused. The
 * real path is what the engine is then given, with the filesystem's device number for a destination, so a stick
 * unmounted and replaced by a folder before the first write is refused there too (MEDIUM_GONE).
 */
export interface PagePlaces {
  /** This host's practice sandbox folders (created by this host; empty outside practice). */
  sandboxes(): string[];
  /** Their practice sticks (folders standing in for a USB stick). */
  practiceSticks(): string[];
  /** Where this machine's own verified backups were written (the backup record's `to`s). */
  ownLocations(): Promise<string[]>;
  /** Mount points of the drives the drive rules offer (status not hidden). */
  removableMounts(): Promise<string[]>;
  /** Mount table to read (tests). */
  mountsFile?: string;
}

export interface JudgedPlace {
  /** The real path (links and `..` resolved): what the engine works on. */
  path: string;
  /** Device number of the filesystem it is on, as judged. */
  dev: number;
  /** Its inode, as judged: a job it starts refuses it if the path leads elsewhere by then (refuseOtherPlace). */
  ino: number;
  kind: 'stick' | 'practice' | 'own';
}

const win = process.platform === 'win32';
const norm = (p: string): string => (win ? path.resolve(p).toLowerCase() : path.resolve(p));
const same = (a: string, b: string): boolean => norm(a) === norm(b);
/** isInside, without regard to case on Windows. */
const inside = (parent: string, child: string): boolean => isInside(norm(parent), norm(child));

async function realOrNull(p: string): Promise<string | null> {
  return fsp.realpath(p).catch(() => null);
}

/** The real path of `p` where it exists; else its nearest existing folder's real path with the rest appended. */
async function realNearest(p: string): Promise<string> {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    const r = await realOrNull(cur);
    if (r !== null) return path.join(r, ...rest.reverse());
    const up = path.dirname(cur);
    if (up === cur) return path.resolve(p);
    rest.push(path.basename(cur));
    cur = up;
  }
}

async function reals(list: readonly string[]): Promise<string[]> {
  return (await Promise.all(list.map(realOrNull))).filter((r): r is string => r !== null);
}

const shown = (p: string): string => JSON.stringify(p.length > 300 ? `${p.slice(0, 300)}…` : p);

function refused(message: string, hint: string, uiHint: string, details: Record<string, unknown>): RecoveryError {
  return new RecoveryError('PATH_REFUSED', message, { hint, ui: { hint: uiHint }, details });
}

async function mountpointOf(real: string, places: PagePlaces): Promise<string | null> {
  try {
    return (await filesystemOf(real, places.mountsFile === undefined ? {} : { mountsFile: places.mountsFile }))
      .mountpoint;
  } catch {
    return null;
  }
}

/**
 * A source folder from the page (`root`, a `folders` entry) inside this host's practice sandbox: its real path
 * (where it does not exist yet: its nearest existing folder's, with the rest appended), or null.
 */
async function inSandbox(given: string, places: PagePlaces): Promise<string | null> {
  const real = await realNearest(given);
  for (const s of await reals(places.sandboxes())) if (inside(s, real)) return real;
  return null;
}

function notProfiles(given: string, real: string, what: string, why: string, places: PagePlaces): RecoveryError {
  const led = same(real, given) ? '' : ` (it leads to ${real})`;
  return refused(
    `The wizard works on the profile's own folders only: ${shown(given)}${led}, given as ${what}, is not one of them${places.sandboxes().length > 0 ? ' and is not in the practice sandbox' : ''}${why}. Nothing was read or changed.`,
    'To back up or restore other folders on this machine, install a profile that names them in the root-only profiles folder, or use the command line as root (edge-recovery backup --folder ID=PATH, --root DIR).',
    "To back up or restore other folders, install a profile naming them (ask whoever maintains this machine's profiles), or use the command line as root.",
    { given, real, what },
  );
}

/** A source folder from the page that only the practice sandbox may hold (`root`, a restore's folders). */
export async function judgeSourceFolder(given: string, what: string, places: PagePlaces): Promise<string> {
  const real = await inSandbox(given, places);
  if (real !== null) return real;
  throw notProfiles(given, await realNearest(given), what, '', places);
}

/** What judgeBackupFolder reads of the profile. */
export type BackupProfile = Pick<Profile, 'id' | 'ownership'> & { items?: readonly { id: string; path: string }[] };

/**
 * Why another account than root and `uid` could swap `real` (a folder, no links in its path) for another between
 * the judgement and the backup's read, or null: a folder on the way belongs to someone else, or others may write it
 * (a sticky one like /tmp only when the entry below it is root's or `uid`'s).
 */
async function swappableBy(real: string, uid: number): Promise<string | null> {
  for (let cur = real; ; ) {
    const dir = path.dirname(cur);
    if (dir === cur) return null;
    const st = await fsp.lstat(dir).catch(() => null);
    if (st === null || !st.isDirectory()) return `the folder ${dir} on the way to it cannot be read`;
    if (st.uid !== 0 && st.uid !== uid) return `the folder ${dir} on the way to it belongs to ${ownerWords(st.uid)}`;
    if ((st.mode & 0o022) !== 0) {
      const entry = (st.mode & 0o1000) !== 0 ? await fsp.lstat(cur).catch(() => null) : null;
      if (entry === null || (entry.uid !== 0 && entry.uid !== uid))
        return `the folder ${dir} on the way to it may be changed by other accounts`;
    }
    cur = dir;
  }
}

/** Whose the uid is, in words. */
function ownerWords(uid: number): string {
  const name = userNameForUid(uid);
  return name === undefined ? `the account with number ${uid}` : `the account "${name}"`;
}

/**
 * A backup's source folder from the page (the technician correcting where the product keeps its data): inside the
 * practice sandbox, or an existing folder, owned by the profile's product account (not root), that the profile
 * schema would take as a product folder. Returns its real path; throws PATH_REFUSED (nothing read) otherwise.
 */
export async function judgeBackupFolder(
  given: string,
  id: string,
  profile: BackupProfile,
  places: PagePlaces,
): Promise<string> {
  const what = `the folder for ${id}`;
  const sandboxed = await inSandbox(given, places);
  if (sandboxed !== null) return sandboxed;
  // The profile's own folder for this item, typed back: what the engine would take without it.
  const own = profile.items?.find((i) => i.id === id);
  if (!win && places.sandboxes().length === 0 && own !== undefined && own.path === given) return given;
  const user = profile.ownership?.user;
  // Practice works on the sandbox only; a profile without its product's account cannot tell whose a folder is.
  if (win || user === undefined || places.sandboxes().length > 0) {
    const why =
      win || user !== undefined
        ? ''
        : ` (the profile ${profile.id} names no account the product runs as, so the wizard cannot tell the product's folders from others)`;
    throw notProfiles(given, await realNearest(given), what, why, places);
  }
  const fail = (why: string, real: string | null, extra: Record<string, unknown> = {}): RecoveryError => {
    const led = real === null || same(real, given) ? '' : ` (it leads to ${real})`;
    return refused(
      `The wizard does not back up ${shown(given)}${led} as ${id}: ${why}. Nothing was read or changed.`,
      `Type the folder where the product keeps its ${id} data on this machine (owned by its account "${user}"), or use the profile's folder. For any other folder, use the command line as root (edge-recovery backup --folder ${id}=PATH).`,
      `Type the folder where the product keeps its ${id} data on this machine: it must belong to the product's account "${user}". Or keep the profile's folder.`,
      { given, ...(real !== null ? { real } : {}), what, id, ...extra },
    );
  };
  const real = await realOrNull(given);
  if (real === null)
    throw fail('it does not exist on this machine (check the spelling: upper and lower case differ)', null);
  const st = await fsp.lstat(real).catch(() => null);
  if (st === null) throw fail('it does not exist on this machine', real);
  if (!st.isDirectory()) throw fail('it is not a folder', real);
  const bad = absolutePathProblem(real, 'linux') ?? systemFolderProblem(real, 'linux');
  if (bad !== null) throw fail(`the folder ${bad}; a profile may not name it either`, real);
  clearSystemUsersCache(); // an account added since the last look (the product installed meanwhile)
  const uid = uidForUser(user);
  if (uid === undefined) {
    throw fail(
      `the product's account "${user}" (the profile ${profile.id} says the product runs as it) does not exist on this machine, so the wizard cannot tell whether the folder is the product's`,
      real,
    );
  }
  if (uid === 0) {
    throw fail(
      `the profile ${profile.id} says the product runs as root, and the wizard takes a folder typed here only when it belongs to the product's own account, not root`,
      real,
    );
  }
  if (st.uid !== uid) {
    throw fail(
      `it belongs to ${ownerWords(st.uid)}, and the wizard backs up a folder typed here only when it belongs to the product's account "${user}"`,
      real,
      { owner: userNameForUid(st.uid) ?? st.uid, need: user },
    );
  }
  const loose = await swappableBy(real, uid);
  if (loose !== null) {
    throw fail(
      `${loose}, so another account could put another folder in its place before the backup reads it (only root and the product's account "${user}" may own and change the folders on the way)`,
      real,
    );
  }
  return real;
}

/**
 * `root` and `folders` of a request, judged; the real paths to hand to the engine. With `backupOf` (profiles.plan
 * and backup.start: folders to read), `folders` may also be the product account's folders (judgeBackupFolder);
 * without it (restore.start), only the practice sandbox's.
 */
export async function judgeSourceFolders(
  input: { root?: string | undefined; folders?: Record<string, string> | undefined },
  places: PagePlaces,
  backupOf?: BackupProfile,
): Promise<{ root?: string; folders?: Record<string, string> }> {
  const out: { root?: string; folders?: Record<string, string> } = {};
  if (input.root !== undefined)
    out.root = await judgeSourceFolder(input.root, 'the folder all others are under', places);
  if (input.folders !== undefined) {
    const f: Record<string, string> = {};
    for (const [id, p] of Object.entries(input.folders))
      f[id] =
        backupOf === undefined
          ? await judgeSourceFolder(p, `the folder for ${id}`, places)
          : await judgeBackupFolder(p, id, backupOf, places);
    out.folders = f;
  }
  return out;
}

/**
 * Where a backup or mirror writes (`write`), or where backups are read from (`read`): see PagePlaces. Returns the
 * real path and its filesystem's device number, or throws PATH_REFUSED before anything is read or written.
 */
export async function judgeMedium(
  given: string,
  use: 'write' | 'read',
  what: string,
  places: PagePlaces,
): Promise<JudgedPlace> {
  const writing = use === 'write';
  const real = await realOrNull(given);
  const st = real === null ? null : await fsp.stat(real).catch(() => null);
  let why: string;
  if (real === null || st === null) {
    why = 'it does not exist here';
  } else if (writing && !st.isDirectory()) {
    why = 'it is not a folder';
  } else {
    for (const s of await reals(places.practiceSticks())) {
      if (inside(s, real)) return { path: real, dev: st.dev, ino: st.ino, kind: 'practice' };
    }
    const mount = await mountpointOf(real, places);
    const sticks = await reals(await places.removableMounts());
    const stick = sticks.find((m) => (writing ? same(m, real) : inside(m, real)));
    if (stick !== undefined && mount !== null && same(mount, stick)) {
      if (!win) {
        // Nobody but root (this account) can swap the mount folder for a link or another folder meanwhile: for a
        // write (the stick's own folder) as for a read (a folder on it: the way to its mount point; on the stick
        // itself, the folders may be another account's, as a FAT stick's all are the desktop user's).
        let unsafe: string | null = null;
        try {
          resolveTrusted(stick, (_place, w) => new Error(w));
        } catch (e) {
          unsafe = (e as Error).message;
        }
        if (unsafe !== null) {
          throw refused(
            writing
              ? `The wizard does not write to ${shown(given)}: ${unsafe}, so another account could swap the stick's folder for another before the backup is written. Nothing was changed.`
              : `The wizard does not read backups from ${shown(given)}: ${unsafe}, so another account could swap the stick's folder for another before they are read. Nothing was read or changed.`,
            'Mount the stick under a folder only root can change (e.g. /media, as the desktop does), then choose it again.',
            'Let the desktop mount the stick (it mounts under /media), then choose it again.',
            { given, real },
          );
        }
      }
      return { path: real, dev: st.dev, ino: st.ino, kind: 'stick' };
    }
    if (!writing) {
      // Our sets there, not the rest of that folder: it is whatever the technician gave `backup --to` (/var/backups,
      // a backup disk) and may hold any root-only file. The place itself is read only by the set walkers (listing,
      // a mirror without a glob); anything named inside it must be in its EdgeRecovery folder.
      for (const o of await reals(await places.ownLocations())) {
        if (path.parse(o).root !== o && (same(o, real) || inside(path.join(o, 'EdgeRecovery'), real)))
          return { path: real, dev: st.dev, ino: st.ino, kind: 'own' };
      }
    }
    const led = same(real, path.resolve(given)) ? '' : `it leads to ${real}, and `;
    why =
      stick !== undefined
        ? `${led}${mount === null ? 'its filesystem cannot be told' : `it is on ${mount}, not on the stick mounted at ${stick}`}`
        : mount !== null && same(mount, real)
          ? `${led}it is a mounted filesystem the wizard does not offer as a removable stick`
          : writing
            ? `${led}it is a folder, not the mount point of a stick the wizard lists`
            : `${led}it is not on a stick the wizard lists`;
  }
  const message = writing
    ? `The wizard writes backups only to a USB stick it lists (or the practice stick): ${shown(given)}, given as ${what}, is not one (${why}). Nothing was changed.`
    : `The wizard reads backups only from a USB stick it lists, the practice stick, or the folder this machine's own backups go to: ${shown(given)}, given as ${what}, is none of them (${why}). Nothing was read or changed.`;
  throw refused(
    message,
    `Plug the stick in and choose it in the list ("Look again" if it is missing; "Why is my drive not listed?" says why a drive is not offered). For any other folder, use the command line as root (edge-recovery ${writing ? 'backup --to' : 'list / verify / restore'} <folder>).`,
    'Plug the stick in and choose it in the list: press "Look again" if it is missing, "Why is my drive not listed?" to see why a drive is not offered.',
    { given, ...(real !== null ? { real } : {}), use },
  );
}

/**
 * Whether `p`, found under a judged place by walking it (a set or archive backups.list found), really is there: its
 * real path inside the place and, for a stick, on the stick's filesystem. A link on a stick below the folder the page
 * named (EdgeRecovery → /root) is followed by the walk; what it leads to is not the page's to see.
 */
export async function foundInside(place: JudgedPlace, p: string): Promise<boolean> {
  const real = await realOrNull(p);
  if (real === null || !inside(place.path, real)) return false;
  if (place.kind !== 'stick') return true;
  const st = await fsp.stat(real).catch(() => null);
  return st !== null && st.dev === place.dev;
}
