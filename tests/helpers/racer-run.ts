import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';

/**
 * Runs tests/helpers/racer.mjs (the unprivileged side of the race tests) as a real account: setpriv with its uid and
 * gid and no other groups, under bare node. The racer prints one JSON line when it ends.
 */
const RACER = fileURLToPath(new URL('./racer.mjs', import.meta.url));

/** The command line that runs the racer in `mode` with `args` as `user`. */
export function racerArgv(user: string, args: string[]): string[] {
  return [
    'setpriv',
    `--reuid=${uidForUser(user)!}`,
    `--regid=${gidForGroup(user)!}`,
    '--clear-groups',
    process.execPath,
    RACER,
    ...args,
  ];
}

/** Runs the racer to its end and returns what it said. */
export function racerSync(user: string, args: string[]): Record<string, unknown> {
  const argv = racerArgv(user, args);
  return JSON.parse(execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 })) as Record<
    string,
    unknown
  >;
}

/** Starts the racer; resolves with what it said once it ends (a stop file, its time, or its work done). */
export function racerAsync(user: string, args: string[]): Promise<Record<string, unknown>> {
  const argv = racerArgv(user, args);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
