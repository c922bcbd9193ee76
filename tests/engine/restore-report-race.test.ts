import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { JournalStore, readJournal } from '../../src-main/engine/restore/journal.js';
import { rewriteRestoreReport } from '../../src-main/engine/restore/restore-report.js';
import { runRestore } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm, type RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { isRoot } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { accountStick, shAs } from '../helpers/as-account.js';

/**
 * attack7, LOW-MEDIUM (local account → files root writes where it chooses): a restore writes its report beside the
 * backup on the stick, and an account that may write the stick (its own ext4 stick; a FAT stick of the desktop user)
 * owns the folders on the way. The report was written by path (`mkdir -p` of the device folder, then the folder
 * opened following every link above it, and the later rewrite by path again): that account moved EdgeRecovery aside
 * and put a link to a root-only folder by its name while the restore ran, and root made <that folder>/hand-box and
 * wrote the report's JSON, HTML and PDF into it. guard6 fixed the same for the backup's reports (06e4501). Now the
 * stick's report folder is opened without following a link another account could have made (util/no-foreign-links):
 * the stick copy is refused with a warning, the machine's copy is written.
 */
const OWNER = 'edge-rrr';

const asOwner = (script: string, ...args: string[]): void => shAs(OWNER, script, ...args);

describe.skipIf(!isRoot || skipLoopTests)(
  'a restore report beside a backup on a stick another account may write',
  () => {
    let work: string;
    let root: string;
    let stick: LoopMount;
    let device: string;
    let setDir: string;
    const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'restore-report-race-'));
      await fsp.chmod(work, 0o755);
      root = path.join(work, 'root');
      await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
      await fsp.writeFile(path.join(root, 'opt/hand/Configuration', 'app.conf'), 'setting=1\n');
      stick = await accountStick(OWNER, 64, ['hand-box']);
      device = path.join(stick.mountpoint, 'EdgeRecovery', 'hand-box');
      const quiet: RunbookIO = { emit: () => undefined, interaction: autoConfirm };
      await runBackup(
        {
          profile,
          to: stick.mountpoint,
          toDevice: (await fsp.stat(stick.mountpoint)).dev,
          root,
          deviceId: 'hand-box',
          stateDir: path.join(work, 'state-backup'),
        },
        quiet,
      );
      setDir = path.join(device, (await fsp.readdir(device)).find((x) => x.startsWith('Backup_hand_'))!);
    }, 180_000);

    afterAll(async () => {
      await stick?.cleanup();
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('never writes the report through a link swapped in for EdgeRecovery; the machine keeps its copy', async () => {
      const victim = path.join(work, 'root-only');
      await fsp.mkdir(victim, { mode: 0o700 });
      await fsp.writeFile(path.join(victim, 'keep'), 'root only\n', { mode: 0o600 });
      const edge = path.dirname(device);
      const stateDir = path.join(work, 'state-restore');
      let swapped = 0;
      const io: RunbookIO = {
        emit: (e) => {
          if (e.type !== 'step' || e.step.id !== 'report' || e.step.state !== 'running' || swapped > 0) return;
          // The restore is done; its report goes beside the backup next, into EdgeRecovery/hand-box.
          asOwner('mv "$1" "$1.aside" && ln -s "$2" "$1"', edge, victim);
          swapped++;
        },
        interaction: autoConfirm,
      };
      const res = await runRestore(
        { backup: setDir, profile, root, stateDir, tuning: { pollMs: 50, deviceId: 'hand-box' } },
        io,
      );
      expect(swapped).toBe(1);
      expect(await fsp.readdir(victim)).toEqual(['keep']);
      // The machine's copy was written; the stick's was refused with a warning naming the link.
      const machine = path.join(stateDir, 'reports');
      expect(res.reports.filter((r) => r.startsWith(machine + path.sep) && r.endsWith('.json'))).toHaveLength(1);
      expect(res.reports.filter((r) => !r.startsWith(machine + path.sep))).toEqual([]);
      expect(res.warnings.join('\n')).toMatch(/report could not be written to .*EdgeRecovery.*link/s);

      // The rewrite after a later decision (old folders deleted, credentials entered) goes by the same rule: a
      // report listed beside the backup is not rewritten through the link either, even where the link leads to a
      // root-only folder that holds a folder of the device's name.
      const victim2 = path.join(work, 'root-only-2');
      await fsp.mkdir(path.join(victim2, 'hand-box'), { recursive: true, mode: 0o700 });
      await fsp.chmod(victim2, 0o700);
      asOwner('ln -sfn "$2" "$1"', edge, victim2);
      const j = await readJournal(stateDir);
      expect(j, 'the journal of the restore').not.toBeNull();
      const store = new JournalStore(stateDir, j!);
      store.j.reports.push(path.join(device, 'report-restore-20990101_000000Z.html'));
      await rewriteRestoreReport(store);
      expect(await fsp.readdir(path.join(victim2, 'hand-box'))).toEqual([]);

      await fsp.rm(edge, { force: true });
      await fsp.rename(`${edge}.aside`, edge);
    }, 180_000);
  },
);
