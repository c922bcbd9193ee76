import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { resumeRestore, rollbackRestore } from '../../src-main/engine/restore/run-restore.js';
import { readJournal } from '../../src-main/engine/restore/journal.js';
import { restoreStatus } from '../../src-main/engine/restore/status.js';
import { runCli } from '../helpers/cli.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import type { ServiceControl } from '../../src-main/engine/service/types.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import {
  driverInteraction,
  ensureTestOwner,
  restoreTestsBlocked,
  runDriver,
  type DriverArgs,
} from '../helpers/restore-driver.js';
import { siblingsLike, snapshotFolders, snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';

/**
 * Kills a real restore (a driver process, SIGKILL from the crash points in the restore code or from outside at a
 * random time), then checks `status`, then alternately resumes (the full restore is in place) or rolls back (both
 * folders and the service are exactly as before). The target's service is stopped before each restore, so "exactly"
 * is not blurred by the practice appliance writing its own data while it runs.
 */
const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';
const EGRESS = 'Storage_PeriodicEgressEndpoints.json';

/** Where the restore code kills itself (see crashPoint / JournalStore.save labels). After "committing", only resume is possible. */
const POINTS: Array<{ at: string; only?: 'resume' }> = [
  { at: 'after-journal:step-start:verify' },
  { at: 'verify:done' },
  { at: 'after-journal:step-end:compatibility' },
  { at: 'after-journal:service-before' },
  { at: 'stop:stopped' },
  { at: 'extract:mid' },
  { at: 'extract:done' },
  { at: 'after-journal:step-end:extract' },
  { at: 'before-journal:rename-intent:set-aside:Configuration' },
  { at: 'after-journal:rename-intent:set-aside:Configuration' },
  { at: 'renamed:set-aside:Configuration' },
  { at: 'after-journal:set-aside-decided:Configuration' },
  { at: 'renamed:move-in:Configuration' },
  { at: 'after-journal:rename-intent:set-aside:Storage' },
  { at: 'renamed:set-aside:Storage' },
  { at: 'renamed:move-in:Storage' },
  { at: 'ownership:mid-check' },
  { at: 'ownership:before-check' },
  { at: 'start:started' },
  { at: 'after-journal:step-start:credentials' },
  { at: 'after-journal:credential:1' },
  { at: 'restart:stopped' },
  { at: 'report:before' },
  { at: 'after-journal:step-end:report' },
  { at: 'after-journal:committing', only: 'resume' },
  { at: 'finish:removed:Configuration', only: 'resume' },
  { at: 'after-journal:step-end:finish', only: 'resume' },
];
const RANDOM_KILLS = 3;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(blocked !== undefined)(`a killed restore${blocked ? ` (skipped: ${blocked})` : ''}`, () => {
  let oldM: PracticeMachine;
  let newM: PracticeMachine;
  let work: string;
  let setDir: string;
  let targets: string[];
  let before: Record<string, TreeSnapshot>;
  let reference: Record<string, TreeSnapshot>;
  let svc: ServiceControl;
  let profilePath: string;
  let stateDir: string;
  let n = 0;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'kill-restore-'));
    [oldM, newM] = await Promise.all([
      startPracticeMachine({ user: OWNER, group: OWNER }),
      startPracticeMachine({ user: OWNER, group: OWNER }),
    ]);
    const [oldConf] = resolveItems(oldM.profile, { root: oldM.root });
    await fsp.mkdir(path.join(oldConf!.path, 'Custom'), { recursive: true });
    for (let i = 0; i < 40; i++) await fsp.writeFile(path.join(oldConf!.path, 'Custom', `f${i}.json`), `{"i":${i}}\n`);
    await fsp.symlink('f1.json', path.join(oldConf!.path, 'Custom/link'));
    setDir = (
      await runBackup(
        { profile: oldM.profile, to: path.join(work, 'stick'), root: oldM.root, deviceId: 'old-device' },
        { emit: () => undefined, interaction: autoConfirm },
      )
    ).setDir;
    await oldM.stop();

    // What the backup holds, unpacked by GNU tar: the yardstick for "the full restore is in place".
    const ref = path.join(work, 'reference');
    await fsp.mkdir(ref);
    execFileSync('tar', ['-xzf', path.join(setDir, 'data.tar.gz'), '-C', ref]);
    reference = {
      Configuration: await snapshotTree(path.join(ref, 'Configuration')),
      Storage: await snapshotTree(path.join(ref, 'Storage')),
    };

    // The new machine: stopped, and its version told by a file (its API is down while stopped).
    svc = serviceFor(newM.profile.service, { pollMs: 50 });
    await svc.stop();
    await svc.waitFor('stopped', 15_000);
    const input = JSON.parse(await fsp.readFile(newM.profilePath, 'utf8')) as Record<string, unknown>;
    input.version = {
      policy: 'same-or-newer',
      significantParts: 3,
      file: { path: '/usr/share/OSIsoft/EdgeDataStore/version.txt' },
    };
    profilePath = path.join(work, 'profile.json');
    await fsp.writeFile(profilePath, JSON.stringify(input));
    await fsp.writeFile(path.join(newM.root, 'usr/share/OSIsoft/EdgeDataStore/version.txt'), '1.1.1.46\n');
    targets = resolveItems(newM.profile, { root: newM.root }).map((i) => i.path);
    // A root-owned extra with its own mode, so "exactly as before" also covers owners and modes.
    await fsp.writeFile(path.join(targets[0]!, 'local-only.txt'), 'defaults of the new machine\n', { mode: 0o600 });
    before = await snapshotFolders(targets);
    execFileSync('cp', ['-a', path.dirname(targets[0]!), path.join(work, 'pristine')]);
  });

  afterAll(async () => {
    await Promise.all([oldM?.stop(), newM?.stop()]);
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  async function reset(): Promise<void> {
    await svc.stop();
    await svc.waitFor('stopped', 15_000);
    const parent = path.dirname(targets[0]!);
    await fsp.rm(parent, { recursive: true, force: true });
    execFileSync('cp', ['-a', path.join(work, 'pristine'), parent]);
    expect(await snapshotFolders(targets)).toEqual(before);
  }

  async function expectExactlyBefore(): Promise<void> {
    expect(await snapshotFolders(targets)).toEqual(before);
    for (const t of targets) expect(await siblingsLike(t)).toEqual([]);
    expect((await svc.status()).state).toBe('stopped');
  }

  async function expectRestored(): Promise<void> {
    for (const [i, t] of targets.entries()) {
      const ref = reference[i === 0 ? 'Configuration' : 'Storage']!;
      const got = await snapshotTree(t);
      for (const [rel, e] of Object.entries(ref)) {
        expect(got[rel]?.type, `${t}/${rel}`).toBe(e.type);
        expect(got[rel]?.link, `${t}/${rel}`).toBe(e.link);
        if (rel === EGRESS) continue; // rewritten by the product when the credentials were typed in again
        expect(got[rel]?.sha256, `${t}/${rel}`).toBe(e.sha256);
        expect(got[rel]?.owner, `${t}/${rel}`).toBe(`${OWNER}:${OWNER}`);
        if (e.type !== 'symlink') expect(got[rel]?.mode, `${t}/${rel}`).toBe(e.type === 'dir' ? '755' : '644');
      }
      // Only the appliance's new stream segments may come on top of the backup.
      const extra = Object.keys(got).filter((k) => ref[k] === undefined);
      expect(
        extra.filter((k) => !/^streams\/segment-\d+\.dat$/.test(k)),
        t,
      ).toEqual([]);
      expect(await siblingsLike(t)).toEqual([]);
    }
    expect((await svc.status()).state).toBe('running');
    expect(await newM.api.credentialEntries(newM.profile.credentials[0]!)).toEqual([]);
    const st = await restoreStatus({ stateDir });
    expect(st).toMatchObject({ canResume: false, canRollback: false });
  }

  /** Every path the status text names is there, and what it calls unchanged or restored is so on disk. */
  async function expectTruthful(where: string, at: string): Promise<void> {
    for (const m of where.matchAll(/(\/[^\s()]+?)[.,)]*(?=\s|$)/g)) {
      const p = m[1]!;
      if (where.includes(`${p} does not exist`) || where.includes(`${p} is not there right now`)) {
        expect(existsSync(p), `${at}: status says ${p} is not there: ${where}`).toBe(false);
        continue;
      }
      expect(
        existsSync(p) ||
          (await fsp.lstat(p).then(
            () => true,
            () => false,
          )),
        `${at}: status names ${p}: ${where}`,
      ).toBe(true);
    }
    for (const t of targets) {
      if (where.includes(`${t} is unchanged`)) {
        expect(existsSync(t), `${at}: ${where}`).toBe(true);
        expect(
          (await siblingsLike(t)).filter((n) => n.includes('.before-restore-')),
          `${at}: ${where}`,
        ).toEqual([]);
      }
      if (where.includes(`${t} holds the restored data`)) expect(existsSync(t), `${at}: ${where}`).toBe(true);
    }
  }

  function args(): DriverArgs {
    return {
      action: 'restore',
      stateDir,
      backup: setDir,
      profilePath,
      root: newM.root,
      allowOtherDevice: true,
      pollMs: 50,
      deviceId: 'new-device',
      secretPrefix: 'typed-',
    };
  }

  async function recover(how: 'resume' | 'rollback'): Promise<void> {
    const io = { emit: () => undefined, interaction: driverInteraction('typed-') };
    if (how === 'resume') {
      await resumeRestore({ stateDir, tuning: { pollMs: 50, deviceId: 'new-device' } }, io);
      await expectRestored();
    } else {
      await rollbackRestore({ stateDir, pollMs: 50 }, io);
      await expectExactlyBefore();
      expect(await restoreStatus({ stateDir })).toMatchObject({ canResume: false, canRollback: false });
    }
  }

  it.each(POINTS.map((p, i) => ({ ...p, how: p.only ?? (i % 2 === 0 ? 'rollback' : 'resume') })))(
    'killed at $at, then $how',
    async ({ at, how }) => {
      stateDir = path.join(work, `state-${n++}`);
      const out = await runDriver(args(), { crashAt: at });
      expect(out.signal, `${at}: the crash point was never reached\n${out.stderr}\n${JSON.stringify(out.out)}`).toBe(
        'SIGKILL',
      );
      const st = await restoreStatus({ stateDir });
      expect(st, at).not.toBeNull();
      expect(st!.where.length).toBeGreaterThan(20);
      await expectTruthful(st!.where, at);
      if (at === 'renamed:set-aside:Storage' || at === 'after-journal:committing') {
        // The CLI prints the same words (a real process; not at every point, to keep the test's time sane).
        const cli = await runCli(['status', '--state-dir', stateDir]);
        expect(cli.stdout, at).toContain(st!.where);
        expect(cli.stdout, at).toContain('Next: edge-recovery resume');
      }
      if (at === 'renamed:set-aside:Storage') {
        // The rename happened, its journal entry still says "intended": the disk tells.
        expect(st!.where).toMatch(
          new RegExp(
            `${esc(targets[1]!)} is not there right now: its earlier folder is at \\S+ and the restored copy waits at `,
          ),
        );
        expect(st!.where).not.toContain(`${targets[1]!} is unchanged`);
      }
      if (at === 'extract:mid') {
        // The unpacking runs before the stop: only its root-only staging copy is a trace, and status says so.
        expect(st!.where).toContain('Nothing on this machine was changed yet');
        expect(st!.where).toMatch(/Only a partly unpacked copy is left \(\S+\/\.edge-recovery-\S+/);
      }
      expect(st!.canResume).toBe(true);
      // Once the set-aside folders are being deleted, only resume remains.
      expect(st!.canRollback).toBe(POINTS.find((p) => p.at === at)?.only !== 'resume');
      await recover(how as 'resume' | 'rollback');
      await reset();
    },
  );

  it('a killed rollback: status names only folders that exist, and rolling back again ends exactly as before', async () => {
    stateDir = path.join(work, `state-${n++}`);
    expect((await runDriver(args(), { crashAt: 'renamed:move-in:Storage' })).signal).toBe('SIGKILL');
    const rb = await runDriver({ action: 'rollback', stateDir, pollMs: 50 }, { crashAt: 'renamed:put-back:Storage' });
    expect(rb.signal, rb.stderr).toBe('SIGKILL');
    const st = await restoreStatus({ stateDir });
    expect(st).toMatchObject({ canRollback: true });
    await expectTruthful(st!.where, 'rollback killed after putting Storage back');
    expect(st!.where).toContain(`${targets[1]!} holds its earlier folder again`);
    await recover('rollback');
    await reset();
  });

  it('a failure while cleaning up keeps the restore past its point of no return: no rollback, resume finishes', async () => {
    stateDir = path.join(work, `state-${n++}`);
    const pauseFile = path.join(work, 'pause-commit');
    const running = runDriver(args(), { pauseAt: 'after-journal:committing', pauseFile });
    await expect.poll(() => existsSync(pauseFile), { timeout: 120_000, interval: 100 }).toBe(true);
    const j = await readJournal(stateDir);
    const aside = j!.items[0]!.setAside;
    // A file the clean-up cannot delete (immutable), as a disk error would.
    const stuck = path.join(aside, 'local-only.txt');
    execFileSync('chattr', ['+i', stuck]);
    try {
      await fsp.rm(pauseFile);
      const out = await running;
      expect(out.out?.ok).toBe(false);
      expect((await readJournal(stateDir))?.status).toBe('committing');
      const st = await restoreStatus({ stateDir });
      expect(st).toMatchObject({ canResume: true, canRollback: false });
      expect(st!.where).toContain('The clean-up failed');
      expect(st!.where).toContain('can no longer be rolled back');
      const rb = await runCli(['rollback', '--yes', '--state-dir', stateDir]);
      expect(rb.code, rb.stderr).toBe(4);
      expect(rb.stderr).toMatch(/can no longer be rolled back/);
      expect(rb.stderr).toContain('edge-recovery resume');
    } finally {
      // The clean-up may have moved the folder (into the restore's trash) before it failed: clear the flag wherever it is.
      // (chattr -R also meets symlinks, which it cannot flag, and then exits non-zero: the flags are cleared anyway.)
      spawnSync('chattr', ['-R', '-i', path.dirname(targets[0]!)]);
    }
    await recover('resume');
    await reset();
  });

  it.each(
    Array.from({ length: RANDOM_KILLS }, (_, i) => ({
      i,
      how: i % 2 === 0 ? 'resume' : 'rollback',
      ms: 1000 + Math.floor(Math.random() * 3500),
    })),
  )('killed from outside after a random $ms ms, then $how', async ({ how, ms }) => {
    stateDir = path.join(work, `state-${n++}`);
    const out = await runDriver(args(), { killAfterMs: ms });
    const st = await restoreStatus({ stateDir });
    if (out.signal !== 'SIGKILL') {
      // It finished first: the restore must simply be complete.
      expect(out.out?.ok, out.stderr).toBe(true);
      await expectRestored();
    } else if (st === null) {
      await expectExactlyBefore();
    } else if (!st.canResume && !st.canRollback) {
      // Killed after the journal said finished, before the process exited: the restore is complete.
      await expectRestored();
    } else if (how === 'rollback' && st.canRollback) {
      await recover('rollback');
    } else {
      await recover('resume');
    }
    await reset();
  });
});
