import { hostile } from './entry-check.js';

/**
 * How the folders of a hand-made archive are found: by folder name (the profile's item ids), at the top
 * (`Configuration/…`), under their parent (`EdgeDataStore/…`) or under the whole absolute path as
 * `tar czf x /usr/share/OSIsoft/EdgeDataStore` stores it (`usr/share/OSIsoft/EdgeDataStore/…`). The
 * folders above an item may be any trailing part of the item's own parent path on the appliance.
 */
export interface MapItem {
  id: string;
  /** The parent path's components on the appliance (`usr/share/OSIsoft/EdgeDataStore`), drive letter dropped. */
  parents: string[];
}

export interface Mapped {
  id: string;
  /** Components below the item folder. */
  rest: string[];
  /** The folders above the item folder in the archive, as stored ('' at the top). */
  base: string;
}

/** The item's parent components from its profile path (`%ProgramData%\OSIsoft\…` → `ProgramData/OSIsoft/…`). */
export function parentsOf(itemPath: string): string[] {
  const parts = itemPath
    .replace(/^[A-Za-z]:/, '')
    .replace(/%([A-Za-z_][A-Za-z0-9_()]*)%/g, '$1')
    .split(/[\\/]+/)
    .filter((c) => c !== '');
  return parts.slice(0, -1);
}

/**
 * Judges the stored name before anything else: absolute paths, drive letters, `..`, NUL — refused like our
 * own tar entries. Zip names may use `\` (Windows tools); tar names may not (it is a character in a Linux
 * name, and GNU tar would write a file called `a\b`). Returns the components, without `.` and empty ones.
 */
export function screenName(raw: string, zip: boolean): string[] {
  if (raw.includes('\0')) throw hostile(raw, 'NUL in the path');
  const p = zip ? raw.replace(/\\/g, '/') : raw;
  if (p.startsWith('/')) throw hostile(raw, 'absolute path');
  if (/^[A-Za-z]:/.test(p)) throw hostile(raw, 'a drive letter (absolute Windows path)');
  if (!zip && p.includes('\\')) throw hostile(raw, 'a backslash in the path');
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw hostile(raw, "'..' in the path");
  return parts;
}

function eq(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Whether `prefix` is a trailing part of `parents` (case-insensitive: Windows folder names). */
function isTail(prefix: string[], parents: string[]): boolean {
  if (prefix.length > parents.length) return false;
  const off = parents.length - prefix.length;
  return prefix.every((c, i) => eq(c, parents[off + i]!));
}

/** The item this path belongs to, or null: the first component naming an item whose prefix is allowed. */
export function mapPath(parts: string[], items: readonly MapItem[]): Mapped | null {
  for (let k = 0; k < parts.length; k++) {
    const it = items.find((i) => parts[k] === i.id) ?? items.find((i) => eq(parts[k]!, i.id));
    if (it && isTail(parts.slice(0, k), it.parents)) {
      return { id: it.id, rest: parts.slice(k + 1), base: parts.slice(0, k).join('/') };
    }
  }
  return null;
}

/** A folder above the items (`usr`, `usr/share`, …, `EdgeDataStore`): skipped without a word. */
export function isAncestor(parts: string[], items: readonly MapItem[]): boolean {
  return items.some((it) => {
    for (let s = 0; s <= it.parents.length; s++) {
      const tail = it.parents.slice(s);
      if (parts.length <= tail.length && parts.every((c, i) => eq(c, tail[i]!))) return true;
    }
    return false;
  });
}
