/**
 * Archive benchmark: createArchive / verifyArchive against GNU `tar -czf` / `tar -tzf` on the same data,
 * same run. Each measurement runs in its own process so peak memory (maxRSS, worker included) is its own.
 *   npm run bench                 # A = 1 GiB of 1 MiB files, B = 100,000 × 10 KiB
 *   BENCH_SCALE=0.1 npm run bench # a tenth of that, for a quick look
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFiles } from '../tests/helpers/datasets.js';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');

interface Row {
  dataset: string;
  tool: string;
  seconds: number;
  mbps: number;
  ratio: string;
  peakMiB: number;
  /** Speed against GNU tar's matching row (-czf for create, -tzf for verify) of the same dataset. */
  vsGnu: string;
}

function runOurs(
  kind: 'create' | 'verify',
  dataDir: string,
  outDir: string,
  level: number,
): { seconds: number; bytes: number; archiveBytes: number; maxRssKiB: number } {
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'scripts/bench-measure.mjs'), kind, dataDir, outDir, String(level)],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`${kind} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

function runTimed(cmd: string, cwd: string): { seconds: number; maxRssKiB: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', 'sh', '-c', cmd], { cwd, encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const m = /MAXRSS (\d+)/.exec(r.stderr);
  return { seconds, maxRssKiB: m ? Number(m[1]) : 0 };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

async function main(): Promise<void> {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  const levels = (process.env.BENCH_LEVELS ?? '1,3').split(',').map(Number);
  const base = path.join(os.tmpdir(), 'edge-recovery-bench');
  const sets = [
    { name: 'A 1 MiB files', dir: path.join(base, `A-${scale}`), count: Math.round(1024 * scale), size: 1024 * 1024 },
    { name: 'B 10 KiB files', dir: path.join(base, `B-${scale}`), count: Math.round(100_000 * scale), size: 10 * 1024 },
  ];
  for (const s of sets) {
    if (!existsSync(path.join(s.dir, '.complete'))) {
      console.error(`generating ${s.name} (${s.count} files) in ${s.dir} …`);
      await fsp.rm(s.dir, { recursive: true, force: true });
      await makeFiles(s.dir, s.count, s.size);
      await fsp.writeFile(path.join(s.dir, '.complete'), '');
    }
  }
  const rows: Row[] = [];
  const mb = (b: number, s: number): number => b / 1e6 / s;
  for (const s of sets) {
    const content = dirBytes(s.dir);
    // Warm the page cache so the first tool is not penalised.
    execFileSync('sh', ['-c', `tar -cf - . > /dev/null`], { cwd: s.dir });
    const out = path.join(base, 'out');
    await fsp.rm(out, { recursive: true, force: true });
    await fsp.mkdir(out);
    const t = runTimed(`tar -czf ${out}/gnu.tar.gz .`, s.dir);
    const gnuSize = statSync(path.join(out, 'gnu.tar.gz')).size;
    rows.push({
      dataset: s.name,
      tool: 'GNU tar -czf',
      seconds: t.seconds,
      mbps: mb(content, t.seconds),
      ratio: (gnuSize / content).toFixed(3),
      peakMiB: t.maxRssKiB / 1024,
      vsGnu: '1.00×',
    });
    const tv = runTimed(`tar -tzf ${out}/gnu.tar.gz > /dev/null`, s.dir);
    rows.push({
      dataset: s.name,
      tool: 'GNU tar -tzf',
      seconds: tv.seconds,
      mbps: mb(content, tv.seconds),
      ratio: '',
      peakMiB: tv.maxRssKiB / 1024,
      vsGnu: '1.00×',
    });
    for (const level of levels) {
      const o = path.join(out, `ours-${level}`);
      await fsp.mkdir(o);
      const c = runOurs('create', s.dir, o, level);
      rows.push({
        dataset: s.name,
        tool: `createArchive L${level}`,
        seconds: c.seconds,
        mbps: mb(c.bytes, c.seconds),
        ratio: (c.archiveBytes / c.bytes).toFixed(3),
        peakMiB: c.maxRssKiB / 1024,
        vsGnu: `${(t.seconds / c.seconds).toFixed(2)}×`,
      });
      const v = runOurs('verify', s.dir, o, level);
      rows.push({
        dataset: s.name,
        tool: `verifyArchive L${level}`,
        seconds: v.seconds,
        mbps: mb(v.bytes, v.seconds),
        ratio: '',
        peakMiB: v.maxRssKiB / 1024,
        vsGnu: `${(tv.seconds / v.seconds).toFixed(2)}×`,
      });
    }
    await fsp.rm(out, { recursive: true, force: true });
  }
  console.log(`\nscale ${scale}, ${os.cpus().length} cores, node ${process.version}\n`);
  console.log(
    '| dataset | tool | seconds | MB/s | speed vs GNU tar | size ratio | peak MiB |\n|---|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    console.log(
      `| ${r.dataset} | ${r.tool} | ${r.seconds.toFixed(2)} | ${r.mbps.toFixed(1)} | ${r.vsGnu} | ${r.ratio} | ${r.peakMiB.toFixed(0)} |`,
    );
  }
}

if (!existsSync(path.join(root, 'dist/archive.js'))) throw new Error('run `npm run build` first (npm run bench does)');
await main();
