import path from 'node:path';
import { RecoveryError } from '../errors.js';
import type { ManifestLine } from './manifest.js';
import type { TarEntryHeader } from './tar-header.js';

/** An entry whose name cannot exist on Windows, met by a restore there: refused before anything is written. */
function notOnWindows(entry: string, component: string, why: string): RecoveryError {
  return new RecoveryError(
    'HOSTILE_ARCHIVE',
    `Refused archive entry ${JSON.stringify(entry)}: ${JSON.stringify(component)} is ${why}, so it cannot be restored on Windows under its own name.`,
    {
      hint: 'The backup was made on another system, or was tampered with. Restore it on a Linux machine, or rename that file on the old system and make the backup again. Nothing was changed.',
      details: { entry },
    },
  );
}

export function hostile(entry: string, why: string): RecoveryError {
  return new RecoveryError('HOSTILE_ARCHIVE', `Refused archive entry ${JSON.stringify(entry)}: ${why}.`, {
    hint: 'This archive was not made by this tool or was tampered with. Nothing outside the staging folder was written.',
    details: { entry },
  });
}

/**
 * Judges one tar entry before anything is written for it: the restore only writes plain files, folders
 * and symlinks that stay inside their item, in the order and sizes the inner manifest lists.
 * Returns the path's components (first one = item id).
 */
/**
 * Why a symlink in folder `dirParts` (relative to its item root) with `target` would point outside the item, or
 * null when it stays inside. Shared by the restore (refuses) and the backup (warns before recovery day).
 */
export function symlinkEscapes(dirParts: string[], target: string): string | null {
  if (target === '' || target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\')) {
    return `symlink to an absolute path (${target})`;
  }
  const resolved = path.posix.normalize(path.posix.join(...dirParts, target));
  if (resolved === '..' || resolved.startsWith('../')) return `symlink leaving its folder (${target})`;
  return null;
}

/** Names Windows keeps for devices, with or without an extension ("NUL.txt" is the NUL device too). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)$/i;

/**
 * Why a path component cannot be a file or folder name on Windows, or null. Created there as it is, `a:b` writes the
 * alternate data stream `b` of the file `a`, `NUL` or `COM1.txt` a device, and `name.` or `name ` the file `name`
 * (Windows drops a trailing dot or blank): never what the archive holds, and possibly another entry's file.
 */
export function windowsNameProblem(c: string): string | null {
  // eslint-disable-next-line no-control-regex -- control characters are what is looked for
  if (/[<>:"|?*\u0000-\u001f]/.test(c))
    return 'a character Windows does not allow in a name (< > : " | ? * or a control character)';
  if (/[. ]$/.test(c)) return 'a name ending in a dot or a blank, which Windows drops';
  const dot = c.indexOf('.');
  if (WINDOWS_DEVICE.test((dot === -1 ? c : c.slice(0, dot)).trimEnd())) return 'a name Windows keeps for a device';
  return null;
}

export function checkEntryShape(
  h: TarEntryHeader,
  itemIds: ReadonlySet<string>,
  platform: NodeJS.Platform = process.platform,
): string[] {
  const p = h.path;
  if (p === '') throw hostile(p, 'empty path');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\\')) throw hostile(p, 'absolute path');
  if (p.includes('\0')) throw hostile(p, 'NUL in the path');
  const parts = p.split('/');
  for (const c of parts) {
    if (c === '..') throw hostile(p, "'..' in the path");
    if (c === '' || c === '.') throw hostile(p, 'empty or "." path component');
    if (platform === 'win32') {
      const why = windowsNameProblem(c);
      if (why !== null) throw notOnWindows(p, c, why);
    }
  }
  if (!itemIds.has(parts[0]!)) throw hostile(p, `'${parts[0]}' is not one of the folders being restored`);
  switch (h.type) {
    case 'file':
    case 'dir':
      break;
    case 'symlink': {
      const why = symlinkEscapes(parts.slice(1, -1), h.linkpath ?? '');
      if (why !== null) throw hostile(p, why);
      break;
    }
    case 'hardlink':
      throw hostile(p, 'hard link');
    case 'char':
    case 'block':
      throw hostile(p, 'device node');
    case 'fifo':
      throw hostile(p, 'fifo');
    default:
      throw hostile(p, `unsupported entry type '${h.flag}'`);
  }
  return parts;
}

/** How many links one resolution may pass through (Linux gives ELOOP after 40). */
const MAX_LINK_HOPS = 40;

/** The longest link target Linux stores: symlink(2) refuses PATH_MAX (4096 bytes, with its NUL) and more. */
export const MAX_LINK_TARGET_BYTES = 4095;

/**
 * Path components one archive's link resolutions may walk in all. A real tree needs a few per link (a million
 * links: some tens of millions); a tangle made to stall the check (40 hops of 4095-byte targets per link, every
 * link) reaches it in seconds and is refused, instead of keeping `verify` busy for hours.
 */
export const MAX_LINK_STEPS = 100_000_000;

/**
 * The one screen for every reader of a backup (`verify`, the restore's check, the extraction): the shape
 * rules of checkEntryShape, plus links resolved against the tree as seen so far. A link's target is walked
 * component by component; a component that is a link seen earlier is replaced by that link's target, as the
 * kernel would. So `s1 -> ..`, `s2 -> s1/..`, … `etc -> s12/etc`, each harmless alone, are refused together.
 * `finish()` resolves every link once more against the whole tree (a later link can change where an earlier
 * one leads). Memory: one entry per link and per folder on a link's path, none per file.
 *
 * Each step of a resolution costs the same however deep it is: the folders on the way to a link are nodes
 * (numbered, keyed by parent number and name), so looking up where a component leads never joins the path
 * walked so far, and the components still to walk are a stack, never shifted. Targets longer than Linux allows
 * are refused as they come.
 */
export class EntryScreen {
  private readonly links = new Map<string, string>();
  /** `${parent node}/${name}` → node, for every folder on the way to a link and the link itself; 0 is the top. */
  private readonly nodes = new Map<string, number>();
  /** Link node → its target. */
  private readonly linkAt = new Map<number, string>();
  private nextNode = 1;
  private steps = 0;
  private count = 0;

  /** itemIds null: any item name the writer could have made (verify without a profile). maxSteps: for tests. */
  constructor(
    private readonly itemIds: ReadonlySet<string> | null,
    private readonly maxSteps = MAX_LINK_STEPS,
    /** Whose naming rules hold (a restore on Windows refuses names Windows cannot hold); for tests. */
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  get entries(): number {
    return this.count;
  }

  check(h: TarEntryHeader): string[] {
    const ids = this.itemIds ?? new Set([h.path.split('/')[0]!].filter((c) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(c)));
    if (h.type === 'symlink' && Buffer.byteLength(h.linkpath ?? '') > MAX_LINK_TARGET_BYTES) {
      throw hostile(
        h.path,
        `symlink target of ${Buffer.byteLength(h.linkpath ?? '')} bytes (Linux stores ${MAX_LINK_TARGET_BYTES} at most, so no disk ever held it)`,
      );
    }
    const parts = checkEntryShape(h, ids, this.platform);
    this.count++;
    if (h.type === 'symlink') {
      const target = h.linkpath ?? '';
      this.links.set(h.path, target);
      let node = 0;
      for (const c of parts) node = this.child(node, c, true);
      this.linkAt.set(node, target);
      const why = this.escapes(parts, target);
      if (why !== null) throw hostile(h.path, why);
    } else if (this.links.has(h.path)) {
      throw hostile(h.path, 'duplicate entry (a link of that name came earlier)');
    }
    return parts;
  }

  finish(): void {
    for (const [p, target] of this.links) {
      const why = this.escapes(p.split('/'), target);
      if (why !== null) throw hostile(p, why);
    }
  }

  /** The node of `name` in folder node `parent`; -1 when no link lies at or below it (and `make` is false). */
  private child(parent: number, name: string, make = false): number {
    if (parent === -1) return -1;
    const key = `${parent}/${name}`;
    let n = this.nodes.get(key);
    if (n === undefined) {
      if (!make) return -1;
      n = this.nextNode++;
      this.nodes.set(key, n);
    }
    return n;
  }

  /** Why the link at `parts` (item id first) pointing to `target` leads outside its item once links are followed. */
  private escapes(parts: string[], target: string): string | null {
    const item = parts[0]!;
    const itemNode = this.child(0, item);
    // The real folders from the item root down to the link's folder, with their nodes (-1: no link below).
    const stack = parts.slice(1, -1);
    const nodes: number[] = [];
    let at = itemNode;
    for (const c of stack) nodes.push((at = this.child(at, c)));
    // Still to walk, next component last.
    const todo = splitTarget(target).reverse();
    let hops = 0;
    while (todo.length > 0) {
      if (++this.steps > this.maxSteps) {
        return `links that take more than ${this.maxSteps.toLocaleString('en-US')} steps to follow (a tangle, not a tree a disk held)`;
      }
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length === 0) return `link leaving its folder once the links it passes through are followed`;
        stack.pop();
        nodes.pop();
        continue;
      }
      const node = this.child(nodes.length === 0 ? itemNode : nodes[nodes.length - 1]!, c);
      const next = node === -1 ? undefined : this.linkAt.get(node);
      if (next === undefined) {
        stack.push(c);
        nodes.push(node);
        continue;
      }
      const here = [item, ...stack, c].join('/');
      if (++hops > MAX_LINK_HOPS) return 'a loop of links';
      if (next.startsWith('/') || /^[A-Za-z]:/.test(next) || next.includes('\\')) {
        return `link through ${here}, which points to an absolute path`;
      }
      const more = splitTarget(next);
      for (let k = more.length - 1; k >= 0; k--) todo.push(more[k]!);
    }
    return null;
  }
}

function splitTarget(t: string): string[] {
  return t.split('/');
}

export function matchesManifest(h: TarEntryHeader, m: ManifestLine | null): string | null {
  if (!m) return 'not listed in the inner manifest';
  if (m.path !== h.path) return `the inner manifest expects ${JSON.stringify(m.path)} here`;
  if (m.type !== h.type) return `it is a ${h.type}, the inner manifest says ${m.type}`;
  if (h.type === 'file' && m.size !== h.size) return `size ${h.size}, the inner manifest says ${m.size}`;
  if (h.type === 'symlink' && m.target !== h.linkpath) return 'symlink target differs from the inner manifest';
  return null;
}
