import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI_ENTRY = path.join(REPO, 'src-main/cli/bin.ts');
export const TSX_IMPORT = path.join(REPO, 'node_modules/tsx/dist/loader.mjs');

export interface CliResult {
  code: number;
  /** The signal that ended it ("SIGKILL" at a crash point), or null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * What runs `edge-recovery` after `node [nodeArgs]`: the program bundled from this run's sources by the suite's
 * globalSetup (tests/helpers/test-build.ts; no tsx loader in the process or its worker threads), or the sources
 * through tsx when the tests run without that setup.
 */
export function cliCommand(): string[] {
  const built = process.env.EDGE_RECOVERY_TEST_BUILD;
  return built ? [path.join(built, 'test-cli.mjs')] : ['--import', TSX_IMPORT, CLI_ENTRY];
}

/**
 * A file of the built program (`helper.js`, `renderer/index.html`): from this run's build (see cliCommand), else
 * from dist/, which only `npm run build` refreshes (a test reading it after a change to the sources without a
 * build tests the old code).
 */
export function builtFile(rel: string): string {
  return path.join(process.env.EDGE_RECOVERY_TEST_BUILD ?? path.join(REPO, 'dist'), rel);
}

/** Runs `edge-recovery …` (see cliCommand), as a real child process with no terminal. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; prefix?: string[]; nodeArgs?: string[] } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const argv = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), ...cliCommand(), ...args];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

/** The JSON lines of a --json run. */
export function jsonEvents(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
