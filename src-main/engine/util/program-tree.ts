import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { resolveTrusted } from './linked-folder.js';
import { otherFilesystemJudge } from './own-filesystem.js';

/** The most entries a program's package may hold for its check (a production install has a few thousand). */
const MAX_ENTRIES = 400_000;

/**
 * Why the package a script belongs to could be changed by another account, or null. The scheduler starts
 * `node <script>` as root every night, and the script loads the rest of its package (`bin/edge-recovery.js` imports
 * `../dist/cli.js`, which loads `node_modules/…`): a checkout whose `dist/` (or any file or folder in it, or a
 * package it loads) another account may write had that account's code run as root, though the script itself and the
 * folders on the way to it were root's. The package is the nearest folder above the script that holds a
 * package.json; every entry below it (links followed, each followed folder once) must be root's (or this account's)
 * and not writable by group or others. A script in no package: null (the script alone was judged).
 */
export function programTreeProblem(script: string): string | null {
  if (process.platform === 'win32' || !/\.(c|m)?js$/.test(script)) return null;
  let root: string | null = null;
  for (let d = path.dirname(realpathSync(script)); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) {
      root = d;
      break;
    }
    if (d === path.dirname(d)) break;
  }
  if (root === null) return null;
  const me = process.geteuid?.() ?? 0;
  // Owners say nothing on a stick or another disk (its files are root's wherever it was written): every entry, and
  // where a link leads, must lie on this machine's own filesystems, as the script itself must.
  const foreign = otherFilesystemJudge();
  const seen = new Set<string>();
  const todo = [root];
  let count = 0;
  while (todo.length > 0) {
    const dir = todo.pop()!;
    const dst = statSync(dir);
    const key = `${dst.dev}:${dst.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const name of readdirSync(dir)) {
      if (++count > MAX_ENTRIES) return `${root} holds more than ${MAX_ENTRIES} files and folders to check`;
      const p = path.join(dir, name);
      const l = lstatSync(p);
      if (l.uid !== 0 && l.uid !== me) return `${p} belongs to uid ${l.uid}`;
      if (l.isSymbolicLink()) {
        // Where it leads, and every folder above that (the link itself lies in a folder judged here).
        let real: string;
        try {
          real = realpathSync(p);
        } catch {
          continue; // leads nowhere: nothing is loaded through it
        }
        // Where it leads, judged as the script's own path is (resolveTrusted: every folder on the way root's and not
        // writable by others, a sticky folder of root's only for root's entries, as /tmp).
        try {
          resolveTrusted(real, (place, why) => new Error(`${p} leads to ${real}, in ${path.dirname(place)}: ${why}`));
        } catch (e) {
          return (e as Error).message;
        }
        const st = statSync(real);
        const away = foreign(real, st.dev);
        if (away !== null) return `${p} leads to ${real}: ${away}`;
        if (st.uid !== 0 && st.uid !== me) return `${p} leads to ${real}, which belongs to uid ${st.uid}`;
        if ((st.mode & 0o022) !== 0) {
          return `${p} leads to ${real}, which is writable by others (mode ${(st.mode & 0o7777).toString(8)})`;
        }
        if (st.isDirectory()) todo.push(real);
        continue;
      }
      if ((l.mode & 0o022) !== 0) return `${p} is writable by others (mode ${(l.mode & 0o7777).toString(8)})`;
      const away = foreign(p, l.dev);
      if (away !== null) return away;
      if (l.isDirectory()) todo.push(p);
    }
  }
  return null;
}
