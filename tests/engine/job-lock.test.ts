import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { readJournal } from '../../src-main/engine/restore/journal.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import {
  acquireJobLock,
  jobLockHolder,
  machineLockDir,
  practiceLockScope,
  withJobLock,
} from '../../src-main/engine/util/job-lock.js';
import { runCli, TSX_IMPORT } from '../helpers/cli.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { expectGone } from '../helpers/processes.js';
import { ensureTestOwner, restoreTestsBlocked, runDriver, type DriverOutcome } from '../helpers/restore-driver.js';
import { snapshotFolders, snapshotTree } from '../helpers/tree-snapshot.js';

const tmp = (p: string) => fsp.mkdtemp(path.join(os.tmpdir(), p));

/** A separate Node process that takes the lock, says so, and holds it until killed. */
function holdInChild(stateDir: string): Promise<{ pid: number; kill: () => void }> {
  const code = `
    import { acquireJobLock } from ${JSON.stringify(path.resolve('src-main/engine/util/job-lock.ts'))};
    acquireJobLock(${JSON.stringify(stateDir)}, { command: 'backup' });
    process.stdout.write('locked\\n');
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['--import', TSX_IMPORT, '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve({ pid: child.pid!, kill: () => child.kill('SIGKILL') });
    });
    child.on('error', reject);
    child.on('exit', (c) => reject(new Error(`holder exited early (${c})`)));
  });
}

describe('the machine-wide job lock', () => {
  it('refuses a second holder in another process, names the holder, and is freed by kill -9', async () => {
    const dir = await tmp('job-lock-');
    const holder = await holdInChild(dir);
    try {
      let err: unknown;
      try {
        acquireJobLock(dir, { command: 'restore' });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'JOB_RUNNING' });
      expect((err as Error).message).toContain(`"edge-recovery backup" (pid ${holder.pid}, running since `);
      expect(jobLockHolder(dir)).toMatchObject({ command: 'backup', pid: holder.pid });
    } finally {
      holder.kill();
    }
    await expectGone(holder.pid);
    // The kernel dropped the dead process's lock: no stale lock to clear by hand.
    expect(jobLockHolder(dir)).toBeNull();
    const lock = acquireJobLock(dir, { command: 'restore' });
    lock.release();
  });

  it('is re-entrant within one job but refuses a concurrent job in the same process', async () => {
    const dir = await tmp('job-lock-');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = withJobLock(dir, { command: 'restore' }, async () => {
      // A rollback offered after a failed restore runs under the restore's own lock.
      await withJobLock(dir, { command: 'rollback' }, async () => undefined);
      await gate;
    });
    await expect(withJobLock(dir, { command: 'backup' }, async () => undefined)).rejects.toMatchObject({
      code: 'JOB_RUNNING',
    });
    release();
    await first;
    await withJobLock(dir, { command: 'backup' }, async () => undefined);
  });

  it("is machine-wide: a job in another state folder is refused while another process holds the machine's lock", async () => {
    const [a, b] = [await tmp('job-lock-a-'), await tmp('job-lock-b-')];
    const holder = await holdInChild(a);
    try {
      let err: unknown;
      try {
        acquireJobLock(b, { command: 'restore' });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'JOB_RUNNING' });
      expect((err as Error).message).toContain(`"edge-recovery backup" (pid ${holder.pid}, running since `);
      expect((err as Error).message).toContain('Nothing was changed.');
      expect(jobLockHolder(b)).toMatchObject({ command: 'backup', pid: holder.pid });
      // Nothing was made in the refused job's state folder: neither its lock nor a holder note.
      expect(await fsp.readdir(b)).toEqual([]);
    } finally {
      holder.kill();
    }
    await expectGone(holder.pid);
    acquireJobLock(b, { command: 'restore' }).release();
  });

  it('refuses a concurrent job in the same process whatever its state folder', async () => {
    const [a, b] = [await tmp('job-lock-a-'), await tmp('job-lock-b-')];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = withJobLock(a, { command: 'restore' }, () => gate);
    await expect(withJobLock(b, { command: 'backup' }, async () => undefined)).rejects.toMatchObject({
      code: 'JOB_RUNNING',
    });
    release();
    await first;
    await withJobLock(b, { command: 'backup' }, async () => undefined);
  });

  it("keeps a practice sandbox's jobs out of the machine's lock, and only those", async () => {
    const [a, sandboxState] = [await tmp('job-lock-a-'), await tmp('job-lock-practice-')];
    const holder = await holdInChild(a);
    try {
      expect(() => acquireJobLock(sandboxState, { command: 'backup' })).toThrow(/Nothing was changed/);
      const forget = practiceLockScope(sandboxState);
      expect(machineLockDir(sandboxState)).toBe(path.resolve(sandboxState));
      await withJobLock(sandboxState, { command: 'backup' }, async () => undefined);
      forget();
      expect(() => acquireJobLock(sandboxState, { command: 'backup' })).toThrow(/Nothing was changed/);
    } finally {
      holder.kill();
    }
  });

  it('refuses a machine lock folder or lock file that another account could have placed, before any lock is taken', async () => {
    const state = await tmp('job-lock-state-');
    const base = await tmp('job-lock-dir-');
    const saved = process.env.EDGE_RECOVERY_LOCK_DIR;
    try {
      // A folder others can write: anyone could replace the lock file.
      const open = path.join(base, 'open');
      await fsp.mkdir(open);
      await fsp.chmod(open, 0o777);
      process.env.EDGE_RECOVERY_LOCK_DIR = open;
      expect(() => acquireJobLock(state, { command: 'backup' })).toThrow(
        expect.objectContaining({ code: 'UNSAFE_PATH' }),
      );
      // A lock file planted as a link (to a file a job must not create or lock): not followed.
      const linked = path.join(base, 'linked');
      await fsp.mkdir(linked, { mode: 0o700 });
      await fsp.symlink(path.join(base, 'victim'), path.join(linked, 'machine-job.lock'));
      process.env.EDGE_RECOVERY_LOCK_DIR = linked;
      expect(() => acquireJobLock(state, { command: 'backup' })).toThrow();
      expect(existsSync(path.join(base, 'victim'))).toBe(false);
      // A hard link to another file (the lock would be taken on it): refused.
      const hard = path.join(base, 'hard');
      await fsp.mkdir(hard, { mode: 0o700 });
      await fsp.writeFile(path.join(base, 'other'), '');
      await fsp.link(path.join(base, 'other'), path.join(hard, 'machine-job.lock'));
      process.env.EDGE_RECOVERY_LOCK_DIR = hard;
      expect(() => acquireJobLock(state, { command: 'backup' })).toThrow(
        expect.objectContaining({ code: 'UNSAFE_PATH' }),
      );
      // Nothing was taken on the way: the state folder's own lock is free.
      expect(jobLockHolder(state)).toBeNull();
      process.env.EDGE_RECOVERY_LOCK_DIR = path.join(base, 'fresh', 'made');
      acquireJobLock(state, { command: 'backup' }).release();
      expect((await fsp.stat(path.join(base, 'fresh', 'made'))).mode & 0o777).toBe(0o700);
    } finally {
      process.env.EDGE_RECOVERY_LOCK_DIR = saved;
    }
  });

  it('refuses a backup while another job holds the lock, before the service is touched', async () => {
    const dir = await tmp('job-lock-');
    const holder = await holdInChild(dir);
    try {
      const profile = {
        schemaVersion: 1,
        id: 'x',
        productName: 'X',
        platform: 'linux',
        service: { manager: 'none', name: 'x', stopTimeoutSeconds: 1, startTimeoutSeconds: 1 },
        items: [{ id: 'Configuration', path: '/nonexistent', required: true }],
        prechecks: [],
        credentials: [],
        version: { policy: 'any', significantParts: 3 },
      } as unknown as Parameters<typeof runBackup>[0]['profile'];
      let asked = false;
      await expect(
        runBackup(
          { profile, to: path.join(dir, 'stick'), stateDir: dir },
          {
            emit: () => undefined,
            interaction: {
              ...autoConfirm,
              confirm: async () => {
                asked = true;
                return true;
              },
            },
          },
        ),
      ).rejects.toMatchObject({ code: 'JOB_RUNNING' });
      expect(asked).toBe(false);
      expect(existsSync(path.join(dir, 'stick'))).toBe(false);
    } finally {
      holder.kill();
    }
  });
});

const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';

describe.skipIf(blocked !== undefined)(
  `one job at a time, with real CLI processes${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let oldM: PracticeMachine;
    let newM: PracticeMachine;
    let work: string;
    let setDir: string;
    let profilePath: string;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await tmp('job-lock-cli-');
      [oldM, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      setDir = (
        await runBackup(
          {
            profile: oldM.profile,
            to: path.join(work, 'stick'),
            root: oldM.root,
            deviceId: 'old-device',
            stateDir: work,
          },
          { emit: () => undefined, interaction: autoConfirm },
        )
      ).setDir;
      await oldM.stop();
      profilePath = newM.profilePath;
    });

    afterAll(async () => {
      await Promise.all([oldM?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('refuses a second restore, resume, rollback and backup with exit 4 while a restore runs; the restore completes with identical data', async () => {
      const stateDir = path.join(work, 'state');
      const pauseFile = path.join(work, 'paused');
      const targets = resolveItems(newM.profile, { root: newM.root }).map((i) => i.path);
      // Held in its restart step: where a concurrent rollback once deleted the original folders.
      const running: Promise<DriverOutcome> = runDriver(
        {
          action: 'restore',
          stateDir,
          backup: setDir,
          profilePath,
          root: newM.root,
          allowOtherDevice: true,
          allowVersionMismatch: true,
          pollMs: 50,
          deviceId: 'new-device',
          secretPrefix: 'typed-',
        },
        { pauseAt: 'after-journal:step-start:restart', pauseFile },
      );
      await expect.poll(() => existsSync(pauseFile), { timeout: 90_000, interval: 100 }).toBe(true);
      const pid = Number(await fsp.readFile(pauseFile, 'utf8'));
      const journalBefore = await fsp.readFile(path.join(stateDir, 'restore-journal.json'), 'utf8');
      // The running product appends its own stream segments; everything else must stay as it is.
      const settled = async () =>
        Object.fromEntries(
          Object.entries(await snapshotFolders(targets)).map(([k, v]) => [
            k,
            Object.fromEntries(Object.entries(v).filter(([rel]) => !/^streams\/segment-\d+\.dat$/.test(rel))),
          ]),
        );
      const foldersBefore = await settled();
      const svc = serviceFor(newM.profile.service, { pollMs: 50 });
      expect((await svc.status()).state).toBe('running');

      const common = ['--state-dir', stateDir, '--yes'];
      const attempts: Array<[string, string[]]> = [
        [
          'restore',
          ['restore', setDir, '--profile', profilePath, '--root', newM.root, '--allow-other-device', ...common],
        ],
        ['resume', ['resume', ...common]],
        ['rollback', ['rollback', ...common]],
        [
          'backup',
          ['backup', '--profile', profilePath, '--root', newM.root, '--to', path.join(work, 'stick2'), ...common],
        ],
      ];
      for (const [name, argv] of attempts) {
        const r = await runCli(argv);
        expect(r.code, `${name}: ${r.stderr}`).toBe(4);
        expect(r.stderr, name).toContain(`"edge-recovery restore" (pid ${pid}, running since`);
        expect(r.stderr, name).toContain('Nothing was changed');
        expect(r.stderr, name).toContain('What to do: Wait until that job has finished');
      }
      // The refused jobs changed nothing: same journal, same folders, the service untouched.
      expect(await fsp.readFile(path.join(stateDir, 'restore-journal.json'), 'utf8')).toBe(journalBefore);
      expect(await settled()).toEqual(foldersBefore);
      expect((await svc.status()).state).toBe('running');
      expect(existsSync(path.join(work, 'stick2'))).toBe(false);
      const st = await runCli(['status', '--state-dir', stateDir]);
      expect(st.stdout).toContain(`Running now: "edge-recovery restore" (pid ${pid}`);

      await fsp.rm(pauseFile);
      const out = await running;
      expect(out.out?.ok, out.stderr + JSON.stringify(out.out)).toBe(true);
      expect((await readJournal(stateDir))?.status).toBe('finished');
      // Identical data: the restored folders hold exactly what the backup holds (GNU tar's reading of it).
      const ref = path.join(work, 'reference');
      await fsp.mkdir(ref);
      await new Promise<void>((resolve, reject) =>
        spawn('tar', ['-xzf', path.join(setDir, 'data.tar.gz'), '-C', ref])
          .on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`tar ${c}`))))
          .on('error', reject),
      );
      for (const [i, id] of ['Configuration', 'Storage'].entries()) {
        const want = await snapshotTree(path.join(ref, id));
        const got = await snapshotTree(targets[i]!);
        for (const [rel, e] of Object.entries(want)) {
          if (rel === 'Storage_PeriodicEgressEndpoints.json') continue; // rewritten when the secrets were typed in
          expect(got[rel]?.sha256, `${id}/${rel}`).toBe(e.sha256);
          expect(got[rel]?.type, `${id}/${rel}`).toBe(e.type);
        }
      }
      expect(jobLockHolder(stateDir)).toBeNull();
    });

    it('refuses a restore and a backup of the same product with another --state-dir, or the default one, while a CLI restore runs; a practice runs meanwhile', async () => {
      // The restore runs as the CLI, held at its credentials step (the product folders already swapped, the product
      // started): not at its restart step, which a restore that enters no credential skips (5345370).
      const stateA = path.join(work, 'state-a');
      const stateB = path.join(work, 'state-b');
      const pauseFile = path.join(work, 'paused-a');
      const targets = resolveItems(newM.profile, { root: newM.root }).map((i) => i.path);
      const running = runCli(
        [
          'restore',
          setDir,
          '--profile',
          profilePath,
          '--root',
          newM.root,
          '--allow-other-device',
          '--allow-version-mismatch',
          '--yes',
          '--json',
          '--state-dir',
          stateA,
        ],
        {
          env: { EDGE_RECOVERY_PAUSE_AT: 'after-journal:step-start:credentials', EDGE_RECOVERY_PAUSE_FILE: pauseFile },
        },
      );
      await expect.poll(() => existsSync(pauseFile), { timeout: 90_000, interval: 100 }).toBe(true);
      const pid = Number(await fsp.readFile(pauseFile, 'utf8'));
      const settled = async () =>
        Object.fromEntries(
          Object.entries(await snapshotFolders(targets)).map(([k, v]) => [
            k,
            Object.fromEntries(Object.entries(v).filter(([rel]) => !/^streams\/segment-\d+\.dat$/.test(rel))),
          ]),
        );
      const foldersBefore = await settled();
      const parentBefore = (await fsp.readdir(path.dirname(targets[0]!))).sort();
      const svc = serviceFor(newM.profile.service, { pollMs: 50 });
      expect((await svc.status()).state).toBe('running');

      // Another state folder, and none at all (the default one: EDGE_RECOVERY_STATE_DIR of this test file).
      const restoreArgs = ['restore', setDir, '--profile', profilePath, '--root', newM.root, '--allow-other-device'];
      const backupArgs = ['backup', '--profile', profilePath, '--root', newM.root, '--to', path.join(work, 'stick3')];
      const attempts: Array<[string, string[]]> = [
        ['restore --state-dir B', [...restoreArgs, '--yes', '--state-dir', stateB]],
        ['backup --state-dir B', [...backupArgs, '--yes', '--state-dir', stateB]],
        ['restore (default state folder)', [...restoreArgs, '--yes']],
        ['backup (default state folder)', [...backupArgs, '--yes']],
      ];
      for (const [name, argv] of attempts) {
        const r = await runCli(argv);
        expect(r.code, `${name}: ${r.stderr}`).toBe(4);
        expect(r.stderr, name).toContain(`"edge-recovery restore" (pid ${pid}, running since`);
        expect(r.stderr, name).toContain('Nothing was changed');
      }
      expect(await settled()).toEqual(foldersBefore);
      expect((await fsp.readdir(path.dirname(targets[0]!))).sort()).toEqual(parentBefore);
      expect((await svc.status()).state).toBe('running');
      expect(existsSync(path.join(work, 'stick3'))).toBe(false);
      expect(existsSync(path.join(stateB, 'restore-journal.json'))).toBe(false);
      // `status` of another state folder says what runs on the machine.
      const st = await runCli(['status', '--state-dir', stateB]);
      expect(st.stdout).toContain(`Running now: "edge-recovery restore" (pid ${pid}`);

      // A rehearsal touches only its sandbox: it neither waits for the real job nor is refused by it.
      const practiceDir = path.join(work, 'practice');
      await fsp.mkdir(practiceDir);
      const practice = await runCli(['practice', '--yes', '--dir', practiceDir]);
      expect(practice.code, practice.stderr.slice(-2000)).toBe(0);
      expect(practice.stdout).toMatch(/^Practice complete/m);

      await fsp.rm(pauseFile);
      const out = await running;
      expect(out.code, out.stderr.slice(-2000)).toBe(0);
      expect((await readJournal(stateA))?.status).toBe('finished');
      expect(jobLockHolder(stateB)).toBeNull();
    });
  },
);
