import { spawnSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { isRoot, processProfile } from '../helpers/datasets.js';

/**
 * A product stopped for the restore is started once on the restored folders, and its health checked. It was then
 * restarted (stopped and started again) even when no credential had been re-entered, which is the restart's only
 * reason: StackState, which may take minutes to stop and start, went down twice for nothing. Now only a product
 * whose credentials were typed in again is restarted.
 */
describe.skipIf(!isRoot)('a restore of a product without credentials to re-enter', () => {
  let base = '';
  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'restore-one-start-'));
  });
  afterAll(async () => {
    spawnSync('pkill', ['-f', `sleep 1000000`]);
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  it('starts the service once after the swap and does not restart it', async () => {
    const data = path.join(base, 'data');
    await fsp.mkdir(path.join(data, 'conf'), { recursive: true });
    await fsp.writeFile(path.join(data, 'conf', 'app.json'), '{"n": 1}\n');
    const pidFile = path.join(base, 'svc.pid');
    const profile = path.join(base, 'profile.json');
    await fsp.writeFile(profile, processProfile('one-start', data, pidFile));
    const common = ['--profile', profile, '--state-dir', path.join(base, 'state'), '--allow-profile-commands', '--yes'];
    const b = await runCli(['backup', ...common, '--to', path.join(base, 'stick'), '--device-id', 'box'], {
      env: { EDGE_RECOVERY_PDF: 'off' },
    });
    expect(b.code, b.stderr).toBe(0);
    const set = (await fsp.readdir(path.join(base, 'stick/EdgeRecovery/box'))).find((n) => n.startsWith('Backup_'))!;
    const r = await runCli(
      ['restore', path.join(base, 'stick/EdgeRecovery/box', set), ...common, '--allow-other-device', '--json'],
      { env: { EDGE_RECOVERY_PDF: 'off' } },
    );
    expect(r.code, r.stderr).toBe(0);
    const steps = jsonEvents(r.stdout)
      .filter((e) => e.type === 'step')
      .map((e) => e.step as { id: string; state: string; summary?: string });
    const restart = steps.filter((s) => s.id === 'restart');
    expect(restart.map((s) => s.state)).toEqual(['skipped']);
    expect(restart[0]!.summary).toMatch(/No credential is re-entered .*not restarted/);
    // The service runs, started by the start step (one start after the stop: its process is the one that step left).
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(steps.filter((s) => s.id === 'start-service' && s.state === 'done')).toHaveLength(1);
  }, 120_000);

  it('a product with credentials none of which were entered (skipped) is not restarted either', async () => {
    // The practice appliance has two credentials; without a terminal nobody enters them. It was stopped and started
    // again "so it reads the new credentials", with none entered.
    const dir = path.join(base, 'practice');
    await fsp.mkdir(dir);
    const r = await runCli(['practice', '--yes', '--json', '--dir', dir], { env: { EDGE_RECOVERY_PDF: 'off' } });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const steps = jsonEvents(r.stdout)
      .filter((e) => e.type === 'step')
      .map((e) => e.step as { id: string; state: string; summary?: string });
    // The backup's runbook has no restart step: these are the restore's.
    const restart = steps.filter((s) => s.id === 'restart');
    expect(restart.map((s) => s.state)).toEqual(['skipped']);
    expect(restart[0]!.summary).toBe(
      'No credential was entered, so AVEVA Edge Data Store (practice appliance) is not restarted: it already runs on the restored folders (started and found healthy by the restore). Entering the open ones later restarts it.',
    );
    expect(steps.some((s) => s.id === 'credentials' && /Not entered/.test(s.summary ?? ''))).toBe(true);
  }, 120_000);
});
