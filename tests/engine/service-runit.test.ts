import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceSchema } from '../../src-main/engine/profiles/schema.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { parseSvStatus } from '../../src-main/engine/service/runit.js';
import { descendantsOf, isLive, requireRunit, startRunsvdir, type RunitTree } from '../helpers/runit.js';
import { rejection } from '../helpers/rejection.js';

const runit = requireRunit();

describe('sv status parsing', () => {
  it('reads run, down, want down, fail and timeout lines as runit prints them', () => {
    expect(parseSvStatus('run: /s/eds: (pid 123) 5s\n')).toEqual({
      state: 'running',
      pid: 123,
      detail: 'run: /s/eds: (pid 123) 5s',
    });
    expect(parseSvStatus('down: /s/eds: 3s, normally up\n').state).toBe('stopped');
    expect(parseSvStatus('ok: down: /s/eds: 0s, normally up\n').state).toBe('stopped');
    expect(parseSvStatus('timeout: run: /s/eds: (pid 9) 4s, want down, got TERM\n')).toMatchObject({
      state: 'stopping',
      pid: 9,
    });
    expect(parseSvStatus('fail: /s/x: unable to change to service directory: file does not exist\n').state).toBe(
      'not-found',
    );
  });
});

describe.skipIf(runit.skip)(`runit adapter with a private runsvdir ${runit.reason}`, () => {
  let dir: string;
  let tree: RunitTree;
  let plain: string;
  let stubborn: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'runit-test-'));
    tree = await startRunsvdir(path.join(dir, 'service'), {
      plain: '#!/bin/sh\nexec sleep 1000\n',
      // Ignores SIGTERM like a wedged product: only SIGKILL ends it.
      stubborn: "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.2; done\n",
    });
    [plain, stubborn] = tree.services as [string, string];
  });

  afterAll(async () => {
    const pids = tree ? [tree.pid, ...descendantsOf(tree.pid)] : [];
    await tree?.stop();
    // runsvdir, both runsv and both services (including the one ignoring SIGTERM) are gone.
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(isLive)).toEqual([]);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const control = (name: string, stopTimeoutSeconds = 5) =>
    serviceFor(ServiceSchema.parse({ manager: 'runit', name, stopTimeoutSeconds, startTimeoutSeconds: 5 }), {
      pollMs: 100,
    });

  it('reports a supervised service as running with its pid', async () => {
    const s = await control(plain).waitFor('running', 5000);
    expect(s.state).toBe('running');
    expect(s.pid).toBeGreaterThan(1);
    expect(s.detail).toContain(plain);
  });

  it('stops, sees it stopped, starts and sees it running again', async () => {
    const svc = control(plain);
    const before = await svc.waitFor('running', 5000);
    await svc.stop();
    expect((await svc.status()).state).toBe('stopped');
    expect((await svc.waitFor('stopped', 1000)).detail).toMatch(/^down: /);
    await svc.start();
    const after = await svc.waitFor('running', 5000);
    expect(after.pid).not.toBe(before.pid);
  });

  it('times out on a service that ignores SIGTERM and says what runit reported', async () => {
    const svc = control(stubborn, 1);
    await svc.waitFor('running', 5000);
    const e = await rejection(svc.stop());
    expect(e.code).toBe('SERVICE_TIMEOUT');
    expect(e.message).toMatch(/did not stop within 1 s; runit says: run: .*want down, got TERM/);
    const w = await rejection(svc.waitFor('stopped', 600));
    expect(w.code).toBe('SERVICE_TIMEOUT');
    expect(w.message).toMatch(/is stopping: run: .*\(pid \d+\).*want down/);
  });

  it('reports a service folder runit does not know as not-found', async () => {
    const svc = control(path.join(dir, 'service', 'nosuch'));
    expect((await svc.status()).state).toBe('not-found');
    expect((await rejection(svc.start())).code).toBe('SERVICE_NOT_FOUND');
    expect((await rejection(svc.waitFor('running', 1000))).code).toBe('SERVICE_NOT_FOUND');
  });

  it('says runit does not supervise a folder that has no runsv', async () => {
    const lonely = path.join(dir, 'unsupervised');
    await fsp.mkdir(lonely, { recursive: true });
    const e = await rejection(control(lonely).status());
    expect(e.code).toBe('SERVICE_FAILED');
    expect(e.message).toContain('supervise/ok');
  });

  it('looks a bare name up under /etc/service', () => {
    expect(control('eds').label).toBe('runit service /etc/service/eds');
  });
});
