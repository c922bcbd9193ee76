import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOf } from '../../src-main/engine/progress.js';
import { reportFilesText } from '../../src-main/engine/report/saved-at.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { isRoot, processProfile } from '../helpers/datasets.js';

/**
 * The restore's report step said `Report written: <path>, <path>, <path>, <path>.`: the same two file names on the
 * stick and on this machine. The wizard shows each path by its last name (short-paths.ts), so the technician read
 * "…/report-restore-X.json, …/report-restore-X.html, …/report-restore-X.json, …/report-restore-X.html": the same
 * two files twice, with nothing to say where either copy is. Now the summary names each folder once, the stick's
 * copy told from this machine's, and the file names after it.
 */
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('counts and report files in step summaries', () => {
  it('says a count with its noun, one or many, never "file(s)"', () => {
    expect([countOf(1, 'file'), countOf(2, 'file'), countOf(0, 'path'), countOf(3, 'entry', 'entries')]).toEqual([
      '1 file',
      '2 files',
      '0 paths',
      '3 entries',
    ]);
  });

  it('names each folder once, the copy beside the backup told from this machine’s, with its files after it', () => {
    const text = reportFilesText(
      [
        '/media/tech/STICK/EdgeRecovery/box/report-restore-1.json',
        '/media/tech/STICK/EdgeRecovery/box/report-restore-1.html',
        '/var/lib/edge-recovery/reports/report-restore-1.json',
        '/var/lib/edge-recovery/reports/report-restore-1.html',
        '/media/tech/STICK/EdgeRecovery/box/report-restore-1.pdf',
      ],
      '/var/lib/edge-recovery/reports',
    );
    expect(text).toBe(
      'beside the backup in /media/tech/STICK/EdgeRecovery/box: report-restore-1.json, report-restore-1.html, ' +
        'report-restore-1.pdf; on this machine in /var/lib/edge-recovery/reports: report-restore-1.json, ' +
        'report-restore-1.html',
    );
  });
});

describe.skipIf(!isRoot)('the steps of a backup and its restore', () => {
  let base = '';
  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'report-step-summary-'));
  });
  afterAll(async () => {
    spawnSync('pkill', ['-f', `sleep 1000000`]);
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  it('count in words (no "(s)") and the report step says where each copy of the report is', async () => {
    const data = path.join(base, 'data');
    await fsp.mkdir(path.join(data, 'conf'), { recursive: true });
    await fsp.writeFile(path.join(data, 'conf', 'app.json'), '{"n": 1}\n');
    const profile = path.join(base, 'profile.json');
    await fsp.writeFile(profile, processProfile('report-step', data, path.join(base, 'svc.pid')));
    const state = path.join(base, 'state');
    const common = ['--profile', profile, '--state-dir', state, '--allow-profile-commands', '--yes'];
    const env = { env: { EDGE_RECOVERY_PDF: 'off' } };
    const b = await runCli(
      ['backup', ...common, '--to', path.join(base, 'stick'), '--device-id', 'box', '--json'],
      env,
    );
    expect(b.code, b.stderr).toBe(0);
    const summaries = (out: string): { id: string; state: string; summary?: string }[] =>
      jsonEvents(out)
        .filter((e) => e.type === 'step')
        .map((e) => e.step as { id: string; state: string; summary?: string });
    const backupSteps = summaries(b.stdout);
    // Failed before: "Wrote 1 file(s), …".
    expect(backupSteps.find((s) => s.id === 'archive' && s.state === 'done')?.summary).toMatch(/^Wrote 1 file, /);
    const device = path.join(base, 'stick/EdgeRecovery/box');
    const set = (await fsp.readdir(device)).find((n) => n.startsWith('Backup_'))!;
    const r = await runCli(['restore', path.join(device, set), ...common, '--allow-other-device', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const restoreSteps = summaries(r.stdout);
    for (const s of [...backupSteps, ...restoreSteps]) expect(s.summary ?? '', s.id).not.toMatch(/\(s\)/);
    const report = restoreSteps.find((s) => s.id === 'report' && s.state === 'done');
    const files = 'report-restore-\\d{8}_\\d{6}Z\\.json, report-restore-\\d{8}_\\d{6}Z\\.html';
    expect(report?.summary).toMatch(
      new RegExp(
        `^Report written beside the backup in ${esc(device)}: ${files}; ` +
          `on this machine in ${esc(path.join(state, 'reports'))}: ${files}\\.$`,
      ),
    );
  }, 120_000);
});
