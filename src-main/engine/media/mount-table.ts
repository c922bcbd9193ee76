import path from 'node:path';

/** One line of /proc/mounts (or /proc/self/mounts), with the kernel's octal escapes decoded. */
export interface MountEntry {
  device: string;
  mountpoint: string;
  fsType: string;
  options: string[];
}

/** The kernel writes space, tab, newline and backslash in mount fields as `\040`, `\011`, `\012`, `\134`. */
export function decodeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[0] === undefined || f[1] === undefined || f[2] === undefined || f[3] === undefined) continue;
    out.push({
      device: decodeMountField(f[0]),
      mountpoint: decodeMountField(f[1]),
      fsType: f[2],
      options: f[3].split(','),
    });
  }
  return out;
}

function isInside(child: string, parent: string): boolean {
  if (parent === '/') return child.startsWith('/');
  return child === parent || child.startsWith(parent + path.posix.sep);
}

/**
 * The mount that holds `realPath`: the longest mount point that is a prefix of it. When two
 * mounts share a mount point the later line wins, because the later mount hides the earlier one.
 */
export function findMount(entries: MountEntry[], realPath: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const e of entries) {
    if (!isInside(realPath, e.mountpoint)) continue;
    if (best === undefined || e.mountpoint.length >= best.mountpoint.length) best = e;
  }
  return best;
}

export function isFuseType(fsType: string): boolean {
  return fsType === 'fuse' || fsType === 'fuseblk' || fsType.startsWith('fuse.');
}

/**
 * The filesystem behind a FUSE mount, from its subtype (`fuse.exfat` → exfat). `fuseblk` names no
 * subtype (ntfs-3g, exfat-fuse on some versions): the caller asks blkid about the device then.
 */
export function fuseSubtype(fsType: string): string | null {
  if (!fsType.startsWith('fuse.')) return null;
  const sub = fsType.slice('fuse.'.length).toLowerCase();
  if (sub === 'fusefat') return 'vfat';
  if (sub === 'ntfs-3g' || sub === 'ntfs3g') return 'ntfs';
  if (sub === 'exfat-fuse') return 'exfat';
  return sub;
}
