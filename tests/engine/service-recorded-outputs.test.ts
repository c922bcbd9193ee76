import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import type { ExecFn, ExecResult } from '../../src-main/engine/service/types.js';
import { ServiceSchema } from '../../src-main/engine/profiles/schema.js';

function fixture(kind: 'systemd' | 'windows', name: string): ExecResult {
  const raw = JSON.parse(
    readFileSync(new URL(`../fixtures/service/${kind}/${name}.json`, import.meta.url), 'utf8'),
  ) as ExecResult;
  return { code: raw.code, stdout: raw.stdout, stderr: raw.stderr };
}

/** An ExecFn answering from recorded outputs, keyed by "program verb"; it records every call. */
function replay(answers: Record<string, ExecResult | ExecResult[]>): ExecFn & { calls: string[][] } {
  const calls: string[][] = [];
  const fn = ((file: string, args: string[]) => {
    calls.push([file, ...args]);
    const key = `${file} ${args[0] === '-p' ? args[2] : args[0]}`;
    const a = answers[key];
    if (a === undefined) throw new Error(`unexpected call: ${file} ${args.join(' ')}`);
    const r = Array.isArray(a) ? (a.length > 1 ? a.shift()! : a[0]!) : a;
    return Promise.resolve(r);
  }) as ExecFn & { calls: string[][] };
  fn.calls = calls;
  return fn;
}

async function codeOf(p: Promise<unknown>): Promise<RecoveryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RecoveryError) return e;
    throw e;
  }
  throw new Error('expected a RecoveryError');
}

const systemd = (exec: ExecFn) =>
  serviceFor(ServiceSchema.parse({ manager: 'systemd', name: 'osisoft.edgedatastore' }), { exec, pollMs: 5 });

describe('systemd adapter (recorded outputs)', () => {
  it('reads running, stopped, failed and stopping units from systemctl show', async () => {
    expect(await systemd(replay({ 'systemctl show': fixture('systemd', 'show-running') })).status()).toEqual({
      state: 'running',
      pid: 1432,
      detail: 'LoadState=loaded ActiveState=active SubState=running',
    });
    expect((await systemd(replay({ 'systemctl show': fixture('systemd', 'show-stopped') })).status()).state).toBe(
      'stopped',
    );
    expect((await systemd(replay({ 'systemctl show': fixture('systemd', 'show-failed') })).status()).state).toBe(
      'stopped',
    );
    expect((await systemd(replay({ 'systemctl show': fixture('systemd', 'show-deactivating') })).status()).state).toBe(
      'stopping',
    );
  });

  it('reports a unit that is not installed as not-found and refuses to stop it', async () => {
    const exec = replay({ 'systemctl show': fixture('systemd', 'show-not-found') });
    expect((await systemd(exec).status()).state).toBe('not-found');
    const e = await codeOf(systemd(exec).stop());
    expect(e.code).toBe('SERVICE_NOT_FOUND');
    expect(exec.calls.some((c) => c[1] === 'stop')).toBe(false);
  });

  it('explains plainly that this machine does not run systemd (recorded here)', async () => {
    const e = await codeOf(systemd(replay({ 'systemctl show': fixture('systemd', 'no-systemd-show') })).status());
    expect(e.code).toBe('SERVICE_FAILED');
    expect(e.message).toMatch(/does not run systemd/);
    expect(e.message).toContain('System has not been booted with systemd');
    expect(e.hint).toMatch(/runit|by hand/);
  });

  it('stops with systemctl stop and waits until systemctl show says inactive', async () => {
    const exec = replay({
      'systemctl show': [
        fixture('systemd', 'show-running'),
        fixture('systemd', 'show-deactivating'),
        fixture('systemd', 'show-stopped'),
      ],
      'systemctl stop': { code: 0, stdout: '', stderr: '' },
    });
    const svc = systemd(exec);
    await svc.stop();
    expect((await svc.waitFor('stopped', 2000)).state).toBe('stopped');
    expect(exec.calls).toContainEqual(['systemctl', 'stop', 'osisoft.edgedatastore']);
  });

  it('times out with the last status in the message when the unit never stops', async () => {
    const svc = systemd(replay({ 'systemctl show': fixture('systemd', 'show-deactivating') }));
    const e = await codeOf(svc.waitFor('stopped', 200));
    expect(e.code).toBe('SERVICE_TIMEOUT');
    expect(e.message).toContain('stopping: LoadState=loaded ActiveState=deactivating SubState=stop-sigterm');
  });
});

const windows = (exec: ExecFn, displayName?: string) =>
  serviceFor(
    ServiceSchema.parse({ manager: 'windows', name: 'EdgeDataStore', ...(displayName ? { displayName } : {}) }),
    {
      exec,
      pollMs: 5,
    },
  );

describe('Windows SCM adapter (sc.exe outputs)', () => {
  it('maps STATE 4, 1, 2 and 3 to running, stopped, starting and stopping', async () => {
    const states: [string, string][] = [
      ['query-running', 'running'],
      ['query-stopped', 'stopped'],
      ['query-start-pending', 'starting'],
      ['query-stop-pending', 'stopping'],
    ];
    for (const [f, want] of states) {
      expect((await windows(replay({ 'sc.exe query': fixture('windows', f) })).status()).state).toBe(want);
    }
  });

  it('reports error 1060 as not-found when there is no display name to look up', async () => {
    expect((await windows(replay({ 'sc.exe query': fixture('windows', 'query-1060') })).status()).state).toBe(
      'not-found',
    );
  });

  it('finds the service by its display name when the profile’s name is not installed', async () => {
    const exec = replay({
      'sc.exe query': [fixture('windows', 'query-1060'), fixture('windows', 'query-running')],
      'sc.exe GetKeyName': fixture('windows', 'getkeyname-success'),
      'sc.exe stop': fixture('windows', 'stop-ok'),
    });
    const svc = windows(exec, 'AVEVA Edge Data Store');
    expect((await svc.status()).state).toBe('running');
    await svc.stop();
    expect(exec.calls).toContainEqual(['sc.exe', 'GetKeyName', 'AVEVA Edge Data Store']);
    expect(exec.calls.at(-1)).toEqual(['sc.exe', 'stop', 'EdgeDataStore']);
  });

  it('reports not-found when neither the name nor the display name exists', async () => {
    const exec = replay({
      'sc.exe query': fixture('windows', 'query-1060'),
      'sc.exe GetKeyName': fixture('windows', 'getkeyname-1060'),
    });
    const svc = windows(exec, 'No Such Product');
    expect((await svc.status()).state).toBe('not-found');
    expect((await codeOf(svc.start())).code).toBe('SERVICE_NOT_FOUND');
  });

  it('treats stopping a stopped service (1062) and starting a running one (1056) as done', async () => {
    await windows(
      replay({
        'sc.exe query': fixture('windows', 'query-stopped'),
        'sc.exe stop': fixture('windows', 'stop-not-started-1062'),
      }),
    ).stop();
    await windows(
      replay({
        'sc.exe query': fixture('windows', 'query-running'),
        'sc.exe start': fixture('windows', 'start-already-running-1056'),
      }),
    ).start();
  });

  it('says to run as Administrator on access denied (5)', async () => {
    const e = await codeOf(windows(replay({ 'sc.exe query': fixture('windows', 'query-access-denied') })).status());
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.hint).toMatch(/Administrator/);
  });
});

describe('manual service (manager "none")', () => {
  it('asks the technician to stop it by hand and reports an unknown state', async () => {
    const asked: string[] = [];
    const svc = serviceFor(ServiceSchema.parse({ manager: 'none', name: 'Edge Data Store' }), {
      confirm: (m) => {
        asked.push(m);
        return Promise.resolve(true);
      },
    });
    await svc.stop();
    expect(asked).toEqual(['Stop Edge Data Store by hand now, then continue']);
    expect((await svc.status()).state).toBe('unknown');
    expect((await svc.waitFor('stopped', 10)).state).toBe('unknown');
  });

  it('stops the runbook when the technician declines', async () => {
    const svc = serviceFor(ServiceSchema.parse({ manager: 'none', name: 'Edge Data Store' }), {
      confirm: () => Promise.resolve(false),
    });
    expect((await codeOf(svc.stop())).code).toBe('DECLINED');
  });
});

describe.skipIf(!existsSync('/usr/bin/systemctl') && !existsSync('/bin/systemctl'))(
  'systemd adapter with the real systemctl here',
  () => {
    it('turns "not booted with systemd" into SERVICE_FAILED, or reads a real status where systemd runs', async () => {
      const svc = serviceFor(ServiceSchema.parse({ manager: 'systemd', name: 'edge-recovery-test-nosuch.service' }));
      const pid1 = readFileSync('/proc/1/comm', 'utf8').trim();
      if (pid1 === 'systemd') {
        expect((await svc.status()).state).toBe('not-found');
      } else {
        const e = await codeOf(svc.status());
        expect(e.code).toBe('SERVICE_FAILED');
        expect(e.message).toMatch(/does not run systemd/);
      }
    });
  },
);
