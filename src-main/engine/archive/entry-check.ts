import path from 'node:path';
import { RecoveryError } from '../errors.js';
import type { ManifestLine } from './manifest.js';
import type { TarEntryHeader } from './tar-header.js';

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

export function checkEntryShape(h: TarEntryHeader, itemIds: ReadonlySet<string>): string[] {
  const p = h.path;
  if (p === '') throw hostile(p, 'empty path');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\\')) throw hostile(p, 'absolute path');
  if (p.includes('\0')) throw hostile(p, 'NUL in the path');
  const parts = p.split('/');
  for (const c of parts) {
    if (c === '..') throw hostile(p, "'..' in the path");
    if (c === '' || c === '.') throw hostile(p, 'empty or "." path component');
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

/**
 * The one screen for every reader of a backup (`verify`, the restore's check, the extraction): the shape
 * rules of checkEntryShape, plus links resolved against the tree as seen so far. A link's target is walked
 * component by component; a component that is a link seen earlier is replaced by that link's target, as the
 * kernel would. So `s1 -> ..`, `s2 -> s1/..`, … `etc -> s12/etc`, each harmless alone, are refused together.
 * `finish()` resolves every link once more against the whole tree (a later link can change where an earlier
 * one leads). Memory: one entry per link, none per file.
 */
export class EntryScreen {
  private readonly links = new Map<string, string>();
  private count = 0;

  /** itemIds null: any item name the writer could have made (verify without a profile). */
  constructor(private readonly itemIds: ReadonlySet<string> | null) {}

  get entries(): number {
    return this.count;
  }

  check(h: TarEntryHeader): string[] {
    const ids = this.itemIds ?? new Set([h.path.split('/')[0]!].filter((c) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(c)));
    const parts = checkEntryShape(h, ids);
    this.count++;
    if (h.type === 'symlink') {
      this.links.set(h.path, h.linkpath ?? '');
      const why = this.escapes(parts);
      if (why !== null) throw hostile(h.path, why);
    } else if (this.links.has(h.path)) {
      throw hostile(h.path, 'duplicate entry (a link of that name came earlier)');
    }
    return parts;
  }

  finish(): void {
    for (const p of this.links.keys()) {
      const why = this.escapes(p.split('/'));
      if (why !== null) throw hostile(p, why);
    }
  }

  /** Why the link at `parts` (item id first) leads outside its item once links are followed, or null. */
  private escapes(parts: string[]): string | null {
    const item = parts[0]!;
    // The real folders from the item root down to the link's folder.
    const stack = parts.slice(1, -1);
    const todo: string[] = splitTarget(this.links.get(parts.join('/'))!);
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length === 0) return `link leaving its folder once the links it passes through are followed`;
        stack.pop();
        continue;
      }
      const here = [item, ...stack, c].join('/');
      const target = this.links.get(here);
      if (target === undefined) {
        stack.push(c);
        continue;
      }
      if (++hops > MAX_LINK_HOPS) return 'a loop of links';
      if (target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\')) {
        return `link through ${here}, which points to an absolute path`;
      }
      todo.unshift(...splitTarget(target));
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
