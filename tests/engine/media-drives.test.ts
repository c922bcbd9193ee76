import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listDrives } from '../../src-main/engine/media/drives.js';
import { freeSpace } from '../../src-main/engine/media/filesystem.js';
import { installFakeLsblk, type FakeLsblk } from '../helpers/fake-lsblk.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

const onLinux = process.platform === 'linux';
let fake: FakeLsblk | undefined;
afterEach(async () => {
  await fake?.restore();
  fake = undefined;
});

describe.skipIf(!onLinux)('listDrives on this machine (recorded lsblk)', () => {
  it('offers nothing: zram0 and the system disk are hidden', async () => {
    fake = await installFakeLsblk('this-machine');
    expect(await listDrives()).toEqual([]);
    expect(await fake.calls()).toContain('--bytes --all --json --paths --output-all');
  });

  it('with all, shows the hidden drives and why', async () => {
    fake = await installFakeLsblk('this-machine');
    const all = await listDrives({ all: true });
    expect(all.map((d) => [d.device, d.status, d.reasons.map((r) => r.code)])).toEqual([
      ['/dev/zram0', 'hidden', ['VIRTUAL']],
      ['/dev/vda', 'hidden', ['SYSTEM_DRIVE']],
    ]);
    const vda = all[1]!;
    expect(vda.mountpoints[0]).toMatchObject({ path: '/', fsType: 'ext4' });
    expect(vda.mountpoints[0]!.freeBytes).toBeGreaterThan(0);
  });

  it('hides a stick lsblk still lists as mounted when the kernel has no such mount', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-stale-'));
    try {
      fake = await installFakeLsblk('usb-stick-ext4', { STICK: dir, ROOT: '/' });
      const all = await listDrives({ all: true });
      const sdb = all.find((d) => d.device === '/dev/sdb')!;
      expect(sdb.status).toBe('hidden');
      expect(sdb.reasons.map((r) => r.code)).toEqual(['NOT_MOUNTED']);
      expect(sdb.mountpoints).toEqual([
        { path: dir, label: 'EDGEBACKUP', fsType: 'unknown', freeBytes: null, totalBytes: null },
      ]);
      expect(await listDrives()).toEqual([]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skipLoopTests)(
  `listDrives with a loop-mounted stick${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    let stick: LoopMount;
    beforeAll(async () => {
      stick = await createLoopMount(64, { name: 'EDGE BACKUP' });
    });
    afterAll(async () => {
      await stick?.cleanup();
    });

    it('offers an ext4 USB stick with its real free space and nothing else', async () => {
      fake = await installFakeLsblk('usb-stick-ext4', { STICK: stick.mountpoint, ROOT: '/' });
      const drives = await listDrives({ minFreeBytes: 1024 * 1024 });
      const space = await freeSpace(stick.mountpoint);
      expect(drives).toEqual([
        {
          device: '/dev/sdb',
          description: 'SanDisk Cruzer Blade (EDGEBACKUP)',
          sizeBytes: 16008609792,
          label: 'EDGEBACKUP',
          mountpoints: [{ path: stick.mountpoint, label: 'EDGEBACKUP', fsType: 'ext4', ...space }],
          isRemovable: true,
          isUSB: true,
          status: 'ok',
          reasons: [],
        },
      ]);
    });

    it('hides the stick when the backup needs more than its free space, but still explains it with all', async () => {
      fake = await installFakeLsblk('usb-stick-ext4', { STICK: stick.mountpoint, ROOT: '/' });
      expect(await listDrives({ minFreeBytes: 1e9 })).toEqual([]);
      const sdb = (await listDrives({ all: true, minFreeBytes: 1e9 })).find((d) => d.device === '/dev/sdb')!;
      expect(sdb.status).toBe('hidden');
      expect(sdb.reasons.map((r) => r.code)).toEqual(['NOT_ENOUGH_SPACE']);
    });

    it('warns about a FAT32 stick and hides the empty card reader', async () => {
      // The kernel here has no vfat, so the mount table is a copy of the real one with the loop
      // mount's line turned into what a FAT32 stick looks like.
      const real = await fsp.readFile('/proc/self/mounts', 'utf8');
      const escaped = stick.mountpoint.replace(/ /g, '\\040');
      const line = real.split('\n').find((l) => l.split(' ')[1] === escaped);
      expect(line).toBeDefined();
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-mounts-'));
      const mountsFile = path.join(dir, 'mounts');
      await fsp.writeFile(
        mountsFile,
        real.replace(line!, `/dev/sdb1 ${escaped} vfat rw,relatime,fmask=0022,dmask=0022 0 0`),
      );
      try {
        fake = await installFakeLsblk('usb-stick-vfat', { STICK: stick.mountpoint, ROOT: '/' });
        expect((await listDrives({ minFreeBytes: 1024 * 1024 }, { mountsFile })).map((d) => d.device)).toEqual([
          '/dev/sdb',
        ]);
        const all = await listDrives({ all: true, minFreeBytes: 1024 * 1024 }, { mountsFile });
        expect(all.map((d) => [d.device, d.status, d.reasons.map((r) => r.code)])).toEqual([
          ['/dev/zram0', 'hidden', ['VIRTUAL']],
          ['/dev/vda', 'hidden', ['SYSTEM_DRIVE']],
          ['/dev/sdb', 'warning', ['FAT32_SPLIT', 'NO_OWNERS_ON_MEDIUM']],
          ['/dev/sdc', 'hidden', ['NO_MEDIUM']],
        ]);
        expect(all[2]!.mountpoints[0]!.fsType).toBe('vfat');
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    });
  },
);
