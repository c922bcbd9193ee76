import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
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
}

/**
 * Sizes folders without following links, in one walk: readdir with types, an lstat for regular files only.
 * Synchronous on purpose: it runs on a worker thread (archive worker job `tree.size`), reporting progress
 * as it goes; its totals are the backup's pre-check sizes and the archive's progress totals, so the source
 * is walked once before the real pass, not twice. Iterative, so deep trees cannot overflow the stack.
 */
export function treeSizes(roots: string[], progress?: ProgressSink): TreeSize[] {
  const meter = progress ? new ProgressMeter('scanning', { bytes: null, files: null }, progress) : null;
  const out = roots.map((root) => {
    const r: TreeSize = { exists: false, bytes: 0, files: 0, regularFiles: 0, dirs: 0, outsideLinks: [] };
    try {
      if (!lstatSync(root).isDirectory()) return r;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return r;
      throw e;
    }
    r.exists = true;
    const stack = [root];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const entries = raced(() => readdirSync(dir, { withFileTypes: true }));
      if (entries === null) continue;
      r.dirs++;
      // dir came from path.join or from here: a child's path is a concatenation (no normalizing per entry).
      const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
      for (const e of entries) {
        const p = prefix + e.name;
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
    return r;
  });
  meter?.flush();
  return out;
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
