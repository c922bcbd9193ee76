import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand, runCli } from '../helpers/cli.js';
import { loopMountUnavailable, skipLoopTests, withLoopMount } from '../helpers/loop-device.js';
import { plantedProfile } from '../helpers/planted-profile.js';
import { rootOnlyProfiles, type RootOnlyProfiles } from '../helpers/root-only-profile.js';

const run = promisify(execFile);

/**
 * A data disk built into the machine counts as its own when root names it in EDGE_RECOVERY_OWN_FILESYSTEMS: a
 * state folder there passes `schedule install`'s check. The scheduler starts the runs without root's shell
 * environment (cron: SHELL and PATH only; systemd: none of it), so the schedule must carry the variable, or every
 * run refuses the state folder the install accepted (seen: `schedule install --state-dir /data/state` exit 0, then
 * the cron line exit 4, "not on this machine's own disk", no line in the state folder's run log).
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (root-only folders, loop mounts)' : undefined;

describe.skipIf(blocked !== undefined)(
  `a schedule whose state folder is on a data disk named in EDGE_RECOVERY_OWN_FILESYSTEMS${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    let trusted: RootOnlyProfiles;
    beforeAll(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-own-fs-'));
      trusted = await rootOnlyProfiles('schedule-own-fs');
    });
    afterAll(async () => {
      await trusted.remove();
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('writes the variable into the systemd unit, quoted, and leaves it out when it is not set', async () => {
      const ir = path.join(dir, 'install-root-systemd');
      const service = path.join(ir, 'etc/systemd/system/edge-recovery-backup-eds-linux.service');
      const args = ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(dir, 'to')].concat([
        '--every',
        'daily',
        '--command',
        '/usr/bin/true',
        '--scheduler',
        'systemd',
        '--install-root',
        ir,
      ]);
      const r = await runCli(args, { env: { EDGE_RECOVERY_OWN_FILESYSTEMS: '/srv/data 1:/data%2' } });
      expect(r.code, r.stderr).toBe(0);
      const unit = await fsp.readFile(service, 'utf8');
      expect(unit).toContain('Environment="EDGE_RECOVERY_OWN_FILESYSTEMS=/srv/data 1:/data%%2"\nExecStart=');
      const plain = await runCli(args, { env: { EDGE_RECOVERY_OWN_FILESYSTEMS: '' } });
      expect(plain.code, plain.stderr).toBe(0);
      expect(await fsp.readFile(service, 'utf8')).not.toContain('Environment=');
    });

    /**
     * A passphrase file on a stick is refused (its owner and mode were written wherever the stick was), but the hint
     * said to fix the stick's folder with chown root:root and chmod go-w, which it already was and which cannot
     * help. It says to copy the file onto this machine's disk, with the command.
     */
    it.skipIf(skipLoopTests)(
      `a passphrase file on a stick: the refusal says to copy it onto this machine's disk, not to chown the stick${loopMountUnavailable ? ` (skipped: ${loopMountUnavailable})` : ''}`,
      async () => {
        await withLoopMount(
          16,
          async (stick) => {
            const keys = path.join(stick.mountpoint, 'keys');
            await fsp.mkdir(keys, { mode: 0o700 });
            const pass = path.join(keys, 'site pass.txt');
            await fsp.writeFile(pass, 'correct horse battery\n', { mode: 0o600 });
            const ir = path.join(dir, 'install-root-pass');
            const r = await runCli(
              [
                'schedule',
                'install',
                '--profile',
                'eds-linux',
                '--to',
                path.join(dir, 'to'),
                '--every',
                'daily',
              ].concat(
                ['--encrypt', '--passphrase-file', pass, '--command', '/usr/bin/true', '--scheduler', 'cron'],
                ['--install-root', ir],
              ),
            );
            expect(r.code, r.stderr).toBe(4);
            expect(r.stderr).toContain(`${keys} is on another filesystem than this machine's own`);
            expect(r.stderr).toContain(
              `What to do: Copy it onto this machine's own disk, root-only: install -D -o root -g root -m 600 '${pass}' '/etc/edge-recovery/site pass.txt', and give that file: --passphrase-file '/etc/edge-recovery/site pass.txt'`,
            );
            expect(r.stderr).not.toContain('chown');
            expect(existsSync(ir)).toBe(false);
          },
          { under: '/mnt' },
        );
      },
    );

    it.skipIf(skipLoopTests)(
      `the installed cron line runs with it, so the run accepts the state folder the install accepted${loopMountUnavailable ? ` (skipped: ${loopMountUnavailable})` : ''}`,
      async () => {
        await withLoopMount(
          16,
          async (disk) => {
            const state = path.join(disk.mountpoint, 'state');
            await fsp.mkdir(state, { mode: 0o700 });
            const root = path.join(dir, 'machine');
            await fsp.mkdir(path.join(root, 'data'), { recursive: true });
            await fsp.writeFile(path.join(root, 'data', 'f.txt'), 'data\n');
            const profile = await trusted.put('own.json', plantedProfile({ id: 'own-fs', productName: 'Own disk' }));
            // The program the timer starts, root's, in a root-only folder: this run's edge-recovery.
            const program = await trusted.put(
              'edge-recovery',
              `#!/bin/sh\nexec ${[process.execPath, ...cliCommand()].map((a) => `'${a}'`).join(' ')} "$@"\n`,
            );
            await fsp.chmod(program, 0o755);
            const to = path.join(dir, 'to');
            await fsp.mkdir(to);
            const ir = path.join(dir, 'install-root-cron');
            const install = await runCli(
              ['schedule', 'install', '--profile', profile, '--to', to, '--root', root].concat([
                '--device-id',
                'box',
                '--every',
                'daily',
                '--random-delay',
                '1s',
                '--state-dir',
                state,
                '--command',
                program,
                '--scheduler',
                'cron',
                '--install-root',
                ir,
              ]),
              { env: { EDGE_RECOVERY_OWN_FILESYSTEMS: disk.mountpoint } },
            );
            expect(install.code, install.stderr).toBe(0);
            const text = await fsp.readFile(path.join(ir, 'etc/cron.d/edge-recovery-backup-own-fs'), 'utf8');
            const line = text.split('\n').find((l) => / root /.test(l) && !l.startsWith('#'));
            const command = /^\S+ \S+ \S+ \S+ \S+ root (.*)$/.exec(line ?? '')?.[1];
            expect(command, text).toBeDefined();
            // As cron starts it: /bin/sh with SHELL and PATH, nothing of the installer's environment (the lock folder
            // and no PDF are this test's, so that it does not wait on another job of the machine).
            const r = await run('/bin/sh', ['-c', command!], {
              cwd: '/',
              env: {
                PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                SHELL: '/bin/sh',
                EDGE_RECOVERY_LOCK_DIR: path.join(dir, 'lock'),
                EDGE_RECOVERY_PDF: 'off',
              },
            }).then(
              (x) => ({ code: 0, out: x.stdout + x.stderr }),
              (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
            );
            expect(r.out).not.toContain("is not on this machine's own disk");
            expect(r.code, r.out).toBe(0);
            expect(await fsp.readFile(path.join(state, 'scheduled-runs.jsonl'), 'utf8')).toContain('"verified"');
            expect(existsSync(path.join(to, 'EdgeRecovery', 'box'))).toBe(true);
          },
          { under: '/mnt' },
        );
      },
    );
  },
);
