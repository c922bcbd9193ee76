import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { plantedProfile } from '../helpers/planted-profile.js';

const blocked = process.getuid?.() !== 0 ? 'needs root (a restore, root-only state folder)' : undefined;

/**
 * `credentials` without a terminal (or with --json) and without --credentials-file is refused (exit 2): nobody can
 * type the secrets. But it was refused for a restore whose profile lists no credentials at all (a custom product's),
 * where nothing is asked and, in a terminal, it ends at once (exit 0): a technician's script that runs it after
 * every restore failed there. And in a terminal it said "the product was restarted" right below "it is not
 * restarted". Now it runs without a terminal too, and says there was nothing to enter and nothing restarted.
 */
describe.skipIf(blocked !== undefined)(
  `credentials after a restore whose profile lists none${blocked ? ` (skipped: ${blocked})` : ''}`,
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
      const common = ['--profile', profile, '--root', root, '--state-dir', state, '--yes'];
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
  },
);
