import { promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWN_FILESYSTEMS_ENV, ownDevices, removableDevice } from '../../src-main/engine/util/own-filesystem.js';
import { skipLoopTests, withLoopMount } from '../helpers/loop-device.js';

/**
 * A file is trusted for its owner (a profile, the schedule's program, the state folder) only on this machine's own
 * filesystems, those of /, /etc, /usr, /usr/local, /opt, /var and /srv. A stick mounted on one of them (at /srv, seen
 * with a loop-mounted ext4 bound there: a root-owned profile on it was trusted, rootOnlyProblem null) counted as the
 * machine's own, its owners written wherever it was formatted. A removable or USB device is told by sysfs; a USB
 * stick cannot exist on this machine, so its sysfs entry is a copy of a real one's shape (the kernel's
 * /sys/dev/block/<major>:<minor> link into a USB port's tree), pointed at the loop device's numbers; the mount is
 * real.
 */
describe.skipIf(skipLoopTests)('a stick mounted on one of the system places', () => {
  let sys: string;
  beforeAll(async () => {
    sys = await fsp.mkdtemp(path.join(os.tmpdir(), 'own-fs-sysfs-'));
  });
  afterAll(async () => {
    await fsp.rm(sys, { recursive: true, force: true });
  });

  /** A sysfs whose entry for `dev` is a USB stick's partition (sdb1 on port 1-1), its disk removable. */
  async function usbSysfs(dev: number): Promise<string> {
    const major = Math.floor(dev / 256) & 0xfff;
    const minor = dev & 0xff;
    const disk = path.join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb');
    await fsp.mkdir(path.join(disk, 'sdb1'), { recursive: true });
    await fsp.writeFile(path.join(disk, 'removable'), '1\n');
    await fsp.mkdir(path.join(sys, 'dev/block'), { recursive: true });
    await fsp.symlink(path.join(disk, 'sdb1'), path.join(sys, 'dev/block', `${major}:${minor}`));
    return sys;
  }

  it("is not one of this machine's own filesystems (unless root names it in EDGE_RECOVERY_OWN_FILESYSTEMS)", async () => {
    await withLoopMount(16, async (stick) => {
      const dev = statSync(stick.mountpoint).dev;
      // The loop device itself is not removable: by the real sysfs it counts, as a built-in disk there would.
      expect(removableDevice(dev)).toBe(false);
      expect(ownDevices({}, ['/', stick.mountpoint]).has(dev)).toBe(true);
      // The same mount as a USB stick (by its sysfs entry): not the machine's own, though mounted on a system place.
      const fake = await usbSysfs(dev);
      expect(removableDevice(dev, fake)).toBe(true);
      expect(ownDevices({}, ['/', stick.mountpoint], fake).has(dev)).toBe(false);
      // Named by root as a disk of this machine's: root's choice, counted.
      expect(ownDevices({ [OWN_FILESYSTEMS_ENV]: stick.mountpoint }, ['/'], fake).has(dev)).toBe(true);
      // / itself always counts (a machine that boots from a USB disk has no other).
      expect(ownDevices({}, ['/'], fake).has(statSync('/').dev)).toBe(true);
    });
  });
});
