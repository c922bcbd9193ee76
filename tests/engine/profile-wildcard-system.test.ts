import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import edsLinux from '../../src-main/engine/profiles/builtin/eds-linux.json' with { type: 'json' };
import edsWindows from '../../src-main/engine/profiles/builtin/eds-windows.json' with { type: 'json' };
import { parseProfile, resolveItems } from '../../src-main/engine/profiles/load.js';
import { runCli } from '../helpers/cli.js';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A profile of one per-component item at `p` (the shape of EDS's `…/EdgeDataStore/*\/Certificates`). */
function oneWildcard(p: string, platform: 'linux' | 'windows' = 'linux'): Raw {
  const raw = JSON.parse(JSON.stringify(platform === 'linux' ? edsLinux : edsWindows)) as Raw;
  raw.id = 'wild';
  raw.items = [{ id: 'Etc', path: p, required: false }];
  delete raw.api;
  delete raw.credentials;
  delete raw.prechecks;
  delete raw.steps;
  raw.service = { manager: 'none', name: 'wild' };
  raw.ownership = { user: 'root', group: 'root', dirMode: '755', fileMode: '644', exceptions: [] };
  raw.version = { policy: 'any' };
  return raw;
}

function refusal(raw: Raw): string {
  try {
    parseProfile(raw, 'test.json');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`the profile with ${JSON.stringify(raw.items[0].path)} was accepted`);
}

describe("a profile's `*` never stands for a system folder", () => {
  it('refuses a `*` in a system folder (/etc/*, /*, /usr/lib/*/security, C:\\*, %ProgramData%\\*) and a second `*`', () => {
    for (const p of ['/etc/*', '/*', '/usr/lib/*/security', '/var/lib/*', '/opt/*/data']) {
      expect(refusal(oneWildcard(p))).toMatch(/items\.0\.path: ".*" has its "\*" in the system folder/);
    }
    for (const p of ['C:\\*', '%ProgramData%\\*', 'C:\\Program Files\\*\\bin']) {
      expect(refusal(oneWildcard(p, 'windows'))).toMatch(/items\.0\.path: ".*" has its "\*" in the system folder/);
    }
    expect(refusal(oneWildcard('/srv/product/*/x/*'))).toMatch(/may hold "\*" as one component only/);
    // The product's own per-component folders pass, as the built-in EDS profile's certificate stores do.
    expect(parseProfile(oneWildcard('/srv/product/*/Certificates'), 'ok.json').items[0]!.path).toBe(
      '/srv/product/*/Certificates',
    );
  });

  it("refuses a name from a backup's list that makes a folder the rules refuse (/etc/NetworkManager/* as dispatcher.d)", () => {
    const profile = parseProfile(oneWildcard('/etc/NetworkManager/*'), 'nm.json');
    expect(() => resolveItems(profile, { fromBackup: ['Etc.dispatcher.d'] })).toThrow(
      /would stand for \/etc\/NetworkManager\/dispatcher\.d here: .* where what a restore writes would run with the system's rights/,
    );
    // Its hint sends the technician to a part of the README that exists (it named "Profile rules", a heading the
    // README does not have), and says where the name came from.
    const hint = (() => {
      try {
        resolveItems(profile, { fromBackup: ['Etc.dispatcher.d'] });
      } catch (e) {
        return (e as { hint?: string }).hint ?? '';
      }
      return '';
    })();
    expect(hint).toContain('The name dispatcher.d for its "*" comes from the backup\'s list of folders');
    const section = /see "([^"]+)" in the README/.exec(hint)?.[1];
    expect(section, hint).toBeDefined();
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n')).toContain(`## ${section}`);
    expect(resolveItems(profile, { fromBackup: ['Etc.system-connections'] }).map((i) => i.path)).toEqual([
      '/etc/NetworkManager/system-connections',
    ]);
  });

  describe('the CLI restore of a stick whose profile says /etc/*', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wildcard-system-'));
    });
    afterAll(async () => {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('does not replace <root>/etc/cron.d with the backup of a folder named cron.d', async () => {
      // The stick's backup: one folder "Etc.cron.d" holding a cron job (made here with an honest profile).
      const old = path.join(dir, 'old');
      await fsp.mkdir(path.join(old, 'srv/product/cron.d'), { recursive: true });
      await fsp.writeFile(path.join(old, 'srv/product/cron.d/evil'), '* * * * * root id > /tmp/pwned\n');
      await fsp.mkdir(path.join(old, 'srv/product/dispatcher.d'), { recursive: true });
      await fsp.writeFile(path.join(old, 'srv/product/dispatcher.d/50-evil'), '#!/bin/sh\nid > /tmp/pwned\n');
      const stick = path.join(dir, 'stick');
      await fsp.mkdir(stick);
      const honest = path.join(dir, 'honest.json');
      await fsp.writeFile(honest, JSON.stringify(oneWildcard('/srv/product/*')));
      const state = path.join(dir, 'state');
      const made = await runCli([
        'backup',
        '--profile',
        honest,
        '--allow-profile-commands',
        '--to',
        stick,
        '--root',
        old,
        '--yes',
        '--state-dir',
        state,
      ]);
      expect(made.code, made.stderr).toBe(0);
      const device = (await fsp.readdir(path.join(stick, 'EdgeRecovery')))[0]!;
      const sets = (await fsp.readdir(path.join(stick, 'EdgeRecovery', device))).filter((n) => n.startsWith('Backup_'));
      const backup = path.join(stick, 'EdgeRecovery', device, sets[0]!);

      // The machine (under --root, as / would be): its own cron.d.
      const machine = path.join(dir, 'machine');
      await fsp.mkdir(path.join(machine, 'etc/cron.d'), { recursive: true });
      await fsp.writeFile(path.join(machine, 'etc/cron.d/e2scrub_all'), 'legit\n');
      await fsp.mkdir(path.join(machine, 'etc/NetworkManager/dispatcher.d'), { recursive: true });
      await fsp.writeFile(path.join(machine, 'etc/NetworkManager/dispatcher.d/01-ifupdown'), 'legit\n');
      for (const [p, code] of [
        ['/etc/*', 2], // refused as the profile is read (BAD_PROFILE)
        ['/etc/NetworkManager/*', 4], // the backup's "dispatcher.d" refused as the folders are resolved (UNSAFE_PATH)
      ] as const) {
        const evil = path.join(dir, 'evil.json');
        await fsp.writeFile(evil, JSON.stringify(oneWildcard(p)));
        const r = await runCli([
          'restore',
          backup,
          '--profile',
          evil,
          '--allow-profile-commands',
          '--root',
          machine,
          '--yes',
          '--state-dir',
          state,
        ]);
        expect(r.code, r.stdout + r.stderr).toBe(code);
        expect((await fsp.readdir(path.join(machine, 'etc'))).sort()).toEqual(['NetworkManager', 'cron.d']);
        expect(await fsp.readdir(path.join(machine, 'etc/cron.d'))).toEqual(['e2scrub_all']);
        expect(await fsp.readdir(path.join(machine, 'etc/NetworkManager'))).toEqual(['dispatcher.d']);
        expect(await fsp.readdir(path.join(machine, 'etc/NetworkManager/dispatcher.d'))).toEqual(['01-ifupdown']);
      }
    }, 60_000);
  });
});
