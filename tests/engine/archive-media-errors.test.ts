import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive } from '../../src-main/engine/archive/index.js';
import { makeFiles, tempDir } from '../helpers/datasets.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let work: string;
let src: string;

beforeAll(async () => {
  work = await tempDir('archive-media');
  src = path.join(work, 'src');
  // ~24 MiB of random-ish data: larger than the 8 MiB stick even after gzip.
  await makeFiles(src, 12, 2 * 1024 * 1024);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('createArchive on a failing medium', () => {
  let stick: LoopMount | undefined;
  afterAll(async () => {
    await stick?.cleanup();
  });

  it.skipIf(skipLoopTests)(
    `reports a full stick as MEDIUM_FULL and leaves no .partial (${loopMountUnavailable ?? 'loop ext4'})`,
    async () => {
      stick = await createLoopMount(8);
      const out = path.join(stick.mountpoint, 'backup');
      await fsp.mkdir(out);
      const err = await createArchive(
        { items: [{ id: 'data', path: src }], outDir: out, splitSize: 4 * 1024 * 1024 },
        {},
      ).catch((e) => e);
      expect(err).toMatchObject({ code: 'MEDIUM_FULL' });
      expect(err.message).toContain(out);
      expect(readdirSync(out)).toEqual([]);
    },
  );

  it('reports the file size limit (ulimit -f, as FAT32 does at 4 GiB) as FILE_TOO_LARGE and leaves no .partial', async () => {
    const out = path.join(work, 'efbig');
    await fsp.mkdir(out);
    const script = path.join(work, 'efbig.mts');
    await fsp.writeFile(
      script,
      `import { createArchive } from ${JSON.stringify(path.join(root, 'src-main/engine/archive/index.ts'))};
try {
  await createArchive({ items: [{ id: 'data', path: ${JSON.stringify(src)} }], outDir: ${JSON.stringify(out)} }, {});
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}
`,
    );
    // 4096 blocks of 512 bytes = 2 MiB per file for this process (and its worker thread).
    const r = spawnSync('bash', ['-c', `ulimit -f 4096; exec node --import tsx ${script}`], {
      cwd: root,
      encoding: 'utf8',
    });
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(readdirSync(out)).toEqual([]);
  });

  it('reports the output folder vanishing mid-write as MEDIUM_GONE', async () => {
    const out = path.join(work, 'vanishing');
    await fsp.mkdir(out);
    let removed = false;
    const err = await createArchive(
      { items: [{ id: 'data', path: src }], outDir: out, splitSize: 1024 * 1024, gzipLevel: 6 },
      {
        onProgress: (p) => {
          if (!removed && p.bytes > 0) {
            removed = true;
            execFileSync('rm', ['-rf', out]);
          }
        },
      },
    ).catch((e) => e);
    expect(removed).toBe(true);
    expect(err).toMatchObject({ code: 'MEDIUM_GONE' });
  });
});
