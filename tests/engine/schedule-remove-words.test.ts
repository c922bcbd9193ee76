import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { plantedProfile } from '../helpers/planted-profile.js';
import { rootOnlyProfiles, type RootOnlyProfiles } from '../helpers/root-only-profile.js';

const blocked = process.getuid?.() !== 0 ? 'needs root (root-only folders)' : undefined;

describe.skipIf(blocked !== undefined)(
  `what an installed schedule says about its removal${blocked ? ` (skipped: ${blocked})` : ''}`,
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
    it('the remove command written in the cron file and the unit works as written for a profile file', async () => {
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
  },
);
