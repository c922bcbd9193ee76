import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectGone } from '../helpers/processes.js';
import { ServiceSchema } from '../../src-main/engine/profiles/schema.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import type { ServiceControl } from '../../src-main/engine/service/types.js';

describe.skipIf(process.platform !== 'linux')('process adapter (practice mode without a service manager)', () => {
  let dir: string;
  let svc: ServiceControl;
  let pidFile: string;
  const script =
    "process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000);";

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'process-svc-'));
    pidFile = path.join(dir, 'run', 'eds.pid');
    svc = serviceFor(
      ServiceSchema.parse({
        manager: 'process',
        name: 'eds',
        command: [process.execPath, '-e', script],
        pidFile,
        stopTimeoutSeconds: 5,
      }),
      { pollMs: 50 },
    );
  });

  afterEach(async () => {
    await svc.stop().catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('starts the command detached, writes its pid and logs beside the pid file', async () => {
    expect((await svc.status()).state).toBe('stopped');
    await svc.start();
    const s = await svc.waitFor('running', 5000);
    expect(Number(await fsp.readFile(pidFile, 'utf8'))).toBe(s.pid);
    await expect.poll(() => fsp.readFile(path.join(dir, 'run', 'eds.log'), 'utf8'), { timeout: 5000 }).toContain('up');
  });

  it('stops it with SIGTERM and waits until it is gone', async () => {
    await svc.start();
    const { pid } = await svc.waitFor('running', 5000);
    // Its SIGTERM handler exists once it has logged "up".
    await expect.poll(() => fsp.readFile(path.join(dir, 'run', 'eds.log'), 'utf8'), { timeout: 5000 }).toContain('up');
    await svc.stop();
    expect((await svc.status()).state).toBe('stopped');
    await expectGone(pid!);
    expect(await fsp.readFile(path.join(dir, 'run', 'eds.log'), 'utf8')).toContain('bye');
  });

  it('kills a program that ignores SIGTERM once the stop timeout has passed, like systemd', async () => {
    const stubborn = serviceFor(
      ServiceSchema.parse({
        manager: 'process',
        name: 'stubborn',
        command: [
          process.execPath,
          '-e',
          "process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(() => {}, 1000);",
        ],
        pidFile: path.join(dir, 'run', 'stubborn.pid'),
        stopTimeoutSeconds: 1,
      }),
      { pollMs: 50 },
    );
    await stubborn.start();
    const { pid } = await stubborn.waitFor('running', 5000);
    await expect
      .poll(() => fsp.readFile(path.join(dir, 'run', 'stubborn.log'), 'utf8'), { timeout: 5000 })
      .toContain('up');
    await stubborn.stop();
    await expectGone(pid!);
    expect(await fsp.readFile(path.join(dir, 'run', 'stubborn.log'), 'utf8')).toContain('ignored');
  });

  it('does not mistake a reused pid for the service', async () => {
    await fsp.mkdir(path.dirname(pidFile), { recursive: true });
    // Our own pid is alive but runs vitest, not the service's command.
    await fsp.writeFile(pidFile, `${process.pid}\n`);
    const s = await svc.status();
    expect(s.state).toBe('stopped');
    expect(s.detail).toMatch(/another program/);
  });

  it('fails to start with a clear message when the program does not exist', async () => {
    const bad = serviceFor(
      ServiceSchema.parse({ manager: 'process', name: 'eds', command: [path.join(dir, 'no-such-program')], pidFile }),
    );
    await expect(bad.start()).rejects.toMatchObject({ code: 'SERVICE_FAILED' });
  });
});
