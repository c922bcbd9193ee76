import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../src-main/host/handlers.js';
import { isRoot } from '../helpers/datasets.js';
import { installFakeLsblk } from '../helpers/fake-lsblk.js';
import { handBackupInto } from '../helpers/hand-product.js';
import { createLoopMount, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

/**
 * The page may read backups "where this machine's own verified backups went" (last-backups.json's `to`). That place
 * is whatever folder the technician gave `backup --to` as root, and often holds more than our sets: /var/backups
 * (shadow.bak, gshadow.bak, dpkg's archives), a backup disk with other files. A page (the desktop user driving the
 * root helper) asked mirror.start from that folder with a glob naming one of those files and root copied it onto
 * the user's stick; verify.start/restore.start took any archive in it. Now only the place itself (listed and mirrored
 * by our set walkers) and its EdgeRecovery folder count, and mirror's glob is refused there.
 */
describe.skipIf(!isRoot || skipLoopTests)('the places our own backups went, named by the page', () => {
  let base: string;
  let place: string;
  let stick: LoopMount;
  const secret = 'root:$y$j9T$not-for-the-desktop-user:19000:0:99999:7:::\n';

  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'own-places-'));
    // The technician, as root, once backed up into a shared root-only backups folder (as /var/backups).
    place = path.join(base, 'var-backups');
    await fsp.mkdir(place, { mode: 0o700 });
    await fsp.writeFile(path.join(place, 'shadow.bak'), secret, { mode: 0o600 });
    await fsp.writeFile(path.join(place, 'etc.tar.gz'), 'not ours\n', { mode: 0o600 });
    const b = await handBackupInto(base, place, { name: 'a.json', data: '{"a":1}\n' }, path.join(base, 'state'));
    expect(b.code, b.stderr).toBe(0);
    stick = await createLoopMount(32);
  }, 180_000);

  afterAll(async () => {
    await stick?.cleanup();
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  it('root copies none of its other files onto the stick, and takes our sets there as before', async () => {
    const fake = await installFakeLsblk('usb-stick-ext4', { STICK: stick.mountpoint, ROOT: '/' });
    const host = createHandlers({ shell: 'browser', stateDir: path.join(base, 'state'), practiceBaseDir: base });
    try {
      const r = await host.dispatch('mirror.start', { from: place, to: stick.mountpoint, keep: 1, glob: 'shadow.bak' });
      // Whatever was started, let it finish before looking at the stick.
      for (let i = 0; i < 200; i++) {
        const running = await host.dispatch('job.running', {});
        if ((running as { value: unknown[] }).value.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect({
        copied: existsSync(path.join(stick.mountpoint, 'EdgeRecovery', 'files', 'shadow.bak')),
        r,
      }).toMatchObject({ copied: false, r: { ok: false, error: { code: 'PATH_REFUSED' } } });
      for (const backup of [path.join(place, 'etc.tar.gz'), path.join(place, 'shadow.bak')]) {
        expect(await host.dispatch('verify.start', { backup }), backup).toMatchObject({
          ok: false,
          error: { code: 'PATH_REFUSED' },
        });
      }
      // Our own sets there stay the page's to list, verify and mirror.
      const listed = await host.dispatch('backups.list', { dir: place });
      expect(listed).toMatchObject({ ok: true });
      const sets = (listed as { value: { backups: { path: string }[] }[] }).value.flatMap((g) => g.backups);
      expect(sets.length).toBeGreaterThan(0);
      expect(await host.dispatch('verify.start', { backup: sets[0]!.path })).toMatchObject({ ok: true });
    } finally {
      await fake.restore();
      await host.dispose();
    }
  }, 120_000);

  it('backups.list shows nothing a link on the stick leads to (names, sizes, dates of a root-only folder)', async () => {
    const hidden = path.join(base, 'root-only-archives');
    await fsp.mkdir(path.join(hidden, 'Backup_x'), { recursive: true, mode: 0o700 });
    await fsp.writeFile(path.join(hidden, 'customers-2026.tar.gz'), 'secret\n', { mode: 0o600 });
    await fsp.writeFile(path.join(hidden, 'report-secret.html'), '<p>secret</p>\n', { mode: 0o600 });
    await fsp.rm(path.join(stick.mountpoint, 'EdgeRecovery'), { recursive: true, force: true });
    await fsp.symlink(hidden, path.join(stick.mountpoint, 'EdgeRecovery'));
    const fake = await installFakeLsblk('usb-stick-ext4', { STICK: stick.mountpoint, ROOT: '/' });
    const host = createHandlers({ shell: 'browser', stateDir: path.join(base, 'state'), practiceBaseDir: base });
    try {
      const listed = await host.dispatch('backups.list', { dir: stick.mountpoint });
      expect(listed).toMatchObject({ ok: true });
      const paths = (listed as { value: { backups: { path: string }[] }[] }).value.flatMap((g) =>
        g.backups.map((b) => b.path),
      );
      expect(paths).toEqual([]);
      // Nor is a report beside what was found there the page's to read.
      expect(
        await host.dispatch('report.read', { path: path.join(stick.mountpoint, 'EdgeRecovery', 'report-secret.html') }),
      ).toMatchObject({ ok: false });
    } finally {
      await fsp.rm(path.join(stick.mountpoint, 'EdgeRecovery'), { force: true });
      await fake.restore();
      await host.dispose();
    }
  });
});
