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

export function matchesManifest(h: TarEntryHeader, m: ManifestLine | null): string | null {
  if (!m) return 'not listed in the inner manifest';
  if (m.path !== h.path) return `the inner manifest expects ${JSON.stringify(m.path)} here`;
  if (m.type !== h.type) return `it is a ${h.type}, the inner manifest says ${m.type}`;
  if (h.type === 'file' && m.size !== h.size) return `size ${h.size}, the inner manifest says ${m.size}`;
  if (h.type === 'symlink' && m.target !== h.linkpath) return 'symlink target differs from the inner manifest';
  return null;
}
