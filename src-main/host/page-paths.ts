import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../engine/errors.js';
import { filesystemOf } from '../engine/media/filesystem.js';
import { resolveTrusted } from '../engine/util/linked-folder.js';

/**
 * Which folders the page may name. The handler table answers a page (Electron's window, the privileged helper's
 * unprivileged main, serve's browser) and often runs with more rights than whoever drives that page: the helper is
 * root for the desktop user, serve is root for a browser. A path from the page is therefore never taken as it is:
 *
 * - **Source folders** (`root`, `folders` of profiles.plan, backup.start, restore.start): none, except inside this
 *   host's own practice sandbox. The folders a backup reads and a restore writes are the trusted profile's own;
 *   other folders need a profile in the root-only profiles folder, or the CLI (the technician as root).
 * - **Where a backup is written** (backup.start `to`, mirror.start `to`): the mount point of a drive the drive
 *   rules offer as removable (as `drives.list` shows it, confirmed by the kernel's mount table, reached only
 *   through folders no other account can change), or the practice stick.
 * - **Where sets are read from** (backups.list `dir`, verify.start/restore.start `backup`, mirror.start `from`):
 *   inside such a stick's mount (on that filesystem, not one mounted beneath it), inside the practice stick, or
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
  kind: 'stick' | 'practice' | 'own';
}

const win = process.platform === 'win32';
const norm = (p: string): string => (win ? path.resolve(p).toLowerCase() : path.resolve(p));
const same = (a: string, b: string): boolean => norm(a) === norm(b);
function inside(parent: string, child: string): boolean {
  const rel = path.relative(norm(parent), norm(child));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

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
 * A source folder from the page (`root`, a `folders` entry): only inside this host's practice sandbox. Returns its
 * real path (where it does not exist yet: its nearest existing folder's, with the rest appended).
 */
export async function judgeSourceFolder(given: string, what: string, places: PagePlaces): Promise<string> {
  const real = await realNearest(given);
  for (const s of await reals(places.sandboxes())) if (inside(s, real)) return real;
  const led = same(real, given) ? '' : ` (it leads to ${real})`;
  throw refused(
    `The wizard works on the profile's own folders only: ${shown(given)}${led}, given as ${what}, is not one of them${places.sandboxes().length > 0 ? ' and is not in the practice sandbox' : ''}. Nothing was read or changed.`,
    'To back up or restore other folders on this machine, install a profile that names them in the root-only profiles folder, or use the command line as root (edge-recovery backup --folder ID=PATH, --root DIR).',
    "To back up or restore other folders, install a profile naming them (ask whoever maintains this machine's profiles), or use the command line as root.",
    { given, real, what },
  );
}

/** `root` and `folders` of a request, judged; the real paths to hand to the engine. */
export async function judgeSourceFolders(
  input: { root?: string | undefined; folders?: Record<string, string> | undefined },
  places: PagePlaces,
): Promise<{ root?: string; folders?: Record<string, string> }> {
  const out: { root?: string; folders?: Record<string, string> } = {};
  if (input.root !== undefined)
    out.root = await judgeSourceFolder(input.root, 'the folder all others are under', places);
  if (input.folders !== undefined) {
    const f: Record<string, string> = {};
    for (const [id, p] of Object.entries(input.folders))
      f[id] = await judgeSourceFolder(p, `the folder for ${id}`, places);
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
      if (inside(s, real)) return { path: real, dev: st.dev, kind: 'practice' };
    }
    const mount = await mountpointOf(real, places);
    const sticks = await reals(await places.removableMounts());
    const stick = sticks.find((m) => (writing ? same(m, real) : inside(m, real)));
    if (stick !== undefined && mount !== null && same(mount, stick)) {
      if (writing && !win) {
        // Nobody but root (this account) can swap the mount folder for a link or another folder meanwhile.
        let unsafe: string | null = null;
        try {
          resolveTrusted(real, (_place, w) => new Error(w));
        } catch (e) {
          unsafe = (e as Error).message;
        }
        if (unsafe !== null) {
          throw refused(
            `The wizard does not write to ${shown(given)}: ${unsafe}, so another account could swap the stick's folder for another before the backup is written. Nothing was changed.`,
            'Mount the stick under a folder only root can change (e.g. /media, as the desktop does), then choose it again.',
            'Let the desktop mount the stick (it mounts under /media), then choose it again.',
            { given, real },
          );
        }
      }
      return { path: real, dev: st.dev, kind: 'stick' };
    }
    if (!writing) {
      // Our sets there, not the rest of that folder: it is whatever the technician gave `backup --to` (/var/backups,
      // a backup disk) and may hold any root-only file. The place itself is read only by the set walkers (listing,
      // a mirror without a glob); anything named inside it must be in its EdgeRecovery folder.
      for (const o of await reals(await places.ownLocations())) {
        if (path.parse(o).root !== o && (same(o, real) || inside(path.join(o, 'EdgeRecovery'), real)))
          return { path: real, dev: st.dev, kind: 'own' };
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
