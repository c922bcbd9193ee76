// One measurement of the production archive engine (the esbuild bundle: no TypeScript compiler in memory),
// in its own process so its peak memory (maxRSS, worker thread included) is its own. Run by scripts/bench.ts.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createArchive, verifyArchive } from '../dist/archive.js';

const [kind, dataDir, outDir, level] = process.argv.slice(2);
const t0 = performance.now();
let bytes = 0;
let archiveBytes = 0;
if (kind === 'create') {
  const r = await createArchive({ items: [{ id: 'data', path: dataDir }], outDir, gzipLevel: Number(level) }, {});
  bytes = r.contentBytes;
  archiveBytes = r.archiveBytes;
  await fsp.writeFile(path.join(outDir, 'parts.json'), JSON.stringify(r.parts));
} else {
  const parts = JSON.parse(await fsp.readFile(path.join(outDir, 'parts.json'), 'utf8'));
  const r = await verifyArchive(outDir, { parts }, {});
  bytes = r.contentBytes;
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ seconds, bytes, archiveBytes, maxRssKiB: process.resourceUsage().maxRSS }));
