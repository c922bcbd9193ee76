import { execFileSync } from 'node:child_process';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';

/**
 * The race tests' other account: a real unprivileged user (ensureTestOwner) doing what it may, through setpriv with
 * its uid and group and no supplementary groups.
 */

/** setpriv's arguments that run `cmd` as `user` (for spawn('setpriv', …) when the test races it). */
export function asAccountArgs(user: string, ...cmd: string[]): string[] {
  return [`--reuid=${uidForUser(user)!}`, `--regid=${gidForGroup(user)!}`, '--clear-groups', ...cmd];
}

/** Runs `cmd` as `user` and waits for it (throws if it fails). */
export function runAs(user: string, ...cmd: string[]): void {
  execFileSync('setpriv', asAccountArgs(user, ...cmd));
}

/** Runs the shell `script` as `user`, with `args` as $1 … */
export function shAs(user: string, script: string, ...args: string[]): void {
  runAs(user, 'sh', '-c', script, 'sh', ...args);
}
