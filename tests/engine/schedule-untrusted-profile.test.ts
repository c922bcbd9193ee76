import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { loopMountUnavailable, skipLoopTests, withLoopMount } from '../helpers/loop-device.js';
import { plantedProfile } from '../helpers/planted-profile.js';
import { rootOnlyProfiles } from '../helpers/root-only-profile.js';

/**
 * `backup --profile ./file.json` refuses a profile file someone other than root can change when it runs commands
 * (exit 4, unless --allow-profile-commands). A schedule runs the same file as root every night, unattended: the
 * scheduler's `schedule run` loaded it with no such check, so whoever could change the file (it sat in /tmp or in a
 * home folder) had root run their command at 02:30, and `schedule install` set that up without a word.
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (root-only folders, a root schedule)' : undefined;

describe.skipIf(blocked !== undefined)(
  `a schedule and a profile file others can change${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    let marker = '';
    let profile = '';
    let root = '';
    let installRoot = '';
    beforeAll(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-untrusted-'));
      marker = path.join(dir, 'ran-as-root');
      root = path.join(dir, 'machine');
      await fsp.mkdir(path.join(root, 'data'), { recursive: true });
      await fsp.writeFile(path.join(root, 'data', 'f.txt'), 'data');
      installRoot = path.join(dir, 'install-root');
      // Anyone can change this file: its folder is writable by all (as /tmp is).
      const open = path.join(dir, 'shared');
      await fsp.mkdir(open);
      await fsp.chmod(open, 0o777);
      profile = path.join(open, 'product.json');
      await fsp.writeFile(
        profile,
        plantedProfile({
          id: 'untrusted-sched',
          productName: 'Product from a shared folder',
          argv: ['/usr/bin/touch', marker],
        }),
      );
    });
    afterAll(async () => {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    const common = (): string[] => [
      '--profile',
      profile,
      '--to',
      path.join(dir, 'stick'),
      '--root',
      root,
      '--device-id',
      'box',
      '--state-dir',
      path.join(dir, 'state'),
    ];

    it('schedule run refuses it (exit 4) and never runs its command', async () => {
      await fsp.mkdir(path.join(dir, 'stick'), { recursive: true });
      const r = await runCli(['schedule', 'run', ...common(), '--retry-every', '1s', '--give-up-after', '1m'], {
        env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_LOCK_DIR: path.join(dir, 'lock') },
      });
      expect(existsSync(marker), `the profile's command ran as root: ${r.stdout}${r.stderr}`).toBe(false);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/untrusted/);
      expect(r.stderr).toContain('/usr/bin/touch');
    });

    /** `schedule install` of the built-in eds-linux profile (trusted: only the program started is in question). */
    const installBuiltIn = (): string[] => [
      'schedule',
      'install',
      '--profile',
      'eds-linux',
      '--to',
      path.join(dir, 'stick'),
      '--every',
      'daily',
    ];

    it('schedule install refuses a program to start that others can change, and installs this root-owned one', async () => {
      // The program the timer starts as root: a copy of edge-recovery in a folder anyone can write to.
      const shared = path.join(dir, 'shared');
      const program = path.join(shared, 'edge-recovery');
      await fsp.writeFile(program, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const cron = path.join(installRoot, 'etc', 'cron.d', 'edge-recovery-backup-eds-linux');
      const args = installBuiltIn();
      const where = ['--scheduler', 'cron', '--install-root', installRoot];
      const r = await runCli([...args, ...where, '--command', program]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/would run .*edge-recovery as root, and another account can change it/);
      expect(existsSync(cron)).toBe(false);
      // --dry-run installs nothing and says what install would refuse.
      const dry = await runCli([...args, ...where, '--command', program, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stderr).toMatch(/^Warning: The scheduler would run .*edge-recovery as root/m);
      expect(existsSync(cron)).toBe(false);
      // A program only root can change (in /usr/bin): installed. (Not this checkout: where the suite runs from
      // decides whether it is root's.)
      const ok = await runCli([...args, ...where, '--command', '/usr/bin/true']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(existsSync(cron)).toBe(true);
    });

    it('schedule install refuses a Node switch naming a file others can change, in either form (--require=<file>)', async (ctx) => {
      // Started from sources or with a preload, the timer's command carries node's switches: each file they name is
      // loaded as root every night. `--require <file>` was judged; `--require=<file>` was written into the cron line.
      const hook = path.join(dir, 'shared', 'hook.cjs');
      await fsp.writeFile(hook, '');
      const ir = path.join(dir, 'install-root-switches');
      const cron = path.join(ir, 'etc', 'cron.d', 'edge-recovery-backup-eds-linux');
      const args = installBuiltIn();
      const where = ['--scheduler', 'cron', '--install-root', ir];
      const plain = await runCli([...args, ...where, '--dry-run']);
      // Where this checkout itself is not root's, every install is refused for its own script: nothing to tell apart.
      if (/^Warning: The scheduler would run/m.test(plain.stderr)) return ctx.skip();
      expect(plain.code, plain.stderr).toBe(0);
      for (const nodeArgs of [['--require', hook], [`--require=${hook}`]]) {
        const dry = await runCli([...args, ...where, '--dry-run'], { nodeArgs });
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.stderr, nodeArgs.join(' ')).toContain(`Warning: The scheduler would run ${hook} as root`);
        const r = await runCli([...args, ...where], { nodeArgs });
        expect(r.code, `${nodeArgs.join(' ')}: ${r.stderr}`).toBe(4);
        expect(existsSync(cron)).toBe(false);
      }
    });

    it('schedule install refuses to set it up (exit 4) and writes no unit', async () => {
      const r = await runCli(
        ['schedule', 'install', ...common(), '--every', 'daily', '--scheduler', 'cron', '--install-root', installRoot],
        { env: { EDGE_RECOVERY_PDF: 'off' } },
      );
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/untrusted/);
      expect(existsSync(path.join(installRoot, 'etc', 'cron.d', 'edge-recovery-backup-untrusted-sched'))).toBe(false);
    });

    /**
     * A profile that runs no command was only warned about: but the file can change after the install (other folders
     * to back up onto the schedule's --to every night, another unit to stop and start), and the schedule runs it as
     * root, unattended. Refused (exit 4) whatever it holds, nothing written; a root-only copy of it installs.
     */
    it('schedule install refuses an untrusted profile without commands (exit 4), writes nothing, and says where to copy it', async () => {
      const quiet = path.join(dir, 'shared', 'quiet.json');
      await fsp.writeFile(quiet, plantedProfile({ id: 'quiet-sched', productName: 'Quiet product' }));
      const ir = path.join(dir, 'install-root-quiet');
      const to = path.join(dir, 'stick');
      const args = (profileRef: string): string[] => [
        'schedule',
        'install',
        '--profile',
        profileRef,
        '--to',
        to,
        '--every',
        'daily',
        '--command',
        '/usr/bin/true',
      ];
      for (const scheduler of ['cron', 'systemd']) {
        for (const dry of [[], ['--dry-run']]) {
          const r = await runCli([...args(quiet), '--scheduler', scheduler, '--install-root', ir, ...dry]);
          expect(r.code, `${scheduler} ${dry.join(' ')}: ${r.stderr}`).toBe(4);
          expect(r.stderr).toContain(
            `The profile ${quiet} is untrusted input: ${path.join(dir, 'shared')} is writable by everyone`,
          );
          expect(r.stderr).toContain('Nothing was run or installed.');
          expect(r.stderr).toContain(
            `install -D -o root -g root -m 644 ${quiet} /etc/edge-recovery/profiles/quiet.json), and name that file: --profile /etc/edge-recovery/profiles/quiet.json`,
          );
          expect(r.stdout).toBe('');
          expect(existsSync(ir), `${scheduler}: something was written under ${ir}`).toBe(false);
        }
      }
      // The same profile only root can change, on this machine's disk: installed.
      const trusted = await rootOnlyProfiles('schedule-untrusted');
      try {
        const copy = await trusted.put('quiet.json', await fsp.readFile(quiet, 'utf8'));
        const ok = await runCli([...args(copy), '--scheduler', 'cron', '--install-root', ir]);
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stderr).toBe('');
        expect(existsSync(path.join(ir, 'etc', 'cron.d', 'edge-recovery-backup-quiet-sched'))).toBe(true);
      } finally {
        await trusted.remove();
      }
    });

    /**
     * `schedule run` judges the file again each time: the name installed may be a link another account can point
     * elsewhere afterwards (it was judged where it led at the install). The refused run is logged as failed.
     */
    it('schedule run refuses an untrusted profile without commands (exit 4), backs nothing up, and logs a failed run', async () => {
      const trusted = await rootOnlyProfiles('schedule-untrusted-run');
      try {
        const copy = await trusted.put('quiet.json', plantedProfile({ id: 'quiet-run', productName: 'Quiet product' }));
        // A link in a folder anyone can write, leading (at the install) to the root-only copy.
        const link = path.join(dir, 'shared', 'quiet-link.json');
        await fsp.symlink(copy, link);
        const ir = path.join(dir, 'install-root-link');
        const ok = await runCli(
          ['schedule', 'install', '--profile', link, '--to', path.join(dir, 'stick'), '--every', 'daily'].concat([
            '--command',
            '/usr/bin/true',
            '--scheduler',
            'cron',
            '--install-root',
            ir,
          ]),
        );
        expect(ok.code, ok.stderr).toBe(0);
        // Afterwards the link leads to a file its owner wrote.
        const own = path.join(dir, 'shared', 'own.json');
        await fsp.writeFile(
          own,
          plantedProfile({
            id: 'quiet-run',
            productName: 'Quiet product',
            item: { id: 'Data', path: '/home/someone/Documents' },
          }),
        );
        await fsp.rm(link);
        await fsp.symlink(own, link);
        const state = path.join(dir, 'state-run');
        const stick = path.join(dir, 'stick-run');
        await fsp.mkdir(stick, { recursive: true });
        const r = await runCli(
          ['schedule', 'run', '--profile', link, '--to', stick, '--root', root, '--device-id', 'box'].concat([
            '--state-dir',
            state,
            '--retry-every',
            '1s',
            '--give-up-after',
            '1m',
          ]),
          { env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_LOCK_DIR: path.join(dir, 'lock') } },
        );
        expect(r.code, r.stderr).toBe(4);
        expect(r.stderr).toContain(
          `The profile ${link} is untrusted input: ${path.join(dir, 'shared')} is writable by everyone`,
        );
        expect(await fsp.readdir(stick)).toEqual([]);
        const log = await fsp.readFile(path.join(state, 'scheduled-runs.jsonl'), 'utf8');
        expect(JSON.parse(log.trim().split('\n').at(-1)!)).toMatchObject({
          profileId: 'quiet-run',
          outcome: 'failed',
          detail: expect.stringContaining('untrusted input'),
        });
      } finally {
        await trusted.remove();
      }
    });
  },
);

/**
 * The program the timer starts as root was judged by its owner and mode only, as profiles once were: a checkout on a
 * stick (ext4 formatted on another machine: files of uid 0, mode 755, that nobody here made; FAT: all root's) passed.
 * It must lie on one of this machine's own filesystems, as a trusted profile must.
 */
describe.skipIf(blocked !== undefined || skipLoopTests)(
  `schedule install and a program on a stick${blocked ? ` (skipped: ${blocked})` : loopMountUnavailable ? ` (skipped: ${loopMountUnavailable})` : ''}`,
  () => {
    it('refuses a root-owned program, a state folder or a passphrase file on an ext4 stick (exit 4), no cron file', async () => {
      const ir = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-program-stick-'));
      try {
        await withLoopMount(
          16,
          async (stick) => {
            // A root-owned copy, mode 755, in root-only folders all the way up (/mnt, 0700, the stick's root 755).
            const program = path.join(stick.mountpoint, 'edge-recovery');
            await fsp.copyFile('/usr/bin/true', program);
            await fsp.chmod(program, 0o755);
            const st = await fsp.stat(program);
            expect([st.uid, st.mode & 0o022]).toEqual([0, 0]);
            const cron = path.join(ir, 'etc', 'cron.d', 'edge-recovery-backup-eds-linux');
            const args = ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(ir, 'to')].concat([
              '--every',
              'daily',
              '--scheduler',
              'cron',
              '--install-root',
              ir,
              '--command',
              program,
            ]);
            const r = await runCli(args);
            expect(r.code, r.stderr).toBe(4);
            expect(r.stderr).toContain(
              `The scheduler would run ${program} as root, and another account can change it (${program} is on another filesystem than this machine's own`,
            );
            expect(r.stderr).toContain("on this machine's own disk");
            expect(existsSync(cron)).toBe(false);
            // A state folder there: every run would refuse it, so the install does, now (nothing made there).
            const state = path.join(stick.mountpoint, 'state');
            const s = await runCli([...args.slice(0, -1), '/usr/bin/true', '--state-dir', state]);
            expect(s.code, s.stderr).toBe(4);
            expect(s.stderr).toContain(`The state folder ${state} is not on this machine's own disk`);
            expect(existsSync(cron)).toBe(false);
            expect(existsSync(state)).toBe(false);
            // The passphrase file of encrypted runs there (root's, 600, in a root-only folder): whoever rewrites the
            // stick elsewhere would choose the passphrase of the backups.
            const keys = path.join(stick.mountpoint, 'keys');
            await fsp.mkdir(keys, { mode: 0o700 });
            const pass = path.join(keys, 'edge-recovery.pass');
            await fsp.writeFile(pass, 'a passphrase from the stick\n', { mode: 0o600 });
            const p = await runCli([...args.slice(0, -1), '/usr/bin/true', '--encrypt', '--passphrase-file', pass]);
            expect(p.code, p.stderr).toBe(4);
            expect(p.stderr).toContain(
              `The passphrase file ${pass} is not safe to read: ${keys} is on another filesystem than this machine's own`,
            );
            expect(existsSync(cron)).toBe(false);
            // The same copy on this machine's own disk, in a root-only folder: installed.
            const own = await fsp.mkdtemp('/var/lib/erw-schedule-program-');
            try {
              const copy = path.join(own, 'edge-recovery');
              await fsp.copyFile(program, copy);
              await fsp.chmod(copy, 0o755);
              const ok = await runCli([...args.slice(0, -1), copy]);
              expect(ok.code, ok.stderr).toBe(0);
              expect(existsSync(cron)).toBe(true);
            } finally {
              await fsp.rm(own, { recursive: true, force: true });
            }
          },
          { under: '/mnt' },
        );
      } finally {
        await fsp.rm(ir, { recursive: true, force: true });
      }
    });
  },
);
