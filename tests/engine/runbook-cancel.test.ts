import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBackup, type BackupOptions } from '../../src-main/engine/backup/run-backup.js';
import { toRecoveryError } from '../../src-main/engine/errors.js';
import type { RestoreCtx } from '../../src-main/engine/restore/context.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import { RESTORE_RUNBOOK, restoreRunbook } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm, cancelNow, executeRunbook, type RunbookIO } from '../../src-main/engine/runbook/runner.js';
import type { RunbookEvent, StepState } from '../../src-main/engine/runbook/types.js';
import { runProductPractice, type MachinePlan, type ServiceMaker } from '../../src-main/practice/product-practice.js';
import { listBackups } from '../../src-main/practice/standins/evc-edge.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { snapshotTree } from '../helpers/tree-snapshot.js';
import { runitServiceMaker } from '../helpers/practice-runit.js';
import { restoreTestsBlocked } from '../helpers/restore-driver.js';
import { requireRunit } from '../helpers/runit.js';

const runit = requireRunit();

/**
 * What Cancel will do is the runbook's to say (each step declares what cancelling means while it runs and after
 * it), sent with the plan and every step change: the wizard shows it and knows no step ids.
 */
describe('cancelling: the runbook says what it will do', () => {
  /** A restore job's context as far as its cancel words read it: the folders it restores. */
  const restoreJob = (items: string[] = ['Configuration']): RestoreCtx =>
    ({ store: { j: { items: items.map((id) => ({ id })) } } }) as unknown as RestoreCtx;
  const restoreNow = (states: Record<string, StepState>, ctx: RestoreCtx = restoreJob()): string =>
    cancelNow(RESTORE_RUNBOOK, new Map(Object.entries(states).map(([id, state]) => [id, { state }])), ctx);

  it('tells a restore still unpacking (before the stop) from one past the stop', () => {
    expect(restoreNow({})).toBe('The restore stops before anything on this machine changed.');
    expect(restoreNow({ verify: 'done', compatibility: 'done', prechecks: 'done' })).toBe(
      'The restore stops before anything on this machine changed.',
    );
    expect(restoreNow({ verify: 'done', extract: 'running' })).toMatch(
      /partly unpacked copy is deleted; the service was never stopped\. Nothing on this machine changes/,
    );
    // Unpacked, the stop not confirmed yet (its question is open, the step still to do).
    expect(restoreNow({ verify: 'done', extract: 'done' })).toBe(
      'The restore stops before the service is stopped: the unpacked copy is deleted. Nothing on this machine changes.',
    );
    // A backup without folders (the product restores itself): the unpacking is skipped, nothing was unpacked.
    const skipped = restoreNow({ verify: 'done', extract: 'skipped' }, restoreJob([]));
    expect(skipped).toBe(
      'The restore stops before the service is stopped; nothing was unpacked (the backup holds no folders). Nothing on this machine changes.',
    );
    expect(skipped).not.toMatch(/unpacked copy/);
    expect(restoreNow({ verify: 'done', extract: 'done', 'stop-service': 'running' })).toMatch(/roll back/);
    // Past the stop, every later step keeps that answer.
    expect(restoreNow({ extract: 'done', 'stop-service': 'done', swap: 'done', ownership: 'running' })).toMatch(
      /roll back .* or to resume later/,
    );
    // But the last one: a deletion of the old folders, once chosen, is finished, not rolled back.
    const atTheEnd = restoreNow({ extract: 'done', 'stop-service': 'done', report: 'done', finish: 'running' });
    expect(atTheEnd).toMatch(/before you choose, the old folders stay and you can still roll back/);
    expect(atTheEnd).toMatch(/once you chose to delete them, their deletion finishes/);
  });

  it("says a rollback cannot undo a product's own step that has no undo (DeviceOn's reset to default)", async () => {
    const def = restoreRunbook(await loadProfile('deviceon-linux'));
    const at = (states: Record<string, StepState>): string =>
      cancelNow(def, new Map(Object.entries(states).map(([id, state]) => [id, { state }])), restoreJob([]));
    const swapped = { extract: 'done', 'stop-service': 'skipped', swap: 'done' } as const;
    expect(at(swapped)).toMatch(/roll back \(everything as it was\)/);
    for (const state of ['running', 'done'] as const) {
      const said = at({ ...swapped, 'reset-to-default': state, 'system-recovery': 'todo' });
      expect(said).toMatch(/cannot undo "Reset the DeviceOn server to default"/);
      expect(said).not.toMatch(/everything as it was/);
    }
  });

  it('sends the answer with the plan and with every step change', async () => {
    const events: RunbookEvent[] = [];
    await executeRunbook(
      {
        kind: 'backup',
        title: 't',
        cancel: 'nothing changes yet',
        steps: [
          { id: 'a', title: 'A', explain: () => 'a', run: async () => 'a done' },
          {
            id: 'b',
            title: 'B',
            explain: () => 'b',
            cancel: { during: 'b is undone', after: 'b is kept' },
            run: async () => 'b done',
          },
          { id: 'c', title: 'C', explain: () => 'c', run: async () => 'c done' },
        ],
      },
      {},
      { emit: (e) => events.push(e), interaction: autoConfirm },
    );
    const said = events.flatMap((e) =>
      e.type === 'plan'
        ? [`plan: ${e.cancel}`]
        : e.type === 'step'
          ? [`${e.step.id} ${e.step.state}: ${e.cancel}`]
          : [],
    );
    expect(said).toEqual([
      'plan: nothing changes yet',
      'a running: nothing changes yet',
      'a done: nothing changes yet',
      'b running: b is undone',
      'b done: b is kept',
      'c running: b is kept',
      'c done: b is kept',
    ]);
  });
});

/**
 * A backup cancelled at a chosen event: the words the screen showed at that moment, then what really happened.
 * Each case's words are checked against the machine afterwards, so words and behaviour cannot drift apart.
 */
describe.skipIf(runit.skip)('cancelling a backup: the words say what this job really does', () => {
  let m: PracticeMachine;
  let work: string;
  beforeAll(async () => {
    m = await startPracticeMachine();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'cancel-words-'));
  }, 60_000);
  afterAll(async () => {
    await m?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });
  const sv = (...args: string[]): string => execFileSync('sv', [...args, m.serviceDir], { encoding: 'utf8' });
  beforeEach(() => {
    sv('-w', '30', 'start');
  });

  /** Runs a backup and cancels it on the first event `at` matches; the words shown then, and the error. */
  async function cancelAt(
    o: Partial<BackupOptions>,
    at: (e: RunbookEvent) => boolean,
  ): Promise<{ said: string; code: string; message: string; sets: string[] }> {
    const ac = new AbortController();
    let shown = '';
    let said: string | null = null;
    const stick = await fsp.mkdtemp(path.join(work, 'stick-'));
    let message = '';
    const code = await runBackup(
      { profile: m.profile, to: stick, root: m.root, deviceId: 'box', stateDir: path.join(work, 'state'), ...o },
      {
        emit: (e) => {
          if ((e.type === 'plan' || e.type === 'step') && e.cancel !== undefined) shown = e.cancel;
          if (said === null && at(e)) {
            said = shown;
            ac.abort();
          }
        },
        interaction: autoConfirm,
        signal: ac.signal,
      },
    ).then(
      () => 'OK',
      (e: unknown) => {
        message = toRecoveryError(e).message;
        return toRecoveryError(e).code;
      },
    );
    const dev = path.join(stick, 'EdgeRecovery', 'box');
    const sets = (await fsp.readdir(dev).catch(() => [])).filter((n) => n.startsWith('Backup_'));
    const withManifest: string[] = [];
    for (const s of sets) {
      if (await fsp.stat(path.join(dev, s, 'manifest.json')).catch(() => null)) withManifest.push(s);
    }
    expect(said, 'the cancel point was reached').not.toBeNull();
    return { said: said!, code, message, sets: sets.map((s) => (withManifest.includes(s) ? `${s} complete` : s)) };
  }
  const archiving = (e: RunbookEvent) => e.type === 'step' && e.step.id === 'archive' && e.step.state === 'running';

  it('--leave-stopped: says the service stays stopped, and it does', async () => {
    const r = await cancelAt({ leaveStopped: true }, archiving);
    expect(r.code).toBe('CANCELLED');
    expect(r.said).toBe(
      'The backup stops, the unfinished backup is removed from the stick, and the service stays stopped, as asked (--leave-stopped). Earlier backups are not touched.',
    );
    expect(sv('status')).toMatch(/^down: /);
    expect(r.sets).toEqual([]);
    // The outcome says what was done, as the words said before.
    expect(r.message).toBe(
      'Cancelled by the technician. The unfinished backup was removed from the stick. The service stays stopped, as asked (--leave-stopped). Earlier backups were not touched.',
    );
  });

  it('a service that was already stopped: says it stays stopped, and it is not started', async () => {
    sv('-w', '30', 'stop');
    const r = await cancelAt({}, archiving);
    expect(r.code).toBe('CANCELLED');
    expect(r.said).toMatch(/and the service was already stopped before the backup and stays stopped\./);
    expect(r.said).not.toMatch(/started again/);
    expect(sv('status')).toMatch(/^down: /);
  });

  it('a service this backup stopped: says it is started again, and it is', async () => {
    const r = await cancelAt({}, archiving);
    expect(r.code).toBe('CANCELLED');
    expect(r.said).toBe(
      'The backup stops, the unfinished backup is removed from the stick, and the service is started again. Earlier backups are not touched.',
    );
    expect(sv('status')).toMatch(/^run: /);
    expect(r.sets).toEqual([]);
    expect(r.message).toBe(
      'Cancelled by the technician. The unfinished backup was removed from the stick. The service was started again. Earlier backups were not touched.',
    );
  });

  it('a product that backs itself up while it runs: says the service was not stopped, and it never was', async () => {
    const pidBefore = sv('status').match(/\(pid (\d+)\)/)?.[1];
    // Cancelled as soon as the stop is skipped (the practice product keeps its files open while it runs).
    const skipped = (e: RunbookEvent) =>
      e.type === 'step' && e.step.id === 'stop-service' && e.step.state === 'skipped';
    const r = await cancelAt({ profile: { ...m.profile, stopService: [] } }, skipped);
    expect(r.code).toBe('CANCELLED');
    expect(r.said).toMatch(/and the service was not stopped\./);
    expect(sv('status').match(/\(pid (\d+)\)/)?.[1]).toBe(pidBefore);
  });

  it('once verified: says the backup stays and the service is started again, and both are true', async () => {
    const verified = (e: RunbookEvent) => e.type === 'step' && e.step.id === 'verify' && e.step.state === 'done';
    const r = await cancelAt({}, verified);
    expect(r.code).toBe('CANCELLED');
    expect(r.said).toBe(
      'The backup is complete and stays on the stick, and the service is started again. Old backups are not removed.',
    );
    expect(r.sets).toEqual([expect.stringMatching(/ complete$/)]);
    // The outcome says the same: not only "cancelled", but what stays and what runs.
    expect(r.message).toBe(
      `Cancelled after the backup was complete: ${r.sets[0]!.replace(/ complete$/, '')} is on the stick, checked, and stays. The service was started again. Old backups were not removed.`,
    );
    expect(sv('status')).toMatch(/^run: /);
  });
});

describe.skipIf(restoreTestsBlocked() !== undefined)(
  "cancelling a backup after a product's step nothing undoes",
  () => {
    it('EVC-net Edge: says the manual backup the Edge made of itself stays, and it does', async () => {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cancel-evc-'));
      try {
        const ac = new AbortController();
        let shown = '';
        let said: string | null = null;
        let old: MachinePlan | undefined;
        let before: string[] = [];
        const io: RunbookIO = {
          emit: (e) => {
            if ((e.type === 'plan' || e.type === 'step') && e.cancel !== undefined) shown = e.cancel;
            if (said === null && e.type === 'step' && e.step.id === 'create-backup' && e.step.state === 'done') {
              said = shown;
              ac.abort();
            }
          },
          interaction: autoConfirm,
          signal: ac.signal,
        };
        const err = await runProductPractice('evc-edge', io, {
          baseDir: dir,
          keep: true,
          makeService: runitServiceMaker,
          before: async (phase, m) => {
            if (phase !== 'backup') return;
            old = m;
            before = (await listBackups(m.root, 'EDGE-7F3A21')).map((b) => b.name);
          },
        }).then(
          () => null,
          (e: unknown) => toRecoveryError(e),
        );
        expect(err?.code).toBe('CANCELLED');
        expect(said).toBe(
          'The backup stops. Nothing else on this machine or the stick changes: what "Make a manual backup on the Edge" did stays (nothing undoes it).',
        );
        const after = (await listBackups(old!.root, 'EDGE-7F3A21')).map((b) => b.name);
        expect(after).not.toEqual(before);
        expect(after[0]).toBe('practice before replacement');
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    }, 120_000);
  },
);

describe.skipIf(restoreTestsBlocked() !== undefined)('cancelling a restore whose unpacking was skipped', () => {
  it('WISE-DeviceOn (the backup holds no folders): says nothing was unpacked, and nothing on the new server changed', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cancel-skipped-'));
    // The stand-ins are stopped by this test, after it looked at them (the practice would stop them on its way out).
    const stops: Array<() => Promise<void>> = [];
    try {
      const ac = new AbortController();
      let shown = '';
      let said: string | null = null;
      let fresh: MachinePlan | undefined;
      let pidBefore: string | undefined;
      const makeService: ServiceMaker = async (name, argv, home) => {
        const svc = await runitServiceMaker(name, argv, home);
        stops.push(svc.dispose);
        return { spec: svc.spec, dispose: async () => undefined };
      };
      let before: Awaited<ReturnType<typeof snapshotTree>> = {};
      const settled = async (root: string) =>
        Object.fromEntries(Object.entries(await snapshotTree(root)).filter(([rel]) => !/\.log$/.test(rel)));
      const io: RunbookIO = {
        emit: (e) => {
          if ((e.type === 'plan' || e.type === 'step') && e.cancel !== undefined) shown = e.cancel;
          if (said === null && e.type === 'step' && e.step.id === 'extract' && e.step.state === 'skipped') {
            said = shown;
            ac.abort();
          }
        },
        interaction: autoConfirm,
        signal: ac.signal,
      };
      const err = await runProductPractice('deviceon-linux', io, {
        baseDir: dir,
        keep: true,
        makeService,
        before: async (phase, m) => {
          if (phase !== 'restore') return;
          fresh = m;
          pidBefore = execFileSync('sv', ['status', m.service.spec.name], { encoding: 'utf8' }).match(
            /\(pid (\d+)\)/,
          )?.[1];
          before = await settled(m.root);
        },
      }).then(
        () => null,
        (e: unknown) => toRecoveryError(e),
      );
      expect(said, 'the unpacking was skipped').not.toBeNull();
      expect(err?.code).toBe('CANCELLED');
      expect(said).toBe(
        'The restore stops before the service is stopped; nothing was unpacked (the backup holds no folders). Nothing on this machine changes.',
      );
      // What it said is what happened: the service never stopped (same process), the new server's files as they were.
      expect(pidBefore).toBeDefined();
      expect(execFileSync('sv', ['status', fresh!.service.spec.name], { encoding: 'utf8' })).toMatch(
        new RegExp(`^run: .*\\(pid ${pidBefore}\\)`),
      );
      expect(await settled(fresh!.root)).toEqual(before);
    } finally {
      for (const stop of stops) await stop().catch(() => undefined);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
