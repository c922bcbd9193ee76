import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackupSet } from '../../src-main/engine/backup/manifest.js';
import type { RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { runProductPractice, type MachinePlan } from '../../src-main/practice/product-practice.js';
import { edgeConfig, listBackups, setTransactions } from '../../src-main/practice/standins/evc-edge.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { runitServiceMaker } from '../helpers/practice-runit.js';
import { rejection } from '../helpers/rejection.js';
import { restoreTestsBlocked } from '../helpers/restore-driver.js';

const why = restoreTestsBlocked();

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-evc-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function recorder(): { io: RunbookIO; steps: string[]; logs: string[] } {
  const steps: string[] = [];
  const logs: string[] = [];
  return {
    steps,
    logs,
    io: {
      emit: (e) => {
        if (e.type === 'step' && e.step.state !== 'running') steps.push(`${e.step.id}:${e.step.state}`);
        if (e.type === 'log') logs.push(e.message);
      },
      interaction: { confirm: async () => true, credentials: async () => null },
    },
  };
}

const OLD = 'EDGE-7F3A21';
const NEW = 'EDGE-9C0D44';

describe.skipIf(why !== undefined)('EVC-net Edge end to end on its stand-in (runit, real HTTP)', () => {
  it('waits for running transactions to end, backs up a named manual backup, restores it on a new Edge through switch device', async () => {
    const r0 = recorder();
    let old: MachinePlan | undefined;
    // Two drivers are charging when the technician starts; they unplug while the tool waits (its first retry).
    let unplugged: Promise<void> | undefined;
    const io: RunbookIO = {
      ...r0.io,
      emit: (e) => {
        r0.io.emit(e);
        if (e.type === 'log' && e.message.includes('/active is 2, not 0; trying again') && old) {
          unplugged ??= setTransactions(old.root, 0, null);
        }
      },
    };
    const r = await runProductPractice('evc-edge', io, {
      baseDir: dir,
      keep: true,
      makeService: runitServiceMaker,
      before: async (phase, m) => {
        if (phase === 'backup') {
          old = m;
          await setTransactions(m.root, 2, null);
        }
      },
    });
    expect(unplugged).toBeDefined();
    expect(r.check).toContain(`runs the configuration of ${OLD} (8 chargepoints)`);
    // It waited (the http precheck retried) and then went on.
    expect(r0.logs.some((l) => l.includes('/active is 2, not 0; trying again'))).toBe(true);
    expect(r0.steps).toContain('no-transactions:done');
    expect(r0.steps.indexOf('no-transactions:done')).toBeLessThan(r0.steps.indexOf('create-backup:done'));
    for (const id of ['download-backup', 'backup-file', 'no-transactions-restore', 'switch-device', 'restore-backup'])
      expect(r0.steps).toContain(`${id}:done`);
    // Filed under the Edge's own device id, with the Edge's file and its checksum.
    expect(r.setDir).toContain(path.join('EdgeRecovery', OLD));
    const { manifest } = await readBackupSet(r.setDir);
    expect(manifest.deviceId).toBe(OLD);
    expect(manifest.productVersion).toBe('1.26.3');
    expect(manifest.artifacts.map((a) => a.path)).toEqual(['artifacts/backup-file/edge-backup.edgebackup']);
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: r.setDir, encoding: 'utf8' })).toContain(
      'artifacts/backup-file/edge-backup.edgebackup: OK',
    );
    // The Edge's retention: 11 manual + the new one → the 10 newest; automatic ones older than 6 months deleted.
    const kept = await listBackups(old!.root, OLD);
    const manual = kept.filter((b) => b.type === 'manual');
    expect(manual).toHaveLength(10);
    expect(manual[0]!.name).toBe('practice before replacement');
    expect(manual.map((b) => b.name)).not.toContain('manual 1');
    expect(manual.map((b) => b.name)).not.toContain('manual 2');
    const auto = kept.filter((b) => b.type === 'automatic').map((b) => b.name);
    expect(auto).toHaveLength(6);
    expect(auto).not.toContain('Automatic, 200 days ago');
    expect(auto).not.toContain('Automatic, 230 days ago');
    expect(auto).toContain('Automatic, 170 days ago');
    // Switch device: the plan and the report say which device's backup went onto which.
    const json = JSON.parse(await fsp.readFile(r.reports.find((p) => p.endsWith('.json'))!, 'utf8')) as {
      deviceId: string;
      sourceDeviceId: string;
      steps: Array<{ id: string; summary?: string }>;
    };
    expect(json.deviceId).toBe(NEW);
    expect(json.sourceDeviceId).toBe(OLD);
    expect(json.steps.find((s) => s.id === 'compatibility')!.summary).toContain(
      `Switch device: this EVC-net Edge (Last Mile Solutions) has the device id ${NEW}; the technician chose the backup of the device ${OLD}`,
    );
    expect(json.steps.find((s) => s.id === 'switch-device')!.summary).toContain(`/api/v1/devices/${OLD}/backups`);
    const html = await fsp.readFile(r.reports.find((p) => p.endsWith('.html'))!, 'utf8');
    expect(html).toContain('Switch device');
    const cfg = await edgeConfig(path.join(r.sandbox, 'new', 'root'));
    expect(cfg.restoredFrom).toMatchObject({ deviceId: OLD, name: 'practice before replacement' });
  });

  it('transactions that never end: the backup is refused in plain words and nothing changed', async () => {
    const r0 = recorder();
    let old: MachinePlan | undefined;
    let before = 0;
    const e = await rejection(
      runProductPractice('evc-edge', r0.io, {
        baseDir: dir,
        keep: true,
        makeService: runitServiceMaker,
        before: async (phase, m) => {
          if (phase !== 'backup') return;
          old = m;
          await setTransactions(m.root, 3, null);
          before = (await listBackups(m.root, OLD)).length;
        },
      }),
    );
    expect(e.code).toBe('PRECHECK_FAILED'); // a refusal: exit 4
    expect(e.message).toContain('/active is 3, not 0');
    expect(e.hint).toContain('customers are not billed twice');
    expect(e.hint).toContain('Nothing was changed');
    expect(r0.steps).toContain('no-transactions:failed');
    expect(r0.steps.some((s) => s.startsWith('create-backup:done'))).toBe(false);
    // The Edge made no backup, the stick holds no set, the configuration is as it was.
    expect(await listBackups(old!.root, OLD)).toHaveLength(before);
    const sandbox = path.dirname(path.dirname(old!.root));
    const stick = await fsp.readdir(path.join(sandbox, 'stick', 'EdgeRecovery', OLD)).catch(() => []);
    expect(stick).toEqual([]);
    expect((await edgeConfig(old!.root)).chargepoints).toHaveLength(8);
  });

  it('transactions on the replacement that never end: the restore is refused and nothing is changed there', async () => {
    const r0 = recorder();
    let fresh: MachinePlan | undefined;
    const e = await rejection(
      runProductPractice('evc-edge', r0.io, {
        baseDir: dir,
        keep: true,
        makeService: runitServiceMaker,
        before: async (phase, m) => {
          if (phase !== 'restore') return;
          fresh = m;
          await setTransactions(m.root, 1, null);
        },
      }),
    );
    expect(e.code).toBe('PRECHECK_FAILED');
    expect(e.hint).toContain('A backup is only restored when none run');
    expect(r0.steps).toContain('no-transactions-restore:failed');
    expect(r0.steps.some((s) => s.startsWith('switch-device:'))).toBe(false);
    const cfg = await edgeConfig(fresh!.root);
    expect(cfg.chargepoints).toHaveLength(0);
    expect(cfg.restoredFrom).toBeUndefined();
    expect(await listBackups(fresh!.root, OLD)).toEqual([]);
  });

  it('CLI: a backup name the Edge would refuse is refused before anything runs (exit 2)', async () => {
    const to = path.join(dir, 'label-stick');
    const r = await runCli([
      'backup',
      '--profile',
      'evc-edge',
      '--to',
      to,
      '--label',
      'nightly; rm -rf /',
      '--state-dir',
      path.join(dir, 'label-state'),
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('is not a valid name for a EVC-net Edge');
    expect(r.stderr).toContain('1 to 64 letters, digits, spaces');
    await expect(fsp.stat(to)).rejects.toThrow();
  });

  it('CLI: edge-recovery practice evc-edge --yes exits 0 and writes the report', async () => {
    const r = await runCli(['practice', 'evc-edge', '--yes', '--json', '--dir', dir]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const finished = jsonEvents(r.stdout).filter((e) => e.type === 'finished');
    expect(finished.map((e) => (e.result as { kind: string }).kind)).toEqual(['backup', 'restore']);
    const reports = (finished[1]!.result as { reports: string[] }).reports;
    expect(reports.some((p) => p.endsWith('.html'))).toBe(true);
    // A product that archives no folders and backs itself up while it runs, in the backup's own words: no empty
    // list ("Check that  exist", "Pack  into"), no "All 0 files", and a service that was never stopped is not
    // said to have been "not running before the backup" (it ran all along).
    const backupSteps = new Map<string, { explain: string; summary?: string }>();
    for (const e of jsonEvents(r.stdout)) {
      if (e.type === 'finished') break;
      if (e.type === 'step') {
        const st = e.step as { id: string; explain: string; summary?: string };
        backupSteps.set(st.id, st);
      }
    }
    for (const [id, st] of backupSteps) expect(st.explain, id).not.toMatch(/ {2}/);
    expect(backupSteps.get('prechecks')!.explain).toMatch(/^Check that \S+ has room for the backup/);
    expect(backupSteps.get('verify')!.summary).toMatch(/^The archive and 1 file of the product's own read back/);
    expect(backupSteps.get('start-service')!.summary).toBe(
      'The service was not stopped for the backup, so there is nothing to start.',
    );
  });

  it('the profiles list shows EVC-net Edge', async () => {
    const r = await runCli(['profiles']);
    expect(r.stdout).toContain('evc-edge');
    expect(r.stdout).toContain('EVC-net Edge');
  });
});
