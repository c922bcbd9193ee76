import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../src-main/engine/backup/manifest.js';
import { runRestore } from '../../src-main/engine/restore/run-restore.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { runCli } from '../helpers/cli.js';
import { createLoopMount, fatStickUnavailable, skipFatTests, type LoopMount } from '../helpers/loop-device.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { driverInteraction, ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';

const blocked = restoreTestsBlocked() ?? (skipFatTests ? (fatStickUnavailable ?? undefined) : undefined);
const OWNER = 'edge-rt';
const EGRESS = 'Storage_PeriodicEgressEndpoints.json';
const EDS = 'usr/share/OSIsoft/EdgeDataStore';
const MIB = 1024 * 1024;
const quiet = { emit: () => undefined, interaction: driverInteraction('typed-') };

/** The one set adopt wrote under <stick>/EdgeRecovery/<device>/. */
async function onlySet(stick: string, device: string): Promise<string> {
  const dir = path.join(stick, 'EdgeRecovery', device);
  const sets = await fsp.readdir(dir);
  expect(sets).toHaveLength(1);
  return path.join(dir, sets[0]!);
}

/** Files only: their sha256 by path (owners and modes come from the profile's policy on a restore). */
function contents(s: TreeSnapshot): Record<string, string> {
  return Object.fromEntries(
    Object.entries(s)
      .filter(([, e]) => e.type === 'file')
      .map(([p, e]) => [p, e.sha256!]),
  );
}

/**
 * RESTORE.txt's join line for a split set, run as written (into `joined` instead of /var/tmp), then its extract
 * line's `tar -xzf` into `out`: the recipe a technician follows by hand.
 */
function followRecipe(setDir: string, restoreTxt: string, joined: string, out: string): string[] {
  const join = /^ {5}cat ((?:data\.tar\.gz\.\d{3} ?)+) > \/var\/tmp\/data\.tar\.gz$/m.exec(restoreTxt);
  expect(join, 'RESTORE.txt says how to join the parts').not.toBeNull();
  // One tar for the folders that share a parent, naming each (93c3d6d): Configuration and Storage here.
  expect(restoreTxt).toMatch(/^ {5}tar -xzpf \/var\/tmp\/data\.tar\.gz -C \S+ Configuration Storage$/m);
  const parts = join![1]!.trim().split(' ');
  execFileSync('bash', ['-c', `cat ${parts.join(' ')} > "$1"`, 'join', joined], { cwd: setDir });
  execFileSync('tar', ['-xzf', joined, '-C', out]);
  return parts;
}

describe.skipIf(blocked !== undefined)(
  `adopt onto a FAT32 stick (fusefat): parts, verify, restore, by hand${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let m: PracticeMachine;
    let stick: LoopMount;
    let work: string;
    let archive: string;
    let conf: TreeSnapshot;
    let storage: TreeSnapshot;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'adopt-split-'));
      [m, stick] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        createLoopMount(64, { fs: 'fat32', name: 'FAT STICK' }),
      ]);
      const eds = path.join(m.root, EDS);
      // 3.5 MiB that gzip cannot shrink: the adopted archive needs 4 parts of 1 MiB.
      await fsp.writeFile(path.join(eds, 'Storage', 'big.bin'), randomBytes(3.5 * MIB));
      await fsp.mkdir(path.join(eds, 'Configuration', 'Custom'), { recursive: true });
      await fsp.writeFile(
        path.join(eds, 'Configuration', 'Custom', 'marker.json'),
        '{"from":"the hand-made backup"}\n',
      );
      const svc = serviceFor(m.profile.service);
      await svc.stop();
      await svc.waitFor('stopped', 15_000);
      conf = await snapshotTree(path.join(eds, 'Configuration'));
      storage = await snapshotTree(path.join(eds, 'Storage'));
      archive = path.join(work, 'eds-backup.tar.gz');
      execFileSync('tar', ['-czf', archive, '-C', eds, 'Configuration', 'Storage']);
      await svc.start();
      await svc.waitFor('running', 15_000);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([m?.stop(), stick?.cleanup()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('adopt --split-size 1M writes parts that verify, restore and the by-hand recipe read alike', async () => {
      const a = await runCli([
        'adopt',
        archive,
        '--to',
        stick.mountpoint,
        '--profile',
        m.profilePath,
        '--device-id',
        'split',
        '--split-size',
        '1M',
      ]);
      expect(a.code, a.stdout + a.stderr).toBe(0);
      const setDir = await onlySet(stick.mountpoint, 'split');
      const manifest = JSON.parse(await fsp.readFile(path.join(setDir, 'manifest.json'), 'utf8')) as BackupManifest;
      const parts = manifest.archive.parts;
      expect(parts.map((p) => p.name)).toEqual([
        'data.tar.gz.001',
        'data.tar.gz.002',
        'data.tar.gz.003',
        'data.tar.gz.004',
      ]);
      expect(parts.slice(0, -1).every((p) => p.size === MIB)).toBe(true);
      expect((await fsp.readdir(setDir)).sort()).toEqual(
        [...parts.map((p) => p.name), 'RESTORE.txt', 'SHA256SUMS', 'manifest.json'].sort(),
      );

      const v = await runCli(['verify', setDir, '--profile', m.profilePath]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toContain(`all ${manifest.files} files`);

      // By hand, with stock tools, as RESTORE.txt says.
      execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: setDir });
      const txt = await fsp.readFile(path.join(setDir, 'RESTORE.txt'), 'utf8');
      const byHand = path.join(work, 'by-hand');
      await fsp.mkdir(byHand);
      expect(followRecipe(setDir, txt, path.join(work, 'joined.tar.gz'), byHand)).toEqual(parts.map((p) => p.name));
      expect(contents(await snapshotTree(path.join(byHand, 'Configuration')))).toEqual(contents(conf));
      expect(contents(await snapshotTree(path.join(byHand, 'Storage')))).toEqual(contents(storage));

      // The restore, from the stick, after the machine's data changed.
      const eds = path.join(m.root, EDS);
      await fsp.writeFile(path.join(eds, 'Storage', 'big.bin'), 'changed since the backup\n');
      await fsp.rm(path.join(eds, 'Configuration', 'Custom'), { recursive: true });
      await runRestore(
        {
          backup: setDir,
          profile: m.profile,
          root: m.root,
          stateDir: path.join(work, 'state'),
          tuning: { pollMs: 50, deviceId: 'new-device' },
        },
        quiet,
      );
      const restoredConf = contents(await snapshotTree(path.join(eds, 'Configuration')));
      const expectedConf = contents(conf);
      // Rewritten by the product when the secrets were typed in again.
      delete restoredConf[EGRESS];
      delete expectedConf[EGRESS];
      expect(restoredConf).toEqual(expectedConf);
      // Storage: every backed-up file identical (the running product adds segments of its own).
      const restoredStorage = contents(await snapshotTree(path.join(eds, 'Storage')));
      for (const [rel, sha] of Object.entries(contents(storage))) expect(restoredStorage[rel], rel).toBe(sha);
      expect((await serviceFor(m.profile.service).status()).state).toBe('running');
    }, 120_000);

    it('adopt without --split-size splits by itself on FAT32, and RESTORE.txt joins its one part', async () => {
      const a = await runCli(['adopt', archive, '--to', stick.mountpoint, '--profile', m.profilePath]);
      expect(a.code, a.stdout + a.stderr).toBe(0);
      expect(a.stderr).toMatch(/is vfat: files are limited to 2\.0 GiB, so the archive is split/);
      const setDir = await onlySet(stick.mountpoint, 'hand-made');
      const manifest = JSON.parse(await fsp.readFile(path.join(setDir, 'manifest.json'), 'utf8')) as BackupManifest;
      // Parts of 2 GiB − 1 (fusefat's limit): this archive fits in the first.
      expect(manifest.archive.parts.map((p) => p.name)).toEqual(['data.tar.gz.001']);
      execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: setDir });
      const txt = await fsp.readFile(path.join(setDir, 'RESTORE.txt'), 'utf8');
      const byHand = path.join(work, 'by-hand-auto');
      await fsp.mkdir(byHand);
      followRecipe(setDir, txt, path.join(work, 'joined-auto.tar.gz'), byHand);
      expect(contents(await snapshotTree(path.join(byHand, 'Storage')))).toEqual(contents(storage));
    }, 60_000);
  },
);
