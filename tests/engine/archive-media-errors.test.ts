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
    // The job twice: in its worker thread (as a backup runs it), then on this thread, where an uncaught exception
    // after the failure is seen. One was: the failed write destroyed the compressor while other members were still
    // on the thread pool, their callbacks reset the destroyed stream ("zlib binding closed"), and the worker's host
    // reported whichever came first, that INTERNAL error or the job's FILE_TOO_LARGE (on a loaded machine, the first).
    await fsp.writeFile(
      script,
      `import { createArchive } from ${JSON.stringify(path.join(root, 'src-main/engine/archive/index.ts'))};
import { createArchiveJob } from ${JSON.stringify(path.join(root, 'src-main/engine/archive/create.ts'))};
import { toRecoveryError } from ${JSON.stringify(path.join(root, 'src-main/engine/errors.ts'))};
const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(String(e).split('\\n')[0]));
const opts = { items: [{ id: 'data', path: ${JSON.stringify(src)} }], outDir: ${JSON.stringify(out)} };
const said = (e) => ({ code: e.code, message: e.message, hint: e.hint });
const worker = await createArchive(opts, {}).then(() => ({ ok: true }), said);
const job = await createArchiveJob(opts, { progress: () => undefined, willCreate: () => undefined }).then(
  () => ({ ok: true }),
  (e) => said(toRecoveryError(e)),
);
// The pool's callbacks of the members still compressing run after the failure: give them time to.
await new Promise((r) => setTimeout(r, 500));
console.log(JSON.stringify({ worker, job, uncaught }));
`,
    );
    // bash counts ulimit -f in KiB: 4 MiB per file for this process (and its worker threads), a third of the
    // archive: the limit lands partway through it, while the members after it are still compressing.
    // Without the suite's build: the worker threads start from sources through worker-bootstrap.mjs, as they do in
    // `node --import tsx src-main/cli/bin.ts` (every other in-process test runs them from the bundle).
    const { EDGE_RECOVERY_TEST_BUILD: _built, ...env } = process.env;
    const r = spawnSync('bash', ['-c', `ulimit -f 4096; exec node --import tsx ${script}`], {
      cwd: root,
      encoding: 'utf8',
      env,
    });
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const tooLarge = {
      code: 'FILE_TOO_LARGE',
      message: expect.stringMatching(
        /^The medium refused a file this large \(.*\.data\.tar\.gz\.[0-9a-f]+\.partial\)\.$/,
      ),
      hint: expect.stringMatching(/FAT32 \(4 GiB per file\)\. Use --split-size/),
    };
    expect(last).toEqual({ worker: tooLarge, job: tooLarge, uncaught: [] });
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
