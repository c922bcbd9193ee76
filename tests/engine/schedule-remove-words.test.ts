import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { plantedProfile } from '../helpers/planted-profile.js';
import { rootOnlyProfiles, type RootOnlyProfiles } from '../helpers/root-only-profile.js';

const blocked = process.getuid?.() !== 0 ? 'needs root (root-only folders)' : undefined;

describe.skipIf(blocked !== undefined)(
  `what schedule install writes and says${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    let trusted: RootOnlyProfiles;
    beforeAll(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-remove-words-'));
      trusted = await rootOnlyProfiles('schedule-remove-words');
    });
    afterAll(async () => {
      await trusted.remove();
      await fsp.rm(dir, { recursive: true, force: true });
    });

    /**
     * The cron file and the unit say how to remove them. They named the profile's id, which `schedule remove
     * --profile` takes only for a built-in profile: for a profile file (every custom product, copied into
     * /etc/edge-recovery/profiles as the refusal of an untrusted one says) the command as written failed, exit 2,
     * "There is no built-in profile". They name what the schedule runs with now, and it removes the schedule.
     */
    it('the remove command written in the cron file and the unit works as written for a profile file, even once the file is gone', async () => {
      const profile = await trusted.put('custom.json', plantedProfile({ id: 'custom-product', productName: 'Mine' }));
      for (const scheduler of ['cron', 'systemd']) {
        const ir = path.join(dir, `install-root-remove-${scheduler}`);
        const install = await runCli(
          ['schedule', 'install', '--profile', profile, '--to', path.join(dir, 'to'), '--every', 'daily'].concat([
            '--command',
            '/usr/bin/true',
            '--scheduler',
            scheduler,
            '--install-root',
            ir,
          ]),
        );
        expect(install.code, install.stderr).toBe(0);
        const file =
          scheduler === 'cron'
            ? path.join(ir, 'etc/cron.d/edge-recovery-backup-custom-product')
            : path.join(ir, 'etc/systemd/system/edge-recovery-backup-custom-product.service');
        const said = /remove with: edge-recovery (.*)$/m.exec(await fsp.readFile(file, 'utf8'))?.[1];
        expect(said).toBe(`schedule remove --profile ${profile}`);
        const r = await runCli([...said!.split(' '), '--scheduler', scheduler, '--install-root', ir]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('Removed: ');
        expect(existsSync(file)).toBe(false);
      }
      // The profile file deleted after the install: the same command still removes the schedule naming it, and so
      // does the custom profile's id (the name of the schedule's files); neither touches another schedule.
      const gone = await trusted.put('gone.json', plantedProfile({ id: 'gone-product', productName: 'Gone' }));
      const other = await trusted.put('other.json', plantedProfile({ id: 'other-product', productName: 'Other' }));
      for (const scheduler of ['cron', 'systemd']) {
        for (const by of ['file', 'id']) {
          const ir = path.join(dir, `install-root-gone-${scheduler}-${by}`);
          for (const p of [gone, other]) {
            const install = await runCli(
              ['schedule', 'install', '--profile', p, '--to', path.join(dir, 'to'), '--every', 'daily'].concat([
                '--command',
                '/usr/bin/true',
                '--scheduler',
                scheduler,
                '--install-root',
                ir,
              ]),
            );
            expect(install.code, install.stderr).toBe(0);
          }
          const text = await fsp.readFile(gone, 'utf8');
          await fsp.rm(gone);
          const files = (id: string): string[] =>
            scheduler === 'cron'
              ? [path.join(ir, `etc/cron.d/edge-recovery-backup-${id}`)]
              : ['service', 'timer'].map((x) => path.join(ir, `etc/systemd/system/edge-recovery-backup-${id}.${x}`));
          const r = await runCli(
            ['schedule', 'remove', '--profile', by === 'file' ? gone : 'gone-product'].concat([
              '--scheduler',
              scheduler,
              '--install-root',
              ir,
            ]),
          );
          expect(r.code, `${scheduler} by ${by}: ${r.stderr}`).toBe(0);
          expect(r.stdout).toContain('Removed: ');
          for (const f of files('gone-product')) expect(existsSync(f), f).toBe(false);
          for (const f of files('other-product')) expect(existsSync(f), f).toBe(true);
          await fsp.writeFile(gone, text);
        }
      }
      // Nothing installed names it: the profile's own error, exit 2, as before.
      const none = await runCli(
        ['schedule', 'remove', '--profile', path.join(dir, 'never.json')].concat([
          '--scheduler',
          'cron',
          '--install-root',
          path.join(dir, 'install-root-none'),
        ]),
      );
      expect(none.code, none.stderr).toBe(2);
      expect(none.stderr).toContain('Cannot read the profile file');
      // A built-in profile is still named by its id.
      const ir = path.join(dir, 'install-root-remove-builtin');
      const b = await runCli(
        ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(dir, 'to'), '--every', 'daily'].concat([
          '--command',
          '/usr/bin/true',
          '--scheduler',
          'cron',
          '--install-root',
          ir,
        ]),
      );
      expect(b.code, b.stderr).toBe(0);
      expect(await fsp.readFile(path.join(ir, 'etc/cron.d/edge-recovery-backup-eds-linux'), 'utf8')).toContain(
        'remove with: edge-recovery schedule remove --profile eds-linux\n',
      );
    });

    /** The emergency kit's command printed after an encrypted schedule's install names the file as one word. */
    it('the emergency-kit command it prints quotes a profile file whose name has a space', async () => {
      const profile = await trusted.put('my product.json', plantedProfile({ id: 'spaced', productName: 'Spaced' }));
      const pass = await trusted.put('pass', 'correct horse battery\n');
      await fsp.chmod(pass, 0o600);
      const r = await runCli(
        ['schedule', 'install', '--profile', profile, '--to', path.join(dir, 'to'), '--every', 'daily'].concat([
          '--encrypt',
          '--passphrase-file',
          pass,
          '--command',
          '/usr/bin/true',
          '--scheduler',
          'cron',
          '--install-root',
          path.join(dir, 'install-root-kit'),
          '--dry-run',
        ]),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(
        `Print the emergency kit: edge-recovery emergency-kit --profile '${profile}' --out kit.html`,
      );
    });

    /**
     * A refused run (here: its profile file is in a folder anyone can write) is logged, and `schedule status` is where
     * the technician reads why the backups stopped, days later: the line gave the error without what to do.
     */
    it('schedule status shows what to do about a refused run', async () => {
      const shared = path.join(dir, 'shared');
      await fsp.mkdir(shared, { recursive: true });
      await fsp.chmod(shared, 0o777);
      const profile = path.join(shared, 'loose.json');
      await fsp.writeFile(profile, plantedProfile({ id: 'loose', productName: 'Loose' }));
      const state = path.join(dir, 'state-refused');
      await fsp.mkdir(state, { mode: 0o700 });
      const stick = path.join(dir, 'stick-refused');
      await fsp.mkdir(stick);
      const env = { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_LOCK_DIR: path.join(dir, 'lock') };
      const run = await runCli(
        ['schedule', 'run', '--profile', profile, '--to', stick, '--state-dir', state, '--retry-every', '1s'].concat([
          '--give-up-after',
          '1m',
        ]),
        { env },
      );
      expect(run.code, run.stderr).toBe(4);
      const st = await runCli(['schedule', 'status', '--profile', profile, '--state-dir', state], { env });
      expect(st.stdout).toContain(`failed: The profile ${profile} is untrusted input`);
      expect(st.stdout).toContain(
        `What to do: Read it, copy it into a root-only folder on this machine's own disk (install -D -o root -g root -m 644 ${profile} /etc/edge-recovery/profiles/loose.json)`,
      );
    });
  },
);
