import { execFileSync } from 'node:child_process';
import { mkdtempSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import type * as Serve from '../../../src-main/server/serve.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface WizardServer {
  url: string;
  token: string;
  /** Temp folder holding the built renderer, state and the practice sandbox. */
  dir: string;
  /** The state folder serve runs with (what `serve --new-link --state-dir` needs). */
  stateDir: string;
  close(): Promise<void>;
}

let built: Promise<{ rendererDir: string; bridgeFile: string }> | undefined;

/**
 * Builds the real renderer with the project's vite.config.ts (into a temp folder, so a concurrent `npm run build`
 * cannot wipe it mid-test) and the browser bridge with esbuild, once per test file.
 */
export function buildRenderer(): Promise<{ rendererDir: string; bridgeFile: string }> {
  built ??= (async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'erw-renderer-'));
    const rendererDir = path.join(out, 'renderer');
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error', '--outDir', rendererDir],
      {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const bridgeFile = path.join(out, 'bridge.js');
    await build({
      entryPoints: [path.join(ROOT, 'src-main/server/browser-bridge.ts')],
      outfile: bridgeFile,
      bundle: true,
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      logLevel: 'error',
    });
    return { rendererDir, bridgeFile };
  })();
  return built;
}

/** `edge-recovery serve --practice` in-process: the real engine behind the real built renderer. */
export async function startPracticeServer(): Promise<WizardServer> {
  const { rendererDir, bridgeFile } = await buildRenderer();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-e2e-'));
  const stateDir = path.join(dir, 'state');
  const practiceBaseDir = path.join(dir, 'practice');
  await fsp.mkdir(stateDir, { recursive: true });
  await fsp.mkdir(practiceBaseDir, { recursive: true });
  const { startServer } = (await import(path.join(ROOT, 'src-main/server/serve.ts'))) as typeof Serve;
  // The control socket answers `edge-recovery serve --new-link --state-dir <stateDir>` (the way back in).
  const s = await startServer({ practice: true, stateDir, rendererDir, bridgeFile, practiceBaseDir, control: true });
  return {
    url: s.url,
    token: s.token,
    dir,
    stateDir,
    close: async () => {
      await s.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
