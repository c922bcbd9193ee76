import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * vitest globalSetup: builds the app once per test run, with scripts/build.mjs itself (the same bundles as dist/),
 * into node_modules/.cache/edge-recovery-tests/<hash of the sources>/dist, plus the restore driver of
 * tests/helpers/restore-driver.ts bundled beside it. The CLI and the drivers the tests start run from there
 * (EDGE_RECOVERY_TEST_BUILD, read by tests/helpers/cli.ts and restore-driver.ts), and the worker threads that
 * in-process engine calls start run its archive-worker.js (src-main/engine/util/worker.ts defaultWorkerEntry).
 *
 * Why: from sources every child process pays tsx's loader (~0.6 s of CPU before any of our code runs) and so does
 * every worker thread it starts (hashing, sizing, unpacking). A CLI backup of the practice appliance took
 * 8.3 s (5.1 s CPU) through tsx and 3.9 s (1.8 s CPU) from the bundle; the suite starts a few hundred of them.
 * The bundle is what users run, built from the sources of this very run (never a stale dist/); in-process engine
 * calls still run from sources, their worker threads from the bundle (three heavy engine files: 81-93 s of CPU
 * through tsx, 48-54 s bundled). A second run with unchanged sources reuses the folder.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BASE = path.join(REPO, 'node_modules/.cache/edge-recovery-tests');
const INPUTS = [
  'src-main',
  'src-renderer',
  'scripts/build.mjs',
  'vite.config.ts',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tests/helpers/restore-driver.ts',
  'tests/helpers/test-build.ts',
];

function sourcesHash(): string {
  const h = createHash('sha256');
  const add = (rel: string): void => {
    const abs = path.join(REPO, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) {
      for (const n of readdirSync(abs).sort()) add(path.join(rel, n));
      return;
    }
    h.update(`${rel}\0`).update(readFileSync(abs)).update('\0');
  };
  for (const i of INPUTS) add(i);
  return h.digest('hex').slice(0, 16);
}

async function buildInto(dist: string): Promise<void> {
  execFileSync(process.execPath, ['scripts/build.mjs'], {
    cwd: REPO,
    env: { ...process.env, EDGE_RECOVERY_BUILD_DIR: dist },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // The driver beside the engine's bundles: its worker threads start ./archive-worker.js and ./file-writer.js.
  await build({
    entryPoints: [path.join(REPO, 'tests/helpers/restore-driver.ts')],
    outfile: path.join(dist, 'restore-driver.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  // The program itself, as src-main/cli/bin.ts runs it (not bin/edge-recovery.js, whose quick answers for
  // --help/--version/profiles tests/engine/cli-help.test.ts compares with the program's own).
  await fsp.writeFile(
    path.join(dist, 'test-cli.mjs'),
    "import { main } from './cli.js';\n\nprocess.exit(await main(process.argv));\n",
  );
}

export default async function setup(): Promise<void> {
  const hash = sourcesHash();
  const dir = path.join(BASE, hash);
  if (!existsSync(path.join(dir, 'dist', 'test-cli.mjs'))) {
    await fsp.mkdir(BASE, { recursive: true });
    const tmp = await fsp.mkdtemp(path.join(BASE, `.building-${process.pid}-`));
    try {
      await buildInto(path.join(tmp, 'dist'));
      // Another run may have finished the same build meanwhile: then its copy stays.
      await fsp.rename(tmp, dir).catch(() => undefined);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }
  // Builds of earlier sources (a day old) go.
  for (const n of await fsp.readdir(BASE)) {
    const p = path.join(BASE, n);
    if (n !== hash && Date.now() - (await fsp.stat(p)).mtimeMs > 86_400_000) {
      await fsp.rm(p, { recursive: true, force: true });
    }
  }
  process.env.EDGE_RECOVERY_TEST_BUILD = path.join(dir, 'dist');
}
