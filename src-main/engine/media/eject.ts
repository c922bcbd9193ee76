import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { findMount, parseMounts, type MountEntry } from './mount-table.js';
import { runTool } from './run-tool.js';

export interface EjectResult {
  ok: boolean;
  /** Plain words for the technician: what happened and what to do now. */
  message: string;
}

/** The whole disk a device belongs to (/dev/sdb1 → /dev/sdb), from sysfs; the device itself otherwise. */
async function wholeDisk(device: string): Promise<string> {
  const real = await fsp.realpath(device).catch(() => device);
  const name = path.basename(real);
  try {
    await fsp.access(`/sys/class/block/${name}/partition`);
    return '/dev/' + path.basename(path.dirname(await fsp.realpath(`/sys/class/block/${name}`)));
  } catch {
    return real;
  }
}

async function readMounts(): Promise<MountEntry[]> {
  return parseMounts(await fsp.readFile('/proc/self/mounts', 'utf8'));
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

async function ejectLinux(target: string): Promise<EjectResult> {
  let mounts = await readMounts();
  let device: string;
  const mine: MountEntry[] = [];
  if (target.startsWith('/dev/')) {
    device = target;
  } else {
    const real = await fsp.realpath(target).catch(() => path.resolve(target));
    const m = findMount(mounts, real);
    if (m === undefined || m.mountpoint !== real || m.mountpoint === '/') {
      return { ok: false, message: `Nothing is mounted at ${target}: there is no stick to eject there.` };
    }
    device = m.device;
    // Kept even when its source is not a /dev node (some FUSE mounts), so it is always unmounted.
    mine.push(m);
  }
  const disk = await wholeDisk(device);
  for (const m of mounts) {
    if (mine.includes(m)) continue;
    if (m.device.startsWith('/dev/') && (await wholeDisk(m.device)) === disk) mine.push(m);
  }
  if (mine.some((m) => m.mountpoint === '/')) {
    return { ok: false, message: `${disk} holds the system: the tool never ejects it.` };
  }

  // Flush everything first: umount also flushes, but a failed umount must not leave data unwritten.
  await runTool('sync', []);
  // Deepest first, so a mount inside another comes off before its parent.
  for (const m of [...mine].sort((a, b) => b.mountpoint.length - a.mountpoint.length)) {
    const r = await runTool('umount', [m.mountpoint]);
    mounts = await readMounts();
    if (mounts.some((x) => x.mountpoint === m.mountpoint && x.device === m.device)) {
      const busy = /busy/i.test(r.stderr);
      return {
        ok: false,
        message: busy
          ? `The stick is still in use at ${m.mountpoint}. Close any window, terminal or program using files on it, then eject again. Do not pull it out yet.`
          : `Could not unmount ${m.mountpoint}: ${firstLine(r.stderr) || 'umount failed'}. Do not pull the stick out yet.`,
      };
    }
  }

  const where = mine.length > 0 ? `Unmounted ${mine.map((m) => m.mountpoint).join(', ')}. ` : '';
  if (!disk.startsWith('/dev/')) return { ok: true, message: `${where}The stick can be pulled out now.` };
  const off = await runTool('udisksctl', ['power-off', '-b', disk]);
  if (off.missing) return { ok: true, message: `${where}The stick can be pulled out now.` };
  if (off.code !== 0) {
    return {
      ok: true,
      message: `${where}The stick can be pulled out now (it could not be powered off: ${firstLine(off.stderr) || 'udisksctl failed'}).`,
    };
  }
  return { ok: true, message: `${where}The stick is powered off and can be pulled out now.` };
}

async function ejectWindows(target: string): Promise<EjectResult> {
  const letter = /^([A-Za-z]):/.exec(target)?.[1]?.toUpperCase();
  if (letter === undefined) return { ok: false, message: `${target} is not a drive letter such as E:.` };
  if (`${letter}:` === (process.env.SystemDrive ?? 'C:').toUpperCase()) {
    return { ok: false, message: `${letter}: holds the system: the tool never ejects it.` };
  }
  // Shell.Application's Eject verb is what Explorer's "Eject" menu does; it needs no admin rights.
  // Namespace(17) is "This PC".
  const ps = `(New-Object -ComObject Shell.Application).Namespace(17).ParseName('${letter}:').InvokeVerb('Eject')`;
  const r = await runTool('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', ps]);
  if (r.code !== 0)
    return {
      ok: false,
      message: `Windows could not eject ${letter}: (${firstLine(r.stderr)}). Use "Safely Remove Hardware".`,
    };
  return {
    ok: true,
    message: `Windows was asked to eject ${letter}:. Pull the stick out once Windows says it is safe to remove.`,
  };
}

/**
 * Flushes, unmounts every mount of the stick and powers it off where udisks is available, so the
 * technician can pull it out without losing the end of the backup. Takes a mount point or a
 * device (/dev/sdb, /dev/sdb1; E: on Windows). Never throws: the answer is a message to show.
 */
export async function ejectDrive(mountpointOrDevice: string): Promise<EjectResult> {
  try {
    return process.platform === 'win32' ? await ejectWindows(mountpointOrDevice) : await ejectLinux(mountpointOrDevice);
  } catch (e) {
    return {
      ok: false,
      message: `Could not eject ${mountpointOrDevice}: ${e instanceof Error ? e.message : String(e)}. Do not pull the stick out yet.`,
    };
  }
}
