/**
 * The unprivileged side of the race tests (tests/engine/restore-races.test.ts, open-regular-race.test.ts): run as a real non-root user
 * (setpriv), it does what a service account or a local user could do while a root restore runs. Plain
 * JavaScript so it runs with bare `node`, without the repository's loaders. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [mode, ...args] = process.argv.slice(2);
const out = {};

function walk(dir, visit) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    visit(p, st);
    if (st.isDirectory()) walk(p, visit);
  }
}

if (mode === 'exec-setuid') {
  // Anything setuid we can reach: run it. Any folder open to all: plant a file in it.
  const [dir] = args;
  out.ran = [];
  out.planted = [];
  walk(dir, (p, st) => {
    if (st.isFile() && st.mode & 0o4000) {
      try {
        out.ran.push(`${p}: ${execFileSync(p, [], { encoding: 'utf8', timeout: 5000 }).trim()}`);
      } catch (e) {
        out.ran.push(`${p}: failed ${e.code || e.message}`);
      }
    }
    if (st.isDirectory() && st.mode & 0o002) {
      try {
        fs.writeFileSync(path.join(p, 'planted-by-racer'), 'x');
        out.planted.push(p);
      } catch {
        /* not writable after all */
      }
    }
  });
} else if (mode === 'swap-links') {
  // As the service account: swap every file of a folder for a link to a root-only file, again and again.
  const [dir, victim, stopFile, seconds] = args;
  const until = Date.now() + Number(seconds) * 1000;
  out.swapped = 0;
  while (Date.now() < until && !fs.existsSync(stopFile)) {
    let names;
    try {
      names = fs.readdirSync(dir).sort().reverse();
    } catch {
      continue;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      try {
        if (fs.lstatSync(p).isSymbolicLink() || n.endsWith('.tmp')) continue;
        // Atomically: the link replaces the file by rename, the name is never missing.
        fs.symlinkSync(victim, `${p}.tmp`);
        fs.renameSync(`${p}.tmp`, p);
        out.swapped++;
      } catch {
        /* not ours (yet) */
      }
    }
  }
} else if (mode === 'toggle-dir') {
  // As the service account: hold the set-aside folder open and keep swapping its sub-folders (`<sub>0`…`<sub>7`)
  // for links to a root-only folder and back, each at random, until the set-aside folder leaves its path (or
  // time runs out). A delete that checked "folder" and then descends by path lands in the root-only folder.
  const [parent, prefix, sub, victimDir, stopFile, seconds] = args;
  const until = Date.now() + Number(seconds) * 1000;
  out.toggles = 0;
  let fd = -1;
  let aside = null;
  const linked = new Set();
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  while (Date.now() < until && !fs.existsSync(stopFile)) {
    if (fd === -1) {
      const n = fs.readdirSync(parent).find((x) => x.startsWith(prefix));
      if (!n) continue;
      aside = path.join(parent, n);
      try {
        fd = fs.openSync(aside, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      } catch {
        continue;
      }
    }
    if (!fs.existsSync(aside)) break;
    const at = (x) => `/proc/self/fd/${fd}/${x}`;
    const k = Math.floor(Math.random() * 8);
    const name = `${sub}${k}`;
    try {
      if (linked.has(k)) {
        fs.unlinkSync(at(name));
        fs.renameSync(at(`${name}.real`), at(name));
        linked.delete(k);
      } else {
        fs.renameSync(at(name), at(`${name}.real`));
        fs.symlinkSync(victimDir, at(name));
        linked.add(k);
      }
      out.toggles++;
    } catch {
      /* mid-delete: keep trying */
    }
    nap(Math.random());
  }
} else if (mode === 'flip-link') {
  // As a local user, in a folder of its own: point the link `link` at folder A, then B, then A … as fast as it can
  // (a new link renamed over the old one: the name never goes missing), until `stopFile` exists or time runs out.
  const [link, a, b, stopFile, seconds] = args;
  const until = Date.now() + Number(seconds) * 1000;
  out.flips = 0;
  for (let i = 0; Date.now() < until && (i % 256 !== 0 || !fs.existsSync(stopFile)); i++) {
    fs.symlinkSync(i % 2 === 0 ? a : b, `${link}.tmp`);
    fs.renameSync(`${link}.tmp`, link);
    out.flips++;
  }
} else if (mode === 'flip-file') {
  // As a local user, in a folder of its own: make `file` a regular file (a hard link to `${file}.real`, which must
  // exist), then a link to `target`, then the file again … (renames: the name never goes missing).
  const [file, target, stopFile, seconds] = args;
  const until = Date.now() + Number(seconds) * 1000;
  out.flips = 0;
  for (let i = 0; Date.now() < until && (i % 256 !== 0 || !fs.existsSync(stopFile)); i++) {
    if (i % 2 === 0) fs.linkSync(`${file}.real`, `${file}.tmp`);
    else fs.symlinkSync(target, `${file}.tmp`);
    fs.renameSync(`${file}.tmp`, file);
    out.flips++;
  }
} else if (mode === 'replace-work-dir') {
  // As an account that can write the folder beside the restore's targets: move the restore's root-only work folder
  // aside (a rename in a folder it may write; the folder itself it cannot enter) and put a folder of its own by
  // that name, holding each staging folder with a file of its own.
  const stagings = args;
  out.moved = [];
  for (const work of new Set(stagings.map((s) => path.dirname(s)))) {
    try {
      fs.renameSync(work, `${work}.moved-by-racer`);
      out.moved.push(work);
    } catch (e) {
      out.moved.push(`${work}: ${e.code}`);
    }
  }
  out.planted = [];
  for (const s of stagings) {
    fs.mkdirSync(s, { recursive: true });
    fs.writeFileSync(path.join(s, 'planted-by-racer'), 'x');
    out.planted.push(s);
  }
} else if (mode === 'replace-work-dir-at-pause') {
  // As an account that can write the folder beside the restore's targets: wait until root's job holds at a pause
  // point (it writes `pauseFile`, in a folder of this account's, and waits until it is gone), then move every
  // root-only work folder there (.edge-recovery-*) aside and put a folder of its own, holding one file, by its name;
  // then let the job go on. The pause file is removed whatever happens, so the job never waits for ever.
  const [pauseFile, parent, seconds] = args;
  const until = Date.now() + Number(seconds) * 1000;
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  out.moved = [];
  while (Date.now() < until && !fs.existsSync(pauseFile)) nap(5);
  out.paused = fs.existsSync(pauseFile);
  try {
    if (out.paused) {
      for (const n of fs.readdirSync(parent)) {
        if (!n.startsWith('.edge-recovery-') || n.includes('moved-by-racer')) continue;
        const p = path.join(parent, n);
        try {
          if (fs.lstatSync(p).uid !== 0) continue; // one of its own, left by an earlier round
          fs.renameSync(p, `${p}.moved-by-racer`);
          fs.mkdirSync(p);
          fs.writeFileSync(path.join(p, 'planted-by-racer'), 'x');
          out.moved.push(p);
        } catch (e) {
          out.moved.push(`${p}: ${e.code}`);
        }
      }
    }
  } finally {
    fs.rmSync(pauseFile, { force: true });
  }
} else if (mode === 'flip-dir-link') {
  // As the account that owns the folder `dir` (in a sticky folder such as /tmp, where it may rename its own
  // entries): move it aside and put a link to `target` by its name, then put it back, as fast as it can, until
  // `stopFile` exists or time runs out. It ends with the folder back in place.
  const [dir, target, stopFile, seconds] = args;
  const until = Date.now() + Number(seconds) * 1000;
  out.flips = 0;
  out.errors = [];
  // Each state held a little while, the moments without the name (between two renames) as short as can be.
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  for (let i = 0; Date.now() < until && (i % 64 !== 0 || !fs.existsSync(stopFile)); i++) {
    try {
      fs.renameSync(dir, `${dir}.aside`);
      fs.symlinkSync(target, dir);
      out.flips++;
      nap(0.2);
      fs.unlinkSync(dir);
      fs.renameSync(`${dir}.aside`, dir);
      nap(0.2);
    } catch (e) {
      // Something else took the name meanwhile (root made a folder there): the flipping ends.
      out.errors.push(e.code);
      break;
    }
  }
} else if (mode === 'swap-mirror-tmp') {
  // As an account that may write a folder on the stick (its own EdgeRecovery/<device>): whenever root's mirror makes
  // its hidden copy folder there (.<set>.mirror-<pid>), move it aside and put a link by that name to `victim`, so a
  // copy written by path lands wherever the link leads.
  // (With a pattern: any new folder whose name matches it, e.g. a backup's set folder Backup_….)
  const [group, victim, stopFile, seconds, pattern] = args;
  const re = new RegExp(pattern ?? '^\\..*\\.mirror-\\d+$');
  const until = Date.now() + Number(seconds) * 1000;
  out.swapped = 0;
  for (let i = 0; Date.now() < until && (i % 256 !== 0 || !fs.existsSync(stopFile)); i++) {
    let names;
    try {
      names = fs.readdirSync(group);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!re.test(n) || n.includes('.aside-')) continue;
      const p = path.join(group, n);
      try {
        if (!fs.lstatSync(p).isDirectory()) continue;
        fs.renameSync(p, `${p}.aside-${out.swapped}`);
        fs.symlinkSync(victim, p);
        out.swapped++;
      } catch {
        /* lost this one */
      }
    }
  }
} else if (mode === 'rename-when-emptying') {
  // As an account that may write the stick's device folder: wait until root starts emptying the folder `watch`
  // (it held `count` entries; fewer now), then do the renames `from`→`to`, in order, at once (each a rename in a
  // folder this account may write: what is renamed may be root's own folder, whose content it cannot delete).
  const [watch, count, stopFile, seconds, ...pairs] = args;
  const until = Date.now() + Number(seconds) * 1000;
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  out.renamed = [];
  out.seen = false;
  while (Date.now() < until && !fs.existsSync(stopFile)) {
    let n;
    try {
      n = fs.readdirSync(watch).length;
    } catch {
      n = -1;
    }
    if (n >= 0 && n < Number(count)) {
      out.seen = true;
      break;
    }
    nap(2);
  }
  if (out.seen) {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      try {
        fs.renameSync(pairs[i], pairs[i + 1]);
        out.renamed.push(pairs[i + 1]);
      } catch (e) {
        out.renamed.push(`${pairs[i + 1]}: ${e.code}`);
      }
    }
  }
} else if (mode === 'rename-when-read') {
  // As an account that may write the stick's device folder: once `after` exists, wait until root reads the file
  // `bait` (a file of its own, its times set back so that a read moves its access time, relatime), then do the
  // renames `from`→`to`, in order, at once.
  const [bait, after, stopFile, seconds, ...pairs] = args;
  const until = Date.now() + Number(seconds) * 1000;
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  while (Date.now() < until && !fs.existsSync(stopFile) && !fs.existsSync(after)) nap(2);
  fs.utimesSync(bait, 1000, 1000);
  const first = fs.statSync(bait).atimeMs;
  out.renamed = [];
  out.seen = false;
  while (Date.now() < until && !fs.existsSync(stopFile)) {
    if (fs.statSync(bait).atimeMs !== first) {
      out.seen = true;
      break;
    }
    nap(2);
  }
  if (out.seen) {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      try {
        fs.renameSync(pairs[i], pairs[i + 1]);
        out.renamed.push(pairs[i + 1]);
      } catch (e) {
        out.renamed.push(`${pairs[i + 1]}: ${e.code}`);
      }
    }
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
