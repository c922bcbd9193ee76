import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import { runCli } from '../helpers/cli.js';
import { rootOnlyProfiles } from '../helpers/root-only-profile.js';

/**
 * One rule for a new backup's passphrase (at least 8 characters): the CLI's prompt had it, but the wizard (through
 * the engine) and --passphrase-file took "ab". Refused before anything runs: no lock, no state folder, nothing on the
 * stick, and (CLI) no ticket remembered.
 */
describe('a new backup’s passphrase', () => {
  let work: string;
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-passphrase-rule-'));
  });
  afterAll(async () => {
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('the engine refuses one shorter than 8 characters before anything runs (the wizard’s path)', async () => {
    const stick = path.join(work, 'stick');
    const state = path.join(work, 'state');
    const err = await runBackup(
      { profile: await loadProfile('eds-linux'), to: stick, passphrase: 'ab', stateDir: state },
      { emit: () => undefined, interaction: { confirm: async () => true, credentials: async () => null } },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'BAD_INPUT',
      message: 'This passphrase is too short to protect the backup. Nothing was written.',
      hint: 'Use a passphrase of at least 8 characters (12 or more, or four unrelated words, is better).',
    });
    expect(existsSync(state)).toBe(false);
    expect(existsSync(stick)).toBe(false);
  });

  it('backup --passphrase-file with a short one is refused (exit 2) before the ticket is remembered', async () => {
    const file = path.join(work, 'pass.txt');
    await fsp.writeFile(file, 'abc\n', { mode: 0o600 });
    const state = path.join(work, 'state-cli');
    const stick = path.join(work, 'stick-cli');
    const r = await runCli([
      'backup',
      '--profile',
      'eds-linux',
      '--to',
      stick,
      '--passphrase-file',
      file,
      '--ticket',
      'INC-1',
      '--yes',
      '--state-dir',
      state,
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`Error: The passphrase in ${file} is too short to protect the backup.`);
    expect(r.stderr).toContain('What to do: Use a passphrase of at least 8 characters');
    expect(r.stderr).not.toContain('Pre-checks');
    expect(existsSync(state)).toBe(false);
    expect(existsSync(stick)).toBe(false);
  });

  /**
   * A schedule's passphrase file is read at the install (to refuse one others can read "now rather than at 02:30"),
   * but its length was judged only by each run's backup: `schedule install` with a 3-character file wrote the cron
   * file (exit 0), and every night's run was refused (BAD_INPUT), no backup made.
   */
  it.skipIf(process.getuid?.() !== 0)(
    'schedule install with a short passphrase file is refused (exit 2) and installs nothing',
    async () => {
      const keys = await rootOnlyProfiles('passphrase-rule');
      try {
        const file = await keys.put('pass', 'abc\n');
        await fsp.chmod(file, 0o600);
        const installRoot = path.join(work, 'install-root');
        const r = await runCli([
          'schedule',
          'install',
          '--profile',
          'eds-linux',
          '--to',
          path.join(work, 'stick-schedule'),
          '--every',
          'daily',
          '--encrypt',
          '--passphrase-file',
          file,
          '--scheduler',
          'cron',
          '--install-root',
          installRoot,
          '--command',
          '/usr/bin/true',
        ]);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`Error: The passphrase in ${file} is too short to protect the backup.`);
        expect(r.stderr).toContain('What to do: Use a passphrase of at least 8 characters');
        expect(existsSync(installRoot)).toBe(false);
      } finally {
        await keys.remove();
      }
    },
  );
});
