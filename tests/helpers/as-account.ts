import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { createLoopMount, type LoopMount } from './loop-device.js';

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

/** Gives `dirs` to `user` (its uid and group). */
export async function giveTo(user: string, ...dirs: string[]): Promise<void> {
  for (const d of dirs) await fsp.chown(d, uidForUser(user)!, gidForGroup(user)!);
}

/**
 * A loop-mounted ext4 stick of `mb` MiB that is `user`'s own (as its own stick is, or a FAT stick the desktop mounts
 * for the desktop user): its top folder, `EdgeRecovery` and the device folders `devices` in it are that account's.
 */
export async function accountStick(user: string, mb: number, devices: string[] = []): Promise<LoopMount> {
  const stick = await createLoopMount(mb);
  await fsp.chmod(path.dirname(stick.mountpoint), 0o755);
  const edge = path.join(stick.mountpoint, 'EdgeRecovery');
  await fsp.mkdir(edge, { mode: 0o755 });
  await giveTo(user, stick.mountpoint, edge);
  for (const d of devices) {
    await fsp.mkdir(path.join(edge, d), { mode: 0o755 });
    await giveTo(user, path.join(edge, d));
  }
  return stick;
}
