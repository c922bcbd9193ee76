import { execFile } from 'node:child_process';
import os from 'node:os';
import { childEnv } from '../engine/util/child-env.js';
import type { Profile } from '../engine/profiles/schema.js';
import { gidForGroup, uidForUser } from '../engine/util/system-users.js';

/** root on Linux/macOS; on Windows, `net session` only succeeds in an elevated process. */
export async function isElevated(): Promise<boolean> {
  if (process.platform === 'win32') {
    return new Promise((resolve) => {
      execFile('net', ['session'], { windowsHide: true, timeout: 10_000, env: childEnv() }, (err) =>
        resolve(err === null),
      );
    });
  }
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export interface PrivilegeProblem {
  code: string;
  message: string;
}

function currentUserName(): string | undefined {
  try {
    return os.userInfo().username;
  } catch {
    return undefined;
  }
}

/**
 * What stops this process from running the profile's runbooks, before anything is touched: a technician
 * should learn "run as root" on the first screen, not after the service was stopped.
 */
export function privilegeProblems(
  profile: Profile,
  opts: { elevated: boolean; platform?: NodeJS.Platform },
): PrivilegeProblem[] {
  const platform = opts.platform ?? process.platform;
  const problems: PrivilegeProblem[] = [];
  const admin = platform === 'win32' ? 'Administrator' : 'root';
  if (!opts.elevated) {
    const m = profile.service.manager;
    if (m === 'systemd' || m === 'runit' || m === 'windows') {
      problems.push({
        code: 'PERMISSION_DENIED',
        message: `Stopping and starting the service ${profile.service.name} needs ${admin} rights.`,
      });
    }
    const owner = profile.ownership;
    if (owner && platform !== 'win32' && owner.user !== currentUserName()) {
      problems.push({
        code: 'PERMISSION_DENIED',
        message: `Restored files must belong to ${owner.user}:${owner.group}; only root can set that owner.`,
      });
    }
  }
  if (profile.ownership && platform !== 'win32') {
    const { user, group } = profile.ownership;
    if (uidForUser(user) === undefined) {
      problems.push({
        code: 'USER_MISSING',
        message: `The user ${user} does not exist on this machine. Install the product first.`,
      });
    }
    if (gidForGroup(group) === undefined) {
      problems.push({
        code: 'USER_MISSING',
        message: `The group ${group} does not exist on this machine. Install the product first.`,
      });
    }
  }
  return problems;
}

/** Relaunching elevated only helps with missing rights, and only where we know how to elevate. */
export function canElevateFor(problems: PrivilegeProblem[], elevated: boolean, platform = process.platform): boolean {
  return (
    !elevated && (platform === 'linux' || platform === 'win32') && problems.some((p) => p.code === 'PERMISSION_DENIED')
  );
}
