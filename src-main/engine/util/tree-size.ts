import { type Dirent, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { symlinkEscapes } from '../archive/entry-check.js';
import { ProgressMeter, type ProgressSink } from '../progress.js';

export interface TreeSize {
  exists: boolean;
  bytes: number;
  /** Everything that is not a folder: regular files, links and others. */
  files: number;
  /** Regular files only (what the archive copies and counts in its progress). */
  regularFiles: number;
  dirs: number;
  /** Symlinks whose target leaves the folder (absolute, or escaping with ..): relative path and target. */
  outsideLinks: { path: string; target: string }[];
  /**
   * Entries whose name is not UTF-8 (an ISO-8859-1 name from an old tool, a zip unpacked without its code page):
   * Node reads such a name with U+FFFD in place of the bad bytes and cannot open it by that name, so the backup
   * cannot archive it. Relative paths with the bad bytes as \xHH. Absent when there are none.
   */
  undecodable?: string[];
}

/**
 * Two walkers share a walk: both list each root, the first also counts the root's own entries that are not
 * folders, and its sub-folders are claimed one at a time through a shared counter per root (`Atomics.add`), each
 * walked whole by the walker that claimed it. Both list the same folder, so the claims name the same sub-folders;
 * if the root changes between the two listings, a sub-folder may be counted twice or not at all, which only moves
 * an estimate (the walk never acts on what it finds).
 */
export interface WalkShare {
  /** One counter per root: the next of its sub-folders to be claimed. */
  claims: Int32Array;
  /** 0 or 1: walker 0 counts the roots themselves and their entries that are not folders. */
  part: number;
}

/**
 * Sizes folders without following links, in one walk: readdir with types, an lstat for regular files only.
 * Synchronous on purpose: it runs on a worker thread (archive worker job `tree.size`), reporting progress
 * as it goes; its totals are the backup's pre-check sizes and the archive's progress totals, so the source
 * is walked once before the real pass, not twice. Iterative, so deep trees cannot overflow the stack.
 * With `share`, this is one of two walkers that split the roots' sub-folders between them (see `WalkShare`).
 */
export function treeSizes(roots: string[], progress?: ProgressSink, share?: WalkShare): TreeSize[] {
  const meter = progress ? new ProgressMeter('scanning', { bytes: null, files: null }, progress) : null;
  const out = roots.map((root, ri) => {
    const r: TreeSize = { exists: false, bytes: 0, files: 0, regularFiles: 0, dirs: 0, outsideLinks: [] };
    try {
      if (!lstatSync(root).isDirectory()) return r;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return r;
      throw e;
    }
    r.exists = true;
    const stack: string[] = [];
    const drain = (): void => {
      while (stack.length > 0) {
        const dir = stack.pop()!;
        const entries = raced(() => readdirSync(dir, { withFileTypes: true }));
        if (entries === null) continue;
        r.dirs++;
        countEntries(root, dir, entries, r, stack, meter);
      }
    };
    if (!share) {
      stack.push(root);
      drain();
      return r;
    }
    const entries = raced(() => readdirSync(root, { withFileTypes: true }));
    if (entries === null) return r;
    const prefix = root.endsWith(path.sep) ? root : root + path.sep;
    const subfolders: string[] = [];
    for (const e of entries) if (e.isDirectory()) subfolders.push(prefix + e.name);
    if (share.part === 0) {
      r.dirs++;
      countEntries(
        root,
        root,
        entries.filter((e) => !e.isDirectory()),
        r,
        stack,
        meter,
      );
      drain();
    }
    for (let k = Atomics.add(share.claims, ri, 1); k < subfolders.length; k = Atomics.add(share.claims, ri, 1)) {
      stack.push(subfolders[k]!);
      drain();
    }
    return r;
  });
  meter?.flush();
  return out;
}

/** Counts one folder's entries into `r`; sub-folders go onto `stack`. */
function countEntries(
  root: string,
  dir: string,
  entries: Dirent[],
  r: TreeSize,
  stack: string[],
  meter: ProgressMeter | null,
): void {
  // dir came from path.join or from here: a child's path is a concatenation (no normalizing per entry).
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  for (const e of entries) {
    const p = prefix + e.name;
    if (e.name.includes('\ufffd') && lstatSync(p, { throwIfNoEntry: false }) === undefined) {
      (r.undecodable ??= []).push(...rawNames(root, dir, e.name));
      continue;
    }
    // A folder someone else can write to may change under the walk: an entry gone or of another kind
    // by the time we look is skipped (this only measures; it never acts on what it finds).
    try {
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        const size = lstatSync(p).size;
        r.files++;
        r.regularFiles++;
        r.bytes += size;
        meter?.add(size, 1, p);
      } else if (e.isSymbolicLink()) {
        r.files++;
        const target = readlinkSync(p);
        const rel = path.relative(root, dir).split(path.sep).filter(Boolean);
        if (symlinkEscapes(rel, target) !== null) r.outsideLinks.push({ path: path.relative(root, p), target });
      } else if (e.isBlockDevice() || e.isCharacterDevice() || e.isFIFO() || e.isSocket()) {
        r.files++;
      } else {
        // DT_UNKNOWN (some filesystems): ask lstat.
        const st = lstatSync(p);
        if (st.isDirectory()) stack.push(p);
        else {
          r.files++;
          if (st.isFile()) {
            r.regularFiles++;
            r.bytes += st.size;
            meter?.add(st.size, 1, p);
          }
        }
      }
    } catch (err) {
      if (!isRace(err)) throw err;
    }
  }
}

/** Adds up the two walkers' sizes of each root (links that leave it sorted by path, as one walker would not). */
export function mergeTreeSizes(a: TreeSize[], b: TreeSize[]): TreeSize[] {
  return a.map((x, i) => {
    const y = b[i]!;
    return {
      exists: x.exists || y.exists,
      bytes: x.bytes + y.bytes,
      files: x.files + y.files,
      regularFiles: x.regularFiles + y.regularFiles,
      dirs: x.dirs + y.dirs,
      outsideLinks: [...x.outsideLinks, ...y.outsideLinks].sort((l, m) =>
        l.path < m.path ? -1 : l.path > m.path ? 1 : 0,
      ),
      ...(x.undecodable || y.undecodable ? { undecodable: [...(x.undecodable ?? []), ...(y.undecodable ?? [])] } : {}),
    };
  });
}

/** What vanished or changed kind meanwhile (ENOENT, ENOTDIR, EINVAL). */
function isRace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL';
}

/** Runs `fn`; null when what it looked at vanished or changed kind meanwhile. */
function raced<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (e) {
    if (isRace(e)) return null;
    throw e;
  }
}

/** The names in `dir` that read as `decoded` but are not UTF-8, relative to `root`, bad bytes as \xHH. */
function rawNames(root: string, dir: string, decoded: string): string[] {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const rel = path.relative(root, dir);
  const out: string[] = [];
  for (const b of readdirSync(dir, { encoding: 'buffer' })) {
    if (b.toString('utf8') !== decoded) continue;
    try {
      strict.decode(b);
    } catch {
      let shown = '';
      for (let i = 0; i < b.length; ) {
        const c = b[i]!;
        if (c >= 0x20 && c < 0x7f) {
          shown += String.fromCharCode(c);
          i++;
        } else {
          shown += `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
          i++;
        }
      }
      out.push(rel === '' ? shown : `${rel}/${shown}`);
    }
  }
  return out;
}
