// The bench's floor for a restore (scripts/bench.ts): one thread making, for every file of a tree, the calls our
// restore must make and nothing else (no reading of the backup, no inflation, no hash, no check), then one
// `sync -f` as ours does before its swap:
//   mkdir per folder; open O_CREAT|O_EXCL|O_NOFOLLOW with the mode, write, fchown, futimes, fstat, close per file.
// The file data is a reused buffer (content does not change these calls' cost). The tree is listed before the clock
// starts; `seconds` and `cpuSeconds` (this thread's user + system) count from the first folder made to the end of the
// flush. Prints one line of JSON: { files, dirs, bytes, seconds, cpuSeconds, peakMiB }.
//
//   node scripts/create-floor.mjs <source tree> <target folder (must not exist)> [uid gid]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const [src, dst, uidArg, gidArg] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: node scripts/create-floor.mjs <source tree> <target folder> [uid gid]');
  process.exit(2);
}
const uid = Number(uidArg ?? 65534);
const gid = Number(gidArg ?? 65534);

/** The tree, in the order a restore meets it: a folder, then its entries by name. */
const dirs = [];
const files = [];
const walk = (rel) => {
  dirs.push(rel);
  const entries = fs
    .readdirSync(path.join(src, rel), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) walk(r);
    else if (e.isFile()) files.push({ r, size: fs.lstatSync(path.join(src, r)).size, dirIndex: dirs.length });
  }
};
walk('.');

const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const CHUNK = 1024 * 1024;
const data = Buffer.alloc(CHUNK, 0x5a);
const mtime = 1_700_000_000;
let bytes = 0;
fs.mkdirSync(dst, { mode: 0o700 });
const t0 = performance.now();
const c0 = process.cpuUsage();
let madeDirs = 0;
for (const f of files) {
  // Folders as the walk met them, each before its first file.
  while (madeDirs < f.dirIndex) {
    if (dirs[madeDirs] !== '.') fs.mkdirSync(path.join(dst, dirs[madeDirs]), { mode: 0o700 });
    madeDirs++;
  }
  const fd = fs.openSync(path.join(dst, f.r), CREATE, 0o644);
  try {
    for (let left = f.size; left > 0; ) {
      const n = fs.writeSync(fd, data, 0, Math.min(CHUNK, left));
      left -= n;
    }
    fs.fchownSync(fd, uid, gid);
    fs.futimesSync(fd, mtime, mtime);
    fs.fstatSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  bytes += f.size;
}
for (; madeDirs < dirs.length; madeDirs++)
  if (dirs[madeDirs] !== '.') fs.mkdirSync(path.join(dst, dirs[madeDirs]), { mode: 0o700 });
const sync = spawnSync('sync', ['-f', dst]);
if (sync.status !== 0) throw new Error(`sync -f ${dst} failed`);
const seconds = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const cpuSeconds = (c.user + c.system) / 1e6;
const peakMiB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ files: files.length, dirs: dirs.length, bytes, seconds, cpuSeconds, peakMiB }));
