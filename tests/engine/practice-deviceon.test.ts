import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackupSet } from '../../src-main/engine/backup/manifest.js';
import { rollbackRestore } from '../../src-main/engine/restore/index.js';
import type { RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { runProductPractice, type MachinePlan } from '../../src-main/practice/product-practice.js';
import { countDevices, deviceonPaths, setDeviceOnConf } from '../../src-main/practice/standins/deviceon.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { runitServiceMaker } from '../helpers/practice-runit.js';
import { rejection } from '../helpers/rejection.js';
import { restoreTestsBlocked } from '../helpers/restore-driver.js';

const why = restoreTestsBlocked();

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-deviceon-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function recorder(): { io: RunbookIO; steps: string[]; logs: string[]; asked: string[] } {
  const steps: string[] = [];
  const logs: string[] = [];
  const asked: string[] = [];
  return {
    steps,
    logs,
    asked,
    io: {
      emit: (e) => {
        if (e.type === 'step' && e.step.state !== 'running') steps.push(`${e.step.id}:${e.step.state}`);
        if (e.type === 'log') logs.push(e.message);
      },
      interaction: {
        confirm: async (q) => {
          asked.push(`${q.stepId}: ${q.message}`);
          return true;
        },
        credentials: async () => null,
      },
    },
  };
}

const opts = (before?: (phase: 'backup' | 'restore', m: MachinePlan) => Promise<void>) => ({
  baseDir: dir,
  keep: true,
  makeService: runitServiceMaker,
  ...(before ? { before } : {}),
});

describe.skipIf(why !== undefined)('WISE-DeviceOn end to end on its stand-in (runit, real scripts, real zips)', () => {
  it('collects the scheduled Backup_*.zip newest first with hashes; resets (confirmed) and runs System Recovery on the new server', async () => {
    const r0 = recorder();
    const r = await runProductPractice('deviceon-linux', r0.io, opts());
    expect(r.check).toContain("manages the old server's 25 devices");
    const { manifest } = await readBackupSet(r.setDir);
    // Nine nights written, the retention count (7) kept: all 7 on the stick, newest first.
    const names = manifest.artifacts.map((a) => path.posix.basename(a.path));
    expect(names).toHaveLength(7);
    expect(names.every((n) => /^Backup_\d{8}_\d{4}Z\.zip$/.test(n))).toBe(true);
    expect([...names].sort().reverse()).toEqual(names);
    expect(manifest.facts).toEqual({ tpm: 'TPM-2B7E151628AED2A6' });
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: r.setDir, encoding: 'utf8' })).toContain(
      `artifacts/scheduled-backups/${names[0]}: OK`,
    );
    // The reset is destructive: asked before it ran.
    expect(r0.asked.some((a) => a.startsWith('reset-to-default:') && a.includes('cannot be undone'))).toBe(true);
    expect(r0.steps.indexOf('reset-to-default:done')).toBeLessThan(r0.steps.indexOf('system-recovery:done'));
    expect(r0.logs.some((l) => l.includes('recovery.sh: Restore successfully'))).toBe(true);
    const json = JSON.parse(await fsp.readFile(r.reports.find((p) => p.endsWith('.json'))!, 'utf8')) as {
      steps: Array<{ id: string; summary?: string }>;
    };
    expect(json.steps.find((s) => s.id === 'compatibility')!.summary).toContain(
      'TPM that encrypts the backups: TPM-2B7E151628AED2A6, as in the backup.',
    );
  });

  it('another server version: refused before the reset, nothing changed', async () => {
    const r0 = recorder();
    let fresh: MachinePlan | undefined;
    const e = await rejection(
      runProductPractice(
        'deviceon-linux',
        r0.io,
        opts(async (phase, m) => {
          if (phase !== 'restore') return;
          fresh = m;
          await setDeviceOnConf(m.root, { version: '5.4.0' });
        }),
      ),
    );
    expect(e.code).toBe('VERSION_MISMATCH');
    expect(e.message).toContain('5.3.2');
    expect(e.message).toContain('5.4.0');
    expect(r0.steps).toContain('compatibility:failed');
    expect(r0.steps.some((s) => s.startsWith('reset-to-default:'))).toBe(false);
    expect(await countDevices(fresh!.root)).toBe(2);
  });

  it('another TPM: TPM-encrypted backups are refused in plain words before the reset, nothing changed', async () => {
    const r0 = recorder();
    let fresh: MachinePlan | undefined;
    const e = await rejection(
      runProductPractice(
        'deviceon-linux',
        r0.io,
        opts(async (phase, m) => {
          if (phase !== 'restore') return;
          fresh = m;
          await setDeviceOnConf(m.root, { tpmId: 'TPM-99AA00BB11CC22DD' });
        }),
      ),
    );
    expect(e.code).toBe('PROFILE_MISMATCH');
    expect(e.message).toContain('the backup has TPM-2B7E151628AED2A6, this machine TPM-99AA00BB11CC22DD');
    expect(e.hint).toContain('only a server with that same TPM');
    expect(e.hint).toContain('Nothing was changed');
    expect(r0.steps.some((s) => s.startsWith('reset-to-default:'))).toBe(false);
    expect(await countDevices(fresh!.root)).toBe(2);
  });

  it('System Recovery prints "Restore failed": the step fails on that line, and the rollback says the reset cannot be undone', async () => {
    const r0 = recorder();
    let fresh: MachinePlan | undefined;
    const e = await rejection(
      runProductPractice(
        'deviceon-linux',
        r0.io,
        opts(async (phase, m) => {
          if (phase === 'backup') {
            // The server crashed while writing its newest scheduled backup: a cut zip, copied as it is.
            const storage = deviceonPaths(m.root).storage;
            const newest = (await fsp.readdir(storage)).sort().reverse()[0]!;
            const f = path.join(storage, newest);
            await fsp.truncate(f, (await fsp.stat(f)).size - 60);
          } else fresh = m;
        }),
      ),
    );
    expect(e.code).toBe('STEP_FAILED');
    // The failure line follows the tool's own prompt (the answer is not echoed on a pipe).
    expect(e.message).toMatch(
      /recovery\.sh" reported a failure: .*Restore failed: .* is not a DeviceOn backup or it is damaged/,
    );
    expect(r0.steps).toContain('reset-to-default:done');
    expect(r0.steps).toContain('system-recovery:failed');
    const stateDir = path.join(path.dirname(path.dirname(fresh!.root)), 'state');
    const lines: string[] = [];
    await rollbackRestore(
      { stateDir },
      {
        emit: (ev) => {
          if (ev.type === 'log') lines.push(ev.message);
          if (ev.type === 'step' && ev.step.summary !== undefined) lines.push(ev.step.summary);
        },
        interaction: { confirm: async () => true, credentials: async () => null },
      },
    );
    expect(lines.join('\n')).toContain('a reset to defaults cannot be undone');
  });

  it('CLI: edge-recovery practice deviceon-linux --yes exits 0 and writes the report; profiles lists both shapes', async () => {
    const r = await runCli(['practice', 'deviceon-linux', '--yes', '--json', '--dir', dir]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const finished = jsonEvents(r.stdout).filter((e) => e.type === 'finished');
    expect(finished.map((e) => (e.result as { kind: string }).kind)).toEqual(['backup', 'restore']);
    expect((finished[1]!.result as { reports: string[] }).reports.some((p) => p.endsWith('.html'))).toBe(true);
    const p = await runCli(['profiles']);
    expect(p.stdout).toContain('deviceon-linux');
    expect(p.stdout).toContain('deviceon-windows');
  });
});
