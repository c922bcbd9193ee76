import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerify } from '../../src-main/engine/backup/verify-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { runRestore } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm, type RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { handBackupInto, handProfile } from '../helpers/hand-product.js';

/**
 * The wizard's host judges the backup the page names (on a stick, in the practice folder, in this machine's own
 * backup place) and starts the job on its real path. An account that owns folders on its own stick could swap one
 * of them for a link to another set between the judgement and the job's first read (attack8: an older backup of
 * this machine, restored instead of the chosen one). The host now hands the judged device and inode to the job,
 * which refuses a path that leads elsewhere before it reads anything or writes a journal.
 */
describe.skipIf(process.platform === 'win32')('a backup chosen in the wizard, replaced before its job starts', () => {
  let work = '';
  let chosen = '';
  let other = '';
  const io: RunbookIO = { emit: () => undefined, interaction: autoConfirm };

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'backup-identity-'));
    for (const [name, base] of [
      ['chosen', 'a'],
      ['other', 'b'],
    ] as const) {
      const r = await handBackupInto(path.join(work, base), path.join(work, `stick-${base}`), {
        name: 'app.conf',
        data: `${name}\n`,
      });
      expect(r.code, r.stderr).toBe(0);
    }
    const setIn = async (stick: string): Promise<string> => {
      const dev = path.join(stick, 'EdgeRecovery', 'hand-box');
      return path.join(dev, (await fsp.readdir(dev)).find((n) => n.startsWith('Backup_'))!);
    };
    chosen = await setIn(path.join(work, 'stick-a'));
    other = await setIn(path.join(work, 'stick-b'));
  }, 120_000);

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  const identity = async (p: string): Promise<{ dev: number; ino: number }> => {
    const st = await fsp.stat(p);
    return { dev: st.dev, ino: st.ino };
  };

  it('verify refuses a set that is not the one judged, and verifies the one that is', async () => {
    const judged = await identity(chosen);
    await expect(runVerify(other, { identity: judged }, io)).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      message: expect.stringMatching(/no longer the one that was chosen/) as unknown,
    });
    const ok = await runVerify(chosen, { identity: judged }, io);
    expect(ok).toMatchObject({ files: 1 });
  });

  it('restore refuses it before it reads anything or writes a journal', async () => {
    const state = path.join(work, 'state-restore');
    const root = path.join(work, 'new-root');
    await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration/app.conf'), 'defaults\n');
    await expect(
      runRestore(
        {
          backup: other,
          backupIdentity: await identity(chosen),
          profile: parseProfile(handProfile({ items: ['Configuration'] }), 'test'),
          root,
          stateDir: state,
          allowOtherDevice: true,
        },
        io,
      ),
    ).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(await fsp.readFile(path.join(root, 'opt/hand/Configuration/app.conf'), 'utf8')).toBe('defaults\n');
    expect(await fsp.readdir(state).catch(() => [] as string[])).not.toContain('restore-journal.json');
  });
});
