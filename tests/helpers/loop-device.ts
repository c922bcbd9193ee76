import { execFileSync } from 'node:child_process';
import { promises as fsp, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LoopMount {
  /** Where the ext4 image is mounted (a real mount point; name may contain spaces). */
  mountpoint: string;
  /** The loop device, e.g. /dev/loop3. */
  device: string;
  /** The backing image file. */
  image: string;
  /** Unmounts (if still mounted), detaches the loop device and removes the image. Safe to call twice. */
  cleanup: () => Promise<void>;
}

function which(cmd: string): boolean {
  return ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(path.join(d, cmd)));
}

/**
 * Why loop mounts cannot be made here, or null when they can. Tests skip with this reason
 * outside CI and fail in CI (createLoopMount throws there).
 */
export const loopMountUnavailable: string | null = (() => {
  if (process.platform !== 'linux') return 'loop mounts need Linux';
  if (process.getuid?.() !== 0) return 'loop mounts need root';
  for (const t of ['losetup', 'mkfs.ext4', 'mount', 'umount', 'truncate']) {
    if (!which(t)) return `${t} is not installed (apt-get install e2fsprogs util-linux mount)`;
  }
  return null;
})();

/** Skip outside CI, run (and fail loudly) in CI. */
export const skipLoopTests = loopMountUnavailable !== null && !process.env.CI;

/**
 * Why a FAT32 stick cannot be made here, or null. The kernel here has no vfat: FAT32 is fusefat (FUSE), as on any
 * machine without the module. CI installs fusefat and dosfstools.
 */
export const fatStickUnavailable: string | null = (() => {
  if (loopMountUnavailable !== null) return loopMountUnavailable;
  for (const t of ['mkfs.vfat', 'fusefat']) {
    if (!which(t)) return `${t} is not installed (apt-get install dosfstools fusefat)`;
  }
  if (!existsSync('/dev/fuse')) return 'there is no /dev/fuse';
  return null;
})();

/** Skip outside CI, run (and fail loudly) in CI. */
export const skipFatTests = fatStickUnavailable !== null && !process.env.CI;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function isMounted(mountpoint: string): boolean {
  try {
    execFileSync('mountpoint', ['-q', mountpoint], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A real ext4 filesystem on a loop device, mounted under a temp folder: our "USB stick" for tests. With
 * `fs: 'fat32'`, a FAT32 one (mkfs.vfat -F 32, at least 33 MiB) mounted read-write with fusefat.
 */
export async function createLoopMount(
  sizeMiB: number,
  opts: { name?: string; fs?: 'ext4' | 'fat32'; under?: string } = {},
): Promise<LoopMount> {
  const fat = opts.fs === 'fat32';
  const unavailable = fat ? fatStickUnavailable : loopMountUnavailable;
  if (unavailable !== null) throw new Error(`Cannot create a loop mount: ${unavailable}`);
  // `under`: a folder other than the temp folder (e.g. root-only all the way up, as /mnt is).
  const base = await fsp.mkdtemp(path.join(opts.under ?? os.tmpdir(), 'erw-loop-'));
  const image = path.join(base, 'stick.img');
  const mountpoint = path.join(base, opts.name ?? 'STICK');
  await fsp.mkdir(mountpoint);
  let device = '';
  let attached = false;
  const cleanup = async (): Promise<void> => {
    if (isMounted(mountpoint)) {
      try {
        run('umount', [mountpoint]);
      } catch {
        run('umount', ['-l', mountpoint]);
      }
    }
    if (attached) {
      attached = false;
      try {
        run('losetup', ['-d', device]);
      } catch {
        // Already detached (ejectDrive or the kernel's autoclear did it).
      }
    }
    await fsp.rm(base, { recursive: true, force: true });
  };
  try {
    run('truncate', ['-s', `${sizeMiB}M`, image]);
    if (fat) run('mkfs.vfat', ['-F', '32', image]);
    else run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    device = run('losetup', ['-f', '--show', image]);
    attached = true;
    // fusefat writes only when told it is experimental ("rw+"); its daemon would hold pipes open.
    if (fat) execFileSync('fusefat', ['-o', 'rw+', device, mountpoint], { stdio: 'ignore' });
    else run('mount', [device, mountpoint]);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { mountpoint, device, image, cleanup };
}

export async function withLoopMount<T>(
  sizeMiB: number,
  fn: (m: LoopMount) => Promise<T>,
  opts: { name?: string; fs?: 'ext4' | 'fat32'; under?: string } = {},
): Promise<T> {
  const m = await createLoopMount(sizeMiB, opts);
  try {
    return await fn(m);
  } finally {
    await m.cleanup();
  }
}
