import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand, runCli } from '../helpers/cli.js';

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

  /**
   * A program another account can change is refused; the hint said "e.g. sudo npm install -g", which offline has no
   * registry to install from and, from the checkout, only links to the same files (refused again). It gives the
   * copy into /opt and where to run the install from.
   */
  it.skipIf(process.getuid?.() !== 0)(
    'the refusal of a program others can change says how to copy it into /opt',
    async () => {
      const shared = path.join(dir, 'shared');
      await fsp.mkdir(shared);
      await fsp.chmod(shared, 0o777);
      const program = path.join(shared, 'edge-recovery');
      await fsp.writeFile(program, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const ir = path.join(dir, 'install-root-refused');
      const r = await runCli(
        ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(dir, 'to'), '--every', 'daily'].concat([
          '--command',
          program,
          '--scheduler',
          'cron',
          '--install-root',
          ir,
        ]),
      );
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(
        /What to do: Copy edge-recovery where only root can write, on this machine's own disk, as root: cp -a (\S+|<the checkout>) \/opt\/edge-recovery && chown -R root:root \/opt\/edge-recovery && chmod -R go-w \/opt\/edge-recovery; then install the schedule from there: node \/opt\/edge-recovery\/bin\/edge-recovery\.js schedule install/,
      );
      expect(r.stderr).not.toContain('sudo npm install -g');
    },
  );

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
