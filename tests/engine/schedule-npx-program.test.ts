import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../helpers/cli.js';

/**
 * The README offers `npx edge-recovery <command>` from inside the checkout. npx runs the package's bin through a
 * link in npm's cache (seen: `/root/.npm/_npx/4cbeb7142964b52d/node_modules/.bin/edge-recovery`, leading to the
 * checkout), and `schedule install` wrote that link into the cron line: npm prunes and rebuilds that cache as it
 * likes (`npm cache clean`), and every run then fails with "Cannot find module". The timer starts the file the link
 * leads to.
 */
describe.skipIf(process.platform !== 'linux')('schedule install started through npx', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-npx-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("writes the program the npx cache's link leads to, not the link", async () => {
    const cmd = cliCommand();
    const script = cmd.at(-1)!;
    const bin = path.join(dir, '.npm', '_npx', '4cbeb7142964b52d', 'node_modules', '.bin');
    await fsp.mkdir(bin, { recursive: true });
    const link = path.join(bin, 'edge-recovery');
    await fsp.symlink(script, link);
    const ir = path.join(dir, 'install-root');
    const args = [...cmd.slice(0, -1), link, 'schedule', 'install', '--profile', 'eds-linux'].concat([
      '--to',
      path.join(dir, 'to'),
      '--every',
      'daily',
      '--scheduler',
      'cron',
      '--install-root',
      ir,
      '--dry-run',
    ]);
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.code, r.err).toBe(0);
    const line = r.out.split('\n').find((l) => / root /.test(l) && !l.startsWith('#')) ?? '';
    expect(line).not.toContain('_npx');
    expect(line).toContain(` ${await fsp.realpath(script)} schedule run --profile eds-linux `);
  });
});
