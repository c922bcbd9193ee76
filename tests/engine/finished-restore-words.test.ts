import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { plantedProfile } from '../helpers/planted-profile.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';

const blocked = process.getuid?.() !== 0 ? 'needs root (a restore, root-only state folder)' : undefined;

/**
 * `credentials` without a terminal (or with --json) and without --credentials-file is refused (exit 2): nobody can
 * type the secrets. But it was refused for a restore whose profile lists no credentials at all (a custom product's),
 * where nothing is asked and, in a terminal, it ends at once (exit 0): a technician's script that runs it after
 * every restore failed there. And in a terminal it said "the product was restarted" right below "it is not
 * restarted". Now it runs without a terminal too, and says there was nothing to enter and nothing restarted.
 */
describe.skipIf(blocked !== undefined)(
  `a finished restore (a profile without credentials, old folders kept)${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let work = '';
    let state = '';
    const env = (): NodeJS.ProcessEnv => ({
      EDGE_RECOVERY_PDF: 'off',
      EDGE_RECOVERY_LOCK_DIR: path.join(work, 'lock'),
    });
    beforeAll(async () => {
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'credentials-none-'));
      const root = path.join(work, 'machine');
      await fsp.mkdir(path.join(root, 'data'), { recursive: true });
      await fsp.writeFile(path.join(root, 'data', 'f.txt'), 'data\n');
      const profile = path.join(work, 'mine.json');
      await fsp.writeFile(profile, plantedProfile({ id: 'mine', productName: 'My Product' }));
      state = path.join(work, 'state');
      await fsp.mkdir(state, { mode: 0o700 });
      const stick = path.join(work, 'stick');
      await fsp.mkdir(stick);
      const common = ['--profile', profile, '--allow-profile-commands', '--root', root, '--state-dir', state, '--yes'];
      const b = await runCli(['backup', ...common, '--to', stick, '--device-id', 'box'], { env: env() });
      expect(b.code, b.stderr).toBe(0);
      const set = path.join(stick, 'EdgeRecovery', 'box');
      const [name] = await fsp.readdir(set);
      const r = await runCli(['restore', path.join(set, name!), ...common, '--allow-other-device'], { env: env() });
      expect(r.code, r.stderr).toBe(0);
    }, 120_000);
    afterAll(async () => {
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('runs without a terminal (exit 0) and says there was nothing to enter and nothing was restarted', async () => {
      const r = await runCli(['credentials', '--state-dir', state], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain('There is no terminal');
      expect(r.stdout).toContain('There are no credentials to enter: the profile of My Product lists none.');
      expect(r.stdout).toContain('Nothing was restarted.');
      expect(r.stdout).not.toContain('the product was restarted');
      const j = await runCli(['credentials', '--state-dir', state, '--json'], { env: env() });
      expect(j.code, j.stderr).toBe(0);
      expect(jsonEvents(j.stdout).at(-1)).toMatchObject({ type: 'finished', ok: true });
    });

    /**
     * rollback of a finished restore said "has finished and its set-aside folders were cleaned up" when they were kept
     * (--yes keeps them): a technician went looking for nothing, or took them for gone. It says they were kept, where,
     * and what deletes them.
     */
    it('rollback of a finished restore whose old folders were kept says they were kept, where (exit 1)', async () => {
      const r = await runCli(['rollback', '--state-dir', state, '--yes'], { env: env() });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toContain('cleaned up');
      expect(r.stderr).toMatch(
        /has finished, so it can no longer be rolled back\. The folders it replaced were kept \(1 file, 5 bytes\): \/.*\/machine\/data\.before-restore-/,
      );
      expect(r.stderr).toContain('What to do: They stay until "edge-recovery finish" deletes them');
      const f = await runCli(['finish', '--state-dir', state, '--yes'], { env: env() });
      expect(f.code, f.stderr).toBe(0);
      const again = await runCli(['rollback', '--state-dir', state, '--yes'], { env: env() });
      expect(again.code, again.stderr).toBe(1);
      expect(again.stderr).toContain(
        'has finished and the folders it replaced were deleted: it can no longer be rolled back.',
      );
    });
  },
);

/**
 * credentials of a restore whose product needs no credential typed again (restored onto the machine whose key
 * encrypted them): nothing is entered and the restart is skipped (5345370), but it ended "All credentials are
 * entered; the product was restarted."
 */
describe.skipIf(restoreTestsBlocked() !== undefined)(
  `credentials with nothing to enter${restoreTestsBlocked() ? ` (skipped: ${restoreTestsBlocked()})` : ''}`,
  () => {
    let m: PracticeMachine;
    let work = '';
    beforeAll(async () => {
      ensureTestOwner('edge-rt');
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'credentials-nothing-'));
      m = await startPracticeMachine({ user: 'edge-rt', group: 'edge-rt' });
    }, 120_000);
    afterAll(async () => {
      await m?.stop();
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('says nothing needed entering and that the product was not restarted', async () => {
      const env = { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_LOCK_DIR: path.join(work, 'lock') };
      const state = path.join(work, 'state');
      await fsp.mkdir(state, { mode: 0o700 });
      const stick = path.join(work, 'stick');
      await fsp.mkdir(stick);
      const common = ['--profile', m.profilePath, '--root', m.root, '--state-dir', state, '--yes'];
      const b = await runCli(['backup', ...common, '--to', stick, '--device-id', 'box'], { env });
      expect(b.code, b.stderr).toBe(0);
      const set = path.join(stick, 'EdgeRecovery', 'box');
      const [name] = (await fsp.readdir(set)).filter((n) => n.startsWith('Backup_'));
      const r = await runCli(['restore', path.join(set, name!), ...common, '--allow-other-device'], { env });
      expect(r.code, r.stderr).toBe(0);
      const file = path.join(work, 'none.json');
      await fsp.writeFile(file, '{}', { mode: 0o600 });
      const c = await runCli(['credentials', '--state-dir', state, '--credentials-file', file], { env });
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toMatch(/No credential needs to be entered: .* was not restarted\./);
      expect(c.stdout).not.toContain('the product was restarted');
    }, 180_000);
  },
);
