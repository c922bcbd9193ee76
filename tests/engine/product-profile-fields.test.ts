import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLabel, runBackup } from '../../src-main/engine/backup/run-backup.js';
import { loadProfile, parseProfile } from '../../src-main/engine/profiles/load.js';
import { freePort } from '../../src-main/practice/free-port.js';
import { processServiceMaker, practiceProfileFor } from '../../src-main/practice/product-practice.js';
import { standinCommand } from '../../src-main/practice/standins/common.js';
import { evcEdgeServerArgs, installEvcEdge, listBackups } from '../../src-main/practice/standins/evc-edge.js';
import { rejection } from '../helpers/rejection.js';

function httpProfile(step: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 1,
    id: 'fields-test',
    productName: 'Fields test',
    platform: 'linux',
    service: { manager: 'none', name: 'none' },
    items: [{ id: 'Data', path: '/data' }],
    api: { baseUrl: 'http://127.0.0.1:9', versionEndpoint: '/v' },
    steps: [{ id: 'a-step', title: 'A step', explain: 'It does a thing.', at: 'backup.before-stop', ...step }],
    ...extra,
  };
}

describe('profile fields for products that keep their own backups', () => {
  it('an http step sends either a body or an upload; capture names are checked', () => {
    expect(() =>
      parseProfile(httpProfile({ kind: 'http', path: '/x', body: { a: 1 }, upload: '{work}/f' }), 't'),
    ).toThrow(/either "body" or "upload"/);
    expect(() => parseProfile(httpProfile({ kind: 'http', path: '/x', capture: { 'Bad Name': '/id' } }), 't')).toThrow(
      /steps\.0\.capture\.Bad Name/,
    );
    const ok = parseProfile(httpProfile({ kind: 'http', path: '/x', capture: { 'backup-id': '/id' } }), 't');
    expect(ok.steps[0]).toMatchObject({ capture: { 'backup-id': '/id' }, precheck: false });
  });

  it('an upload comes from the work folder only: a file directly in it, or the copy of an artifact there', () => {
    // ({artifact:<id>}, EVC-net Edge's, needs an artifact step: the built-in profile loads with it.)
    for (const upload of ['{work}/f.bin', '{work}/{label}.bin']) {
      expect(() => parseProfile(httpProfile({ kind: 'http', method: 'POST', path: '/x', upload }), 't')).not.toThrow();
    }
    for (const upload of [
      '/etc/shadow',
      '{work}/sub/f.bin',
      '{work}/..',
      '{root}/var/lib/x/backup.bin',
      '{artifact:x}/y',
    ]) {
      expect(
        () => parseProfile(httpProfile({ kind: 'http', method: 'POST', path: '/x', upload }), 't'),
        upload,
      ).toThrow(/an upload comes from the work folder/);
    }
  });

  it('label rules and a minimum version must be well formed', () => {
    expect(() =>
      parseProfile(httpProfile({ kind: 'http', path: '/x' }, { label: { pattern: '(', message: 'm' } }), 't'),
    ).toThrow(/valid regular expression/);
    expect(() =>
      parseProfile(httpProfile({ kind: 'http', path: '/x' }, { version: { minimum: 'one point two' } }), 't'),
    ).toThrow(/dotted version/);
  });

  it("EVC-net Edge's backup names: the Edge's rule, checked before anything runs", async () => {
    const profile = await loadProfile('evc-edge');
    expect(() => checkLabel({ profile, label: 'before replacing CP-004' })).not.toThrow();
    for (const bad of ['', ' leading space', 'a/b', 'x'.repeat(65), 'semi;colon', 'new\nline']) {
      let code: string | undefined;
      try {
        checkLabel({ profile, label: bad });
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, JSON.stringify(bad)).toBe('BAD_INPUT');
    }
  });
});

describe('EVC-net Edge below 1.24.5 (no backups yet): refused, nothing changed', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'evc-old-version-'));
  });
  afterAll(async () => {
    child?.kill('SIGTERM');
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('the version step says from which version the Edge backs itself up', async () => {
    const root = path.join(dir, 'root');
    await installEvcEdge(root, { deviceId: 'EDGE-OLD124', version: '1.24.4', chargepoints: 3 });
    const port = await freePort();
    const [cmd, ...args] = [...standinCommand(), ...evcEdgeServerArgs(root, port)];
    child = spawn(cmd!, args, { stdio: 'ignore' });
    // Up before the backup asks it anything: the refusal below must be the version's, not a stand-in still
    // starting (10 s was not always enough on a loaded machine, and the test went on regardless).
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/api/v1/system`).then(
            (r) => r.ok,
            () => false,
          ),
        { timeout: 60_000, interval: 100 },
      )
      .toBe(true);
    const svc = await processServiceMaker('evc', ['/bin/true'], dir);
    const profile = practiceProfileFor(await loadProfile('evc-edge'), { root, port, service: svc, extra: {} });
    const stick = path.join(dir, 'stick');
    const steps: string[] = [];
    const e = await rejection(
      runBackup(
        { profile, to: stick, root, stateDir: path.join(dir, 'state'), label: 'first' },
        {
          emit: (ev) => {
            if (ev.type === 'step' && ev.step.state !== 'running') steps.push(`${ev.step.id}:${ev.step.state}`);
          },
          interaction: { confirm: async () => true, credentials: async () => null },
        },
      ),
    );
    expect(e.code).toBe('VERSION_MISMATCH');
    expect(e.message).toContain('1.24.4 cannot back itself up: its backups exist from version 1.24.5 on');
    expect(steps).toContain('version:failed');
    expect(steps.some((s) => s.startsWith('no-transactions:'))).toBe(false);
    expect(await listBackups(root, 'EDGE-OLD124')).toEqual([]);
    expect(await fsp.readdir(stick).catch(() => [])).toEqual([]);
  });
});
