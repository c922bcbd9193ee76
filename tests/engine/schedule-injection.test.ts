import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { rootOnlyProfiles } from '../helpers/root-only-profile.js';

/**
 * `schedule install` writes a cron line or systemd units that root runs. A line break in anything written into
 * them (the stick's folder, which comes from a volume label; a profile's product name, from a profile file
 * someone else may have written) ended the line and started one of the attacker's: `* * * * * root …` in
 * /etc/cron.d, `ExecStartPre=…` in the unit. Such input is refused (exit 2) before anything is written.
 */
const INJECTED_CRON = '* * * * * root touch /tmp/edge-recovery-injected';
const INJECTED_UNIT = 'ExecStartPre=/bin/touch /tmp/edge-recovery-injected';

describe('schedule install with a line break in what it writes', () => {
  let work: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-injection-'));
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  /** No line of what would be installed is the injected one (whatever the exit code). */
  function expectNoInjectedLine(out: string): void {
    for (const l of out.split('\n')) {
      expect(l.startsWith(INJECTED_CRON)).toBe(false);
      expect(l.startsWith(INJECTED_UNIT)).toBe(false);
    }
  }

  for (const scheduler of ['cron', 'systemd'] as const) {
    it(`refuses a --to folder holding a line break (${scheduler}), exit 2`, async () => {
      const injected = scheduler === 'cron' ? INJECTED_CRON : INJECTED_UNIT;
      const to = path.join(work, `stick\n${injected} #`);
      await fsp.mkdir(to, { recursive: true });
      const r = await runCli([
        'schedule',
        'install',
        '--profile',
        'eds-linux',
        '--to',
        to,
        '--every',
        'daily',
        '--scheduler',
        scheduler,
        '--dry-run',
      ]);
      expectNoInjectedLine(r.stdout);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(/line break or another control character/);
    });
  }

  /**
   * EDGE_RECOVERY_OWN_FILESYSTEMS goes into the cron line and the unit as the install finds it (e5135fe): a line
   * break in it is refused like one in an option, and the hint says to fix the variable (it said "rename the stick").
   */
  for (const scheduler of ['cron', 'systemd'] as const) {
    it(`refuses EDGE_RECOVERY_OWN_FILESYSTEMS holding a line break (${scheduler}), exit 2, saying to fix it`, async () => {
      const injected = scheduler === 'cron' ? INJECTED_CRON : INJECTED_UNIT;
      const r = await runCli(
        ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(work, 'to-env')].concat([
          '--every',
          'daily',
          '--scheduler',
          scheduler,
          '--dry-run',
        ]),
        { env: { EDGE_RECOVERY_OWN_FILESYSTEMS: `/data\n${injected}` } },
      );
      expectNoInjectedLine(r.stdout);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toContain('EDGE_RECOVERY_OWN_FILESYSTEMS ("/data\\n');
      expect(r.stderr).toContain('What to do: Set EDGE_RECOVERY_OWN_FILESYSTEMS to folders on this machine');
    });
  }

  // The profile must be one a schedule trusts (root's, in root-only folders), or it is refused for that (exit 4)
  // before its product name is looked at.
  it.skipIf(process.getuid?.() !== 0)(
    "refuses a profile whose product name holds a line break (it goes into the unit's Description and the cron comment)",
    async () => {
      const profile = {
        schemaVersion: 1,
        id: 'hand',
        productName: `Hand product\n${INJECTED_CRON}\n${INJECTED_UNIT}`,
        platform: 'linux',
        service: { manager: 'none', name: 'hand' },
        items: [{ id: 'Configuration', path: '/opt/hand/Configuration', required: true }],
        version: { policy: 'any' },
      };
      const trusted = await rootOnlyProfiles('schedule-injection');
      try {
        const file = await trusted.put('hand.json', JSON.stringify(profile));
        const to = path.join(work, 'plain-stick');
        await fsp.mkdir(to, { recursive: true });
        for (const scheduler of ['cron', 'systemd']) {
          const r = await runCli([
            'schedule',
            'install',
            '--profile',
            file,
            '--to',
            to,
            '--every',
            'daily',
            '--scheduler',
            scheduler,
            '--dry-run',
          ]);
          expectNoInjectedLine(r.stdout);
          expect(r.code, r.stdout + r.stderr).toBe(2);
          expect(r.stderr).toMatch(/line break or another control character/);
        }
      } finally {
        await trusted.remove();
      }
    },
  );
});
