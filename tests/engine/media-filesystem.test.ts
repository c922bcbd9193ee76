import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAT32_MAX_FILE,
  FUSEFAT_MAX_FILE,
  checkMediumPresent,
  filesystemOf,
  freeSpace,
} from '../../src-main/engine/media/filesystem.js';
import { decodeMountField, findMount, parseMounts } from '../../src-main/engine/media/mount-table.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

describe('mount table', () => {
  it('decodes the kernel escapes for space, tab, newline and backslash', () => {
    expect(decodeMountField('/media/tech/USB\\040STICK\\011a\\012b\\134c')).toBe('/media/tech/USB STICK\ta\nb\\c');
  });

  it('picks the longest mount prefix, the later of two mounts on one folder, and not a sibling with a longer name', () => {
    const m = parseMounts(
      [
        '/dev/vda / ext4 rw 0 0',
        '/dev/sdb1 /media/usb vfat rw 0 0',
        '/dev/sdc1 /media/usb ext4 rw 0 0',
        '/dev/sdd1 /media/usb2 exfat rw 0 0',
      ].join('\n'),
    );
    expect(findMount(m, '/media/usb/Backup')?.device).toBe('/dev/sdc1');
    expect(findMount(m, '/media/usb2/x')?.device).toBe('/dev/sdd1');
    expect(findMount(m, '/media/usbx')?.device).toBe('/dev/vda');
  });
});

describe('filesystemOf with a recorded mount table', () => {
  let dir: string;
  let mounts: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-fs-'));
    for (const d of ['USB STICK', 'exfat', 'ntfs', 'fat']) await fsp.mkdir(path.join(dir, d));
    const esc = (p: string): string => p.replace(/ /g, '\\040');
    mounts = path.join(dir, 'mounts');
    await fsp.writeFile(
      mounts,
      [
        '/dev/vda / ext4 rw,relatime 0 0',
        `/dev/sdb1 ${esc(path.join(dir, 'USB STICK'))} vfat rw,relatime,fmask=0022 0 0`,
        `/dev/sdc1 ${esc(path.join(dir, 'exfat'))} fuse.exfat rw,nosuid,nodev 0 0`,
        `/dev/sdd1 ${esc(path.join(dir, 'ntfs'))} fuseblk rw,nosuid,nodev 0 0`,
        `/dev/sde1 ${esc(path.join(dir, 'fat'))} fuse.fusefat rw,nosuid,nodev 0 0`,
      ].join('\n') + '\n',
    );
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('finds a FAT32 stick whose mount point has a space, for a folder not created yet', async () => {
    const f = await filesystemOf(path.join(dir, 'USB STICK', 'EdgeRecovery', 'new'), { mountsFile: mounts });
    expect(f).toEqual({
      mountpoint: path.join(dir, 'USB STICK'),
      fsType: 'vfat',
      device: '/dev/sdb1',
      isFuse: false,
      maxFileSize: FAT32_MAX_FILE,
      supportsOwners: false,
    });
    expect(FAT32_MAX_FILE).toBe(4 * 1024 ** 3 - 1);
  });

  it('names the filesystem behind fuse.exfat from its subtype', async () => {
    const f = await filesystemOf(path.join(dir, 'exfat'), { mountsFile: mounts, blkid: async () => 'WRONG' });
    expect(f).toMatchObject({ fsType: 'exfat', isFuse: true, supportsOwners: false, maxFileSize: null });
  });

  it('asks blkid for the real filesystem of a fuseblk mount', async () => {
    const asked: string[] = [];
    const f = await filesystemOf(path.join(dir, 'ntfs'), {
      mountsFile: mounts,
      blkid: async (dev) => {
        asked.push(dev);
        return 'ntfs';
      },
    });
    expect(asked).toEqual(['/dev/sdd1']);
    expect(f).toMatchObject({ fsType: 'ntfs', isFuse: true, supportsOwners: false });
  });

  it('gives fusefat the 2 GiB limit it fails at', async () => {
    const f = await filesystemOf(path.join(dir, 'fat'), { mountsFile: mounts });
    expect(f).toMatchObject({ fsType: 'vfat', isFuse: true, maxFileSize: FUSEFAT_MAX_FILE });
  });

  it('treats the same folder as the system disk when nothing is mounted there', async () => {
    const f = await filesystemOf(dir, { mountsFile: mounts });
    expect(f).toMatchObject({ mountpoint: '/', fsType: 'ext4', supportsOwners: true });
  });
});

describe.skipIf(skipLoopTests)(
  `a real loop-mounted ext4 stick${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    let stick: LoopMount;
    beforeAll(async () => {
      stick = await createLoopMount(64, { name: 'USB STICK' });
    });
    afterAll(async () => {
      await stick?.cleanup();
    });

    it('is found in /proc/mounts despite the space in its mount point', async () => {
      const f = await filesystemOf(path.join(stick.mountpoint, 'not', 'yet'));
      expect(f).toEqual({
        mountpoint: stick.mountpoint,
        fsType: 'ext4',
        device: stick.device,
        isFuse: false,
        maxFileSize: null,
        supportsOwners: true,
      });
    });

    it('reports the free space df reports, and sees a file eat into it', async () => {
      const df = (): number[] =>
        execFileSync('df', ['-B1', '--output=avail,size', stick.mountpoint], { encoding: 'utf8' })
          .trim()
          .split('\n')[1]!
          .trim()
          .split(/\s+/)
          .map(Number);
      const before = await freeSpace(stick.mountpoint);
      expect([before.freeBytes, before.totalBytes]).toEqual(df());
      await fsp.writeFile(path.join(stick.mountpoint, 'ten-mib'), Buffer.alloc(10 * 1024 * 1024, 1));
      execFileSync('sync');
      const after = await freeSpace(stick.mountpoint);
      expect([after.freeBytes, after.totalBytes]).toEqual(df());
      expect(before.freeBytes - after.freeBytes).toBeGreaterThanOrEqual(10 * 1024 * 1024);
    });

    it('says the medium is present while mounted and gone once unmounted', async () => {
      const extra = await createLoopMount(16);
      try {
        expect(await checkMediumPresent(extra.mountpoint)).toBe(true);
        expect(await checkMediumPresent(extra.mountpoint, { expectedMountpoint: extra.mountpoint })).toBe(true);
        execFileSync('umount', [extra.mountpoint]);
        // The empty mount folder is still there, on the system disk: that is not the stick.
        expect(await checkMediumPresent(extra.mountpoint)).toBe(false);
        expect(await checkMediumPresent(path.join(extra.mountpoint, 'EdgeRecovery'))).toBe(false);
      } finally {
        await extra.cleanup();
      }
    });
  },
);
