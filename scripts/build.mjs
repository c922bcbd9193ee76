// Builds everything the app and the CLI run from: Node bundles with esbuild, the renderer with Vite.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const define = { __TOOL_VERSION__: JSON.stringify(pkg.version) };
// Native and ESM-only packages stay in node_modules (electron-builder ships them); our code is bundled.
const external = [
  'electron',
  'drivelist',
  'node-disk-info',
  // The job lock's native module: require-addon finds its prebuilds beside its own index.js, not in a bundle.
  'fs-native-extensions',
  'age-encryption',
  'tar',
  'ws',
  'zod',
  'commander',
  'tsx',
  'tsx/*',
];
// ESM bundles that still meet CommonJS `require` of built-ins inside dependencies.
const banner = {
  js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
};

// Where the build goes: dist/ (what the app, the CLI and the package use). The test suite builds the same into a
// folder of its own (tests/helpers/test-build.ts), named by its sources' hash, so the CLI and restore drivers it
// starts run plain JavaScript instead of paying tsx's loader in every process and worker thread.
const OUT = process.env.EDGE_RECOVERY_BUILD_DIR ?? 'dist';
rmSync(OUT, { recursive: true, force: true });

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  define,
  external,
  banner,
  logLevel: 'warning',
};
const entries = [
  ['src-main/practice/appliance.ts', `${OUT}/practice-appliance.js`],
  ['src-main/practice/standins/standin.ts', `${OUT}/practice-standin.js`],
  ['src-main/main/main.ts', `${OUT}/main.js`],
  // The privileged helper for plain Node (tests; the Electron build runs it inside its own binary).
  ['src-main/host/helper-main.ts', `${OUT}/helper.js`],
];
await Promise.all([
  ...entries
    .filter(([src]) => existsSync(src))
    .map(([src, outfile]) => build({ ...node, entryPoints: [src], outfile })),
  // The CLI in chunks: each command's engine parts (and their packages: zod, ws, age) load when the command
  // runs, not at start-up. Chunks sit beside cli.js so `import.meta.url`-relative paths (the archive worker,
  // the renderer) are the same as from one file.
  build({
    ...node,
    entryPoints: { cli: 'src-main/cli/main.ts' },
    outdir: OUT,
    splitting: true,
    chunkNames: 'cli-[name]-[hash]',
  }),
  // The archive worker, in chunks too: each job loads its own code (age only for encrypted jobs).
  build({
    ...node,
    entryPoints: {
      'archive-worker': 'src-main/engine/archive/archive-worker.ts',
      // The extraction's small-file writer threads (started by the archive worker).
      'file-writer': 'src-main/engine/archive/file-writer-worker.ts',
    },
    outdir: OUT,
    splitting: true,
    chunkNames: 'worker-[name]-[hash]',
  }),
]);
if (existsSync('src-main/preload/preload.ts')) {
  // Sandboxed preloads cannot load ESM or node_modules: one CommonJS file, only `electron` external.
  await build({
    entryPoints: ['src-main/preload/preload.ts'],
    outfile: `${OUT}/preload.cjs`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['electron'],
    minify: true,
    logLevel: 'warning',
  });
}
if (existsSync('vite.config.ts')) {
  execFileSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn', '--outDir', path.resolve(OUT, 'renderer')],
    { stdio: 'inherit' },
  );
}
if (existsSync('src-main/server/browser-bridge.ts')) {
  await build({
    entryPoints: ['src-main/server/browser-bridge.ts'],
    outfile: `${OUT}/renderer/bridge.js`,
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    minify: true,
    logLevel: 'warning',
  });
}
// `--help`, `--version` and `profiles` answered by bin/edge-recovery.js without loading the program (issue 9:
// start-up CPU); made from the program itself, so they cannot drift from it (tests/engine/cli-help.test.ts).
{
  const { quickAnswers } = await import(pathToFileURL(path.resolve(OUT, 'cli.js')).href);
  writeFileSync(`${OUT}/cli-quick.json`, JSON.stringify(await quickAnswers()) + '\n');
}
console.log(`built ${OUT}/`);
