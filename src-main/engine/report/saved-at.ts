import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { findMount, parseMounts } from '../media/mount-table.js';
import { isInside as inside } from '../util/path-inside.js';

/**
 * Where one copy of a report was saved, told apart for the technician: on the stick (which one: its label and
 * mount point) or on this machine. Files of one copy (JSON, HTML, PDF) share the folder.
 */
export interface SavedReport {
  where: 'stick' | 'machine';
  /** The folder holding the files. */
  dir: string;
  html: string | null;
  pdf: string | null;
  json: string | null;
  /** The stick's filesystem label, when it has one. */
  label: string | null;
  /** The stick's mount point, when the folder is on a mounted filesystem other than the machine's own. */
  mount: string | null;
}

/** The label of a block device from /dev/disk/by-label (names there are escaped like `\x20`). */
async function labelOf(device: string): Promise<string | null> {
  const dir = '/dev/disk/by-label';
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const real = await fsp.realpath(device).catch(() => device);
  for (const n of names) {
    const target = await fsp.realpath(path.join(dir, n)).catch(() => null);
    if (target === real) return n.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return null;
}

/**
 * Groups report files by folder and says for each whether it is this machine's copy (inside `machineDir`, the
 * state folder's reports) or the stick's (beside the backup). A stick copy is described by its filesystem's label
 * and mount point when it is on its own mounted filesystem.
 */
export async function savedPlaces(files: string[], machineDir: string, mountsText?: string): Promise<SavedReport[]> {
  const byDir = new Map<string, SavedReport>();
  let mounts: ReturnType<typeof parseMounts> | null = null;
  for (const f of files) {
    const dir = path.dirname(f);
    let s = byDir.get(dir);
    if (!s) {
      const machine = inside(path.resolve(machineDir), path.resolve(dir));
      s = { where: machine ? 'machine' : 'stick', dir, html: null, pdf: null, json: null, label: null, mount: null };
      if (!machine && process.platform === 'linux') {
        try {
          mounts ??= parseMounts(mountsText ?? readFileSync('/proc/self/mounts', 'utf8'));
          const real = await fsp.realpath(dir).catch(() => dir);
          const m = findMount(mounts, real);
          // Only a block device's own filesystem names a stick (a tmpfs /tmp or an overlay root does not).
          if (m && m.mountpoint !== '/' && m.device.startsWith('/dev/')) {
            s.mount = m.mountpoint;
            s.label = await labelOf(m.device);
          }
        } catch {
          // No mount table: the folder alone says where it is.
        }
      }
      byDir.set(dir, s);
    }
    if (f.endsWith('.html')) s.html = f;
    else if (f.endsWith('.pdf')) s.pdf = f;
    else if (f.endsWith('.json')) s.json = f;
  }
  // The stick first: it is the copy that goes with the ticket.
  return [...byDir.values()].sort((a, b) => (a.where === b.where ? 0 : a.where === 'stick' ? -1 : 1));
}

/** "on the stick EDGEBACKUP (mounted at /media/usb): <folder>" / "on this machine: <folder>". */
export function savedPlaceWords(s: SavedReport): string {
  if (s.where === 'machine') return `on this machine: ${s.dir}`;
  const which = [s.label ? `"${s.label}"` : '', s.mount ? `mounted at ${s.mount}` : ''].filter(Boolean).join(', ');
  return `on the stick${which ? ` (${which})` : ''}: ${s.dir}`;
}

/**
 * The report files as a step's summary says them: one folder at a time, its file names after it, the stick's copy
 * told from this machine's ("beside the backup in /m/stick/EdgeRecovery/box: report-….json, report-….html; on
 * this machine in /var/lib/edge-recovery/reports: …"). A list of full paths read, once the screen shortens each
 * path to its last name, as the same two files twice.
 */
export function reportFilesText(files: string[], machineDir: string): string {
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const dir = path.dirname(f);
    byDir.set(dir, [...(byDir.get(dir) ?? []), path.basename(f)]);
  }
  return [...byDir]
    .map(([dir, names]) => {
      const where = inside(path.resolve(machineDir), path.resolve(dir)) ? 'on this machine in' : 'beside the backup in';
      return `${where} ${dir}: ${names.join(', ')}`;
    })
    .join('; ');
}
