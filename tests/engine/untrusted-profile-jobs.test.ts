import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/datasets.js';
import { runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';
import { trustCopyHint } from '../../src-main/engine/profiles/trust.js';

/**
 * A profile file that is not root-only on this machine's own disk (one on a stick, in /tmp, in a home) is its
 * writer's choice of folders and service. The profile rules refuse the system's own (/etc/cron.d, /root, units such
 * as debug-shell), but no list knows every folder whose files matter: another product's data, a home's files, a
 * service no rule names. Such a profile without commands only drew a warning, and a restore then replaced its
 * folders as root (under --yes, with no one reading the warning). The wizard offers only trusted profiles; the CLI
 * now takes such a file for a backup or a restore only with --allow-profile-commands, and refuses it before anything
 * runs (exit 4, nothing locked, written or replaced).
 */
describe.skipIf(!isRoot)('a backup or restore with an untrusted profile file', () => {
  let work: string;
  let root: string;
  let stick: string;
  let profile: string;
  const env = { EDGE_RECOVERY_PDF: 'off' };
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'untrusted-jobs-'));
    root = path.join(work, 'root');
    stick = path.join(work, 'stick');
    await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration/settings.json'), '{"site":"A"}\n');
    await fsp.mkdir(stick);
    profile = path.join(stick, 'hand.json'); // on the stick: untrusted input
    await fsp.writeFile(profile, JSON.stringify(handProfile({ items: ['Configuration'] })));
  });
  afterAll(async () => {
    await fsp.rm(work, { recursive: true, force: true });
  });

  const backupArgs = (state: string): string[] => [
    'backup',
    '--profile',
    profile,
    '--root',
    root,
    '--to',
    stick,
    '--device-id',
    'box',
    '--state-dir',
    path.join(work, state),
    '--yes',
  ];

  it('backup: refused without --allow-profile-commands, naming the folders it would read; runs with it', async () => {
    const r = await runCli(backupArgs('state-b1'), { env });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toContain(
      `The profile ${profile} would read /opt/hand/Configuration as root and copy them onto the stick`,
    );
    expect(r.stderr).toContain('Nothing was changed.');
    expect(r.stderr).toMatch(
      /pass --allow-profile-commands, or copy it into a root-only folder on this machine's own disk \(install -D -o root -g root -m 644 /,
    );
    expect(existsSync(path.join(stick, 'EdgeRecovery'))).toBe(false);
    expect(existsSync(path.join(work, 'state-b1'))).toBe(false);

    const allowed = await runCli([...backupArgs('state-b2'), '--allow-profile-commands'], { env });
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/Warning: the profile .* is untrusted input/);
  }, 90_000);

  it('restore: refused without --allow-profile-commands before anything is unpacked or replaced', async () => {
    const dev = path.join(stick, 'EdgeRecovery', 'box');
    const set = path.join(dev, (await fsp.readdir(dev)).find((n) => n.startsWith('Backup_'))!);
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration/settings.json'), '{"site":"B"}\n');
    const args = [
      'restore',
      set,
      '--profile',
      profile,
      '--root',
      root,
      '--state-dir',
      path.join(work, 'state-r'),
      '--yes',
      '--allow-other-device',
    ];
    const r = await runCli(args, { env });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toContain(`would replace /opt/hand/Configuration as root with what the backup holds`);
    expect(await fsp.readdir(path.join(root, 'opt/hand'))).toEqual(['Configuration']);
    expect(await fsp.readFile(path.join(root, 'opt/hand/Configuration/settings.json'), 'utf8')).toBe('{"site":"B"}\n');
    expect(existsSync(path.join(work, 'state-r', 'restore-journal.json'))).toBe(false);

    const allowed = await runCli([...args, '--allow-profile-commands'], { env });
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(await fsp.readFile(path.join(root, 'opt/hand/Configuration/settings.json'), 'utf8')).toBe('{"site":"A"}\n');
  }, 90_000);
});

describe('the way to make a profile file trusted, as the refusals say it', () => {
  it('gives the exact copy on Linux, and on Windows (where no file is trusted) a built-in profile instead', () => {
    expect(trustCopyHint('/media/stick/My Product.json', 'linux')).toBe(
      "copy it into a root-only folder on this machine's own disk (install -D -o root -g root -m 644 '/media/stick/My Product.json' '/etc/edge-recovery/profiles/My Product.json'), and name that file: --profile '/etc/edge-recovery/profiles/My Product.json'",
    );
    expect(trustCopyHint('E:\\product.json', 'win32')).toBe(
      'name a built-in profile instead (edge-recovery profiles lists them): on Windows no profile file is trusted',
    );
  });
});
