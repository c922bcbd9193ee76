import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

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

function namedPlaces(env: NodeJS.ProcessEnv): string[] {
  return (env[OWN_FILESYSTEMS_ENV] ?? '').split(':').filter((p) => p.startsWith('/'));
}

/**
 * Whether the block device numbered `dev` (a stat's st_dev) is removable or on USB, by the kernel's word (sysfs: the
 * device's path names a USB port, or it or its disk says `removable`): a stick, a card, a USB disk. Not a block
 * device (tmpfs, overlay): false.
 */
export function removableDevice(dev: number, sys = '/sys'): boolean {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  let at: string;
  try {
    at = realpathSync(path.join(sys, 'dev', 'block', `${major}:${minor}`));
  } catch {
    return false;
  }
  if (/\/usb\d*(\/|$)/.test(at)) return true;
  for (const dir of [at, path.dirname(at)]) {
    try {
      if (readFileSync(path.join(dir, 'removable'), 'utf8').trim() === '1') return true;
    } catch {
      // a partition has no `removable` of its own: its disk says
    }
  }
  return false;
}

/**
 * The device numbers of this machine's own filesystems: those of `places` (SYSTEM_PLACES), except a removable or USB
 * device mounted on one of them other than / (a stick mounted at /srv or /opt: its owners were written wherever it
 * was formatted), and those root names in EDGE_RECOVERY_OWN_FILESYSTEMS (whatever they are: root's choice).
 */
export function ownDevices(env: NodeJS.ProcessEnv, places = SYSTEM_PLACES, sys = '/sys'): Set<number> {
  const devs = new Set<number>();
  const named = namedPlaces(env);
  for (const p of [...places, ...named]) {
    try {
      const st = statSync(p);
      if (!st.isDirectory()) continue;
      if (p !== '/' && !named.includes(p) && removableDevice(st.dev, sys)) continue;
      devs.add(st.dev);
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
  return otherFilesystemJudge(env)(place, dev);
}

/**
 * otherFilesystemProblem for many places at once (a program's package: thousands of entries), the machine's own
 * devices found once.
 */
export function otherFilesystemJudge(env = process.env): (place: string, dev: number) => string | null {
  const own = ownDevices(env);
  return (place, dev) =>
    own.has(dev)
      ? null
      : `${place} is on another filesystem than this machine's own (a stick, another disk): files there can be made root's on another machine`;
}
