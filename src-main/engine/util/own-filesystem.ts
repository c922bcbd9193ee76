import { statSync } from 'node:fs';

/**
 * The folders whose filesystems are this machine's own. An owner is only a number written on the disk: a stick (or
 * any disk) formatted on another machine holds files of uid 0, mode 644, that nobody here made, and a FAT or exFAT
 * stick shows every file as root's. So a file on any other filesystem (a stick, another disk, a tmpfs) is not
 * trusted for its owner, whoever it says it belongs to: not as a profile (profiles/trust.ts), not as the program a
 * schedule starts as root, not as a state folder (util/job-lock.ts).
 */
export const SYSTEM_PLACES = ['/', '/etc', '/usr', '/usr/local', '/opt', '/var', '/srv'];

/**
 * More of this machine's own disks, by a folder on each (`EDGE_RECOVERY_OWN_FILESYSTEMS=/data:/data2`): a data disk
 * built into the machine and mounted elsewhere than SYSTEM_PLACES. Root's environment, set by whoever starts the tool
 * as root (no option, profile or page can set it); never a stick.
 */
export const OWN_FILESYSTEMS_ENV = 'EDGE_RECOVERY_OWN_FILESYSTEMS';

function ownPlaces(env: NodeJS.ProcessEnv): string[] {
  const more = (env[OWN_FILESYSTEMS_ENV] ?? '').split(':').filter((p) => p.startsWith('/'));
  return [...SYSTEM_PLACES, ...more];
}

function systemDevices(env: NodeJS.ProcessEnv): Set<number> {
  const devs = new Set<number>();
  for (const p of ownPlaces(env)) {
    try {
      const st = statSync(p);
      if (st.isDirectory()) devs.add(st.dev);
    } catch {
      // not there on this machine
    }
  }
  return devs;
}

/**
 * Why what lies at `place` (device number `dev`, from its lstat) is not on one of this machine's own filesystems,
 * or null when it is. Synchronous (a few stat calls): the job lock judges the state folder with it.
 */
export function otherFilesystemProblem(place: string, dev: number, env = process.env): string | null {
  if (systemDevices(env).has(dev)) return null;
  return `${place} is on another filesystem than this machine's own (a stick, another disk): files there can be made root's on another machine`;
}
