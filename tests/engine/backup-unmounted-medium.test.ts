import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { unmountedMedium } from '../../src-main/engine/media/filesystem.js';
import { runMirror } from '../../src-main/engine/schedule/mirror.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { handProfile } from '../helpers/hand-product.js';
import { createLoopMount, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { rejection } from '../helpers/rejection.js';

/**
 * The stick (or the backup disk a schedule writes to every night) is not plugged in: its mount folder is then an
 * ordinary folder of the system disk (udisks' /media/<user>/<label> is even gone, and the backup's `mkdir -p` made
 * it again). The backup stopped the product, wrote the set there, verified it, recorded it as the last backup of the
 * device, and said it was on the stick; once the stick is mounted again the set is hidden under it, and the copy
 * that exists lives on the disk whose loss it is meant to survive. A backup now refuses (before the stop) a folder
 * under an /etc/fstab mount point that is not mounted, or under /media or /run/media but not on a mount there.
 * Real parts: a loop-mounted ext4 as the stick, the machine's own mount table and /media.
 */
let work = '';
let media = '';
let stick: LoopMount | null = null;

beforeAll(async () => {
  if (skipLoopTests) return;
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-unmounted-'));
  const root = path.join(work, 'root');
  for (const d of ['Configuration', 'Storage']) await fsp.mkdir(path.join(root, 'opt/hand', d), { recursive: true });
  await fsp.writeFile(path.join(root, 'opt/hand/Configuration/app.json'), '{"a":1}\n');
  media = `/media/erw-unmounted-${process.pid}`;
  stick = await createLoopMount(32);
});

afterAll(async () => {
  if (media && existsSync(media)) {
    try {
      execFileSync('umount', [media], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
  }
  if (media) await fsp.rm(media, { recursive: true, force: true }).catch(() => undefined);
  await stick?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

const backupTo = (to: string) =>
  runBackup(
    {
      profile: parseProfile(handProfile(), 'test'),
      to,
      root: path.join(work, 'root'),
      deviceId: 'box',
      stateDir: path.join(work, 'state'),
    },
    { emit: () => undefined, interaction: autoConfirm },
  );

describe.skipIf(skipLoopTests)('a backup to a stick that is not mounted', () => {
  it('refuses a folder under /media that is not on a mount (nothing written, not even the folder)', async () => {
    // The stick's folder as udisks leaves it: gone.
    const e = await rejection(backupTo(path.join(media, 'backups')));
    expect(e.code).toBe('MEDIUM_GONE');
    expect(e.message).toMatch(/not mounted.*system disk/);
    expect(existsSync(media)).toBe(false);
    // An empty mount folder left on the system disk: refused too, nothing written in it.
    await fsp.mkdir(media, { recursive: true });
    expect((await rejection(backupTo(media))).code).toBe('MEDIUM_GONE');
    expect(readdirSync(media)).toEqual([]);
    // With the stick mounted there, the same backup is made on the stick.
    execFileSync('mount', [stick!.device, media]);
    try {
      const r = await backupTo(media);
      expect(r.setDir.startsWith(`${media}/EdgeRecovery/`)).toBe(true);
    } finally {
      execFileSync('umount', [media]);
    }
    expect(readdirSync(media)).toEqual([]);
  }, 120_000);

  it('mirror refuses an empty mount folder under /media: the copies would be "read back" from the system disk', async () => {
    const local = path.join(work, 'local');
    await backupTo(local);
    await fsp.mkdir(media, { recursive: true });
    const e = await rejection(
      runMirror(
        { from: local, to: media, keep: 2, stateDir: path.join(work, 'state') },
        { emit: () => undefined, interaction: autoConfirm },
      ),
    );
    expect(e.code).toBe('MEDIUM_GONE');
    expect(readdirSync(media)).toEqual([]);
  }, 120_000);

  it('names an /etc/fstab mount point with nothing mounted on it', async () => {
    const fstab = path.join(work, 'fstab');
    const at = stick!.mountpoint;
    await fsp.writeFile(
      fstab,
      `# a comment with four words\nUUID=1234 / ext4 defaults 0 1\nLABEL=BACKUP ${at.replace(/ /g, '\\040')} ext4 defaults,nofail 0 2\n`,
    );
    expect(await unmountedMedium(path.join(at, 'EdgeRecovery'), { fstabFile: fstab })).toBeNull();
    // A disk mounted inside an fstab mount point that is not mounted itself holds the folder: not refused.
    const outer = path.join(work, 'fstab-outer');
    await fsp.writeFile(outer, `LABEL=OUTER ${path.dirname(at).replace(/ /g, '\\040')} ext4 noauto 0 2\n`);
    expect(await unmountedMedium(path.join(at, 'EdgeRecovery'), { fstabFile: outer })).toBeNull();
    execFileSync('umount', [at]);
    try {
      expect(await unmountedMedium(path.join(at, 'EdgeRecovery'), { fstabFile: fstab })).toMatch(
        /is a mount point in \/etc\/fstab \(LABEL=BACKUP\), but nothing is mounted there/,
      );
      // Elsewhere on the system disk: not this rule's business.
      expect(await unmountedMedium(path.join(work, 'backups'), { fstabFile: fstab })).toBeNull();
    } finally {
      execFileSync('mount', [stick!.device, at]);
    }
  });
});
