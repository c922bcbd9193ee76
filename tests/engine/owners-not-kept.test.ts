import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../helpers/cli.js';
import { isRoot, processProfile } from '../helpers/datasets.js';

/**
 * The owners' check of every path runs on the staging folders, before the service is stopped (while the unpacked
 * data is flushed to disk). A disk that does not keep owners or modes must be found there — here a real FUSE
 * filesystem (bindfs --chown-ignore --chmod-ignore: chown and chmod "succeed" and change nothing, as on a FAT stick
 * mounted `quiet` or some shares; this machine's kernel has no vfat): the restore refuses, the service was never
 * stopped, the folder in place is untouched, no staging copy is left.
 */
const blocked = !isRoot
  ? 'needs root (a FUSE mount, chown)'
  : spawnSync('which', ['bindfs']).status !== 0
    ? 'needs bindfs (FUSE)'
    : undefined;

let base = '';
let mnt = '';

function profile(file: string, folder: string, pidFile: string): Promise<void> {
  return fsp.writeFile(file, processProfile('fat-target', folder, pidFile));
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  // This run's build of the sources (not dist/, which a change to the sources leaves stale until a build).
  const r = spawnSync(process.execPath, [...cliCommand(), ...args], {
    encoding: 'utf8',
    env: { ...process.env, EDGE_RECOVERY_PDF: 'off' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function pidOf(pidFile: string): number {
  return Number(readFileSync(pidFile, 'utf8').trim());
}

describe.skipIf(blocked !== undefined)(
  `a disk that does not keep owners${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    beforeAll(async () => {
      base = await fsp.mkdtemp(path.join(os.tmpdir(), 'owners-not-kept-'));
      const backing = path.join(base, 'backing');
      mnt = path.join(base, 'fat');
      await fsp.mkdir(backing);
      await fsp.mkdir(mnt);
      execFileSync('bindfs', ['--chown-ignore', '--chmod-ignore', backing, mnt]);
    });

    afterAll(async () => {
      spawnSync('umount', [mnt]);
      if (base) await fsp.rm(base, { recursive: true, force: true });
    });

    // 40 files are created by the extracting thread itself; 2,500 by the writer threads (file-writers.ts): each
    // reads the owner and mode back on the file's descriptor, and both must find what the disk did not keep.
    it.each([40, 2500])(
      'is found before the stop (%i files): refused with OWNERSHIP_MISMATCH, the service kept running, nothing changed',
      async (files) => {
        const src = path.join(base, `src${files}`);
        await fsp.mkdir(path.join(src, 'conf'), { recursive: true });
        for (let i = 0; i < files; i++) await fsp.writeFile(path.join(src, 'conf', `f${i}.json`), `{"n": ${i}}\n`);
        const pidFile = path.join(base, `svc${files}.pid`);
        const backupProfile = path.join(base, `backup${files}.json`);
        await profile(backupProfile, src, pidFile);
        const stick = path.join(base, `stick${files}`);
        const b = cli([
          'backup',
          '--profile',
          backupProfile,
          '--to',
          stick,
          '--device-id',
          'old',
          '--yes',
          '--allow-profile-commands',
        ]);
        expect(b.code, b.stderr).toBe(0);
        const dev = path.join(stick, 'EdgeRecovery', 'old');
        const set = path.join(dev, readdirSync(dev).find((n) => n.startsWith('Backup_'))!);

        // The folder in place on the FAT disk, with the service running.
        const target = path.join(mnt, `data${files}`);
        await fsp.mkdir(target);
        await fsp.writeFile(path.join(target, 'default.conf'), 'defaults\n');
        const restoreProfile = path.join(base, `restore${files}.json`);
        await profile(restoreProfile, target, pidFile);
        // The service runs (the process manager finds it by its pid file).
        expect(
          spawnSync('sh', ['-c', `/bin/sleep 1000000 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}`]).status,
        ).toBe(0);
        const pid = pidOf(pidFile);
        const state = path.join(base, `state${files}`);
        const r = cli([
          'restore',
          set,
          '--profile',
          restoreProfile,
          '--yes',
          '--allow-other-device',
          '--allow-profile-commands',
          '--state-dir',
          state,
          '--json',
        ]);
        expect(r.code).not.toBe(0);
        const out = r.stdout + r.stderr;
        expect(out).toMatch(/OWNERSHIP_MISMATCH/);
        // Every file, every folder and the item root: each one named by its staging path, in the technician's words.
        expect(out).toMatch(new RegExp(`${files + 2} paths do not match the ownership policy \\(nobody:nogroup\\)`));
        expect(out).toMatch(
          /\.edge-recovery-[^/]+\/data\/conf\/f\d+\.json: owned by root:\w+, policy says nobody:nogroup/,
        );
        expect(out).toMatch(/Nothing on this machine was changed/);
        expect(out).toMatch(/FAT, exFAT, a network share/);
        // The service was never stopped: the same process still runs.
        expect(() => process.kill(pid, 0)).not.toThrow();
        expect(pidOf(pidFile)).toBe(pid);
        // The folder in place is untouched and nothing is left beside it.
        expect(readdirSync(target)).toEqual(['default.conf']);
        expect(readdirSync(mnt).filter((n) => n.startsWith(`data${files}`))).toEqual([`data${files}`]);
        expect(readdirSync(mnt).filter((n) => n.includes('edge-recovery'))).toEqual([]);
        expect(cli(['status', '--state-dir', state]).stdout).toMatch(/No unfinished restore/);
        process.kill(pid);
      },
      180_000,
    );
  },
);
