import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ejectDrive } from '../../src-main/engine/media/eject.js';
import { createHandlers } from '../../src-main/host/handlers.js';
import { installFakeLsblk } from '../helpers/fake-lsblk.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests } from '../helpers/loop-device.js';

async function isMountedAt(mountpoint: string): Promise<boolean> {
  const esc = mountpoint.replace(/ /g, '\\040');
  return (await fsp.readFile('/proc/self/mounts', 'utf8')).split('\n').some((l) => l.split(' ')[1] === esc);
}

describe('ejectDrive', () => {
  it('refuses a folder where nothing is mounted, and the system root', async () => {
    const r = await ejectDrive('/tmp');
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/Nothing is mounted at \/tmp/);
    expect((await ejectDrive('/')).ok).toBe(false);
  });
});

describe.skipIf(skipLoopTests)(
  `ejectDrive on a loop-mounted stick${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    it('unmounts the stick by its mount point, keeping what was written', async () => {
      const stick = await createLoopMount(32, { name: 'USB STICK' });
      try {
        await fsp.writeFile(path.join(stick.mountpoint, 'manifest.json'), '{"ok":true}');
        const r = await ejectDrive(stick.mountpoint);
        expect(r.ok).toBe(true);
        expect(r.message).toMatch(/can be pulled out now/);
        expect(await isMountedAt(stick.mountpoint)).toBe(false);
        // Plug it back in: the file is there.
        execFileSync('mount', [stick.device, stick.mountpoint]);
        expect(await fsp.readFile(path.join(stick.mountpoint, 'manifest.json'), 'utf8')).toBe('{"ok":true}');
      } finally {
        await stick.cleanup();
      }
    });

    it('unmounts every mount of a device given by its device path', async () => {
      const stick = await createLoopMount(32);
      const second = path.join(path.dirname(stick.mountpoint), 'second');
      try {
        await fsp.mkdir(second);
        execFileSync('mount', [stick.device, second]);
        const r = await ejectDrive(stick.device);
        expect(r).toMatchObject({ ok: true });
        expect(await isMountedAt(stick.mountpoint)).toBe(false);
        expect(await isMountedAt(second)).toBe(false);
      } finally {
        execFileSync('sh', ['-c', `umount '${second}' 2>/dev/null || true`]);
        await stick.cleanup();
      }
    });

    it('unmounts a mount whose source is not a device node', async () => {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-tmpfs-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'erwtmpfs', dir]);
        const r = await ejectDrive(dir);
        expect(r).toEqual({ ok: true, message: `Unmounted ${dir}. The stick can be pulled out now.` });
        expect(await isMountedAt(dir)).toBe(false);
      } finally {
        execFileSync('sh', ['-c', `umount '${dir}' 2>/dev/null || true`]);
        await fsp.rm(dir, { recursive: true, force: true });
      }
    });

    it('leaves a busy stick mounted and says to close what uses it', async () => {
      const stick = await createLoopMount(32);
      const holder = spawn('sleep', ['60'], { cwd: stick.mountpoint, stdio: 'ignore' });
      try {
        await new Promise((r) => setTimeout(r, 200));
        const r = await ejectDrive(stick.mountpoint);
        expect(r.ok).toBe(false);
        expect(r.message).toMatch(/still in use/);
        expect(r.message).toMatch(/Do not pull it out yet/);
        expect(await isMountedAt(stick.mountpoint)).toBe(true);
      } finally {
        holder.kill();
        await new Promise((r) => holder.once('exit', r));
        await stick.cleanup();
      }
    });
  },
);

describe.skipIf(skipLoopTests)(
  `drives.eject from the page${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    it('ejects only a drive the drive rules list as removable; any other mount stays mounted', async () => {
      const stick = await createLoopMount(32, { name: 'EDGE BACKUP' });
      const other = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-not-a-stick-'));
      const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-eject-host-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'erwother', other]);
      const fake = await installFakeLsblk('usb-stick-ext4', { STICK: stick.mountpoint, ROOT: '/' });
      const host = createHandlers({ shell: 'browser', stateDir: path.join(base, 'state'), practiceBaseDir: base });
      try {
        // A mounted filesystem that is not a listed stick (e.g. a data disk, a network share): refused.
        const refused = await host.dispatch('drives.eject', { target: other });
        expect(refused).toEqual({
          ok: true,
          value: {
            ok: false,
            message: expect.stringMatching(/is not one of the removable drives the wizard lists, so it does not eject/),
          },
        });
        expect(await isMountedAt(other)).toBe(true);
        for (const target of ['/', '/dev/vda', '/proc']) {
          const r = await host.dispatch('drives.eject', { target });
          expect(r).toMatchObject({ ok: true, value: { ok: false } });
        }
        // The listed stick, by its mount point: ejected.
        const ok = await host.dispatch('drives.eject', { target: stick.mountpoint });
        expect(ok).toMatchObject({ ok: true, value: { ok: true } });
        expect(await isMountedAt(stick.mountpoint)).toBe(false);
      } finally {
        await fake.restore();
        await host.dispose();
        execFileSync('sh', ['-c', `umount '${other}' 2>/dev/null || true`]);
        await fsp.rm(other, { recursive: true, force: true });
        await fsp.rm(base, { recursive: true, force: true });
        await stick.cleanup();
      }
    });
  },
);
