import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { runCli } from '../helpers/cli.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { handProfile } from '../helpers/hand-product.js';
import { loopMountUnavailable, skipLoopTests, withLoopMount } from '../helpers/loop-device.js';

/**
 * The state folder holds the restore journal, and later commands act on it as root: `finish` deletes the folders
 * it names, `rollback` renames them. A state folder another account can write (`--state-dir /tmp/er` made by
 * someone else, or EDGE_RECOVERY_STATE_DIR pointing there) let that account put its own journal in place between
 * a restore and `finish`: root then deleted a folder of that account's choice. Every job now refuses such a folder
 * before it reads or writes anything there.
 */
const blocked = restoreTestsBlocked() ?? (process.getuid?.() === 0 ? undefined : 'needs root');
const OWNER = 'edge-rt';

describe.skipIf(blocked !== undefined)(
  `a state folder another account can write${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let work: string;
    let root: string;
    let profileFile: string;
    let setDir: string;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'state-dir-attack-'));
      await fsp.chmod(work, 0o755);
      root = path.join(work, 'root');
      for (const item of ['Configuration', 'Storage']) {
        await fsp.mkdir(path.join(root, 'opt/hand', item), { recursive: true });
        await fsp.writeFile(path.join(root, 'opt/hand', item, 'a.json'), `{"item":"${item}"}\n`);
      }
      profileFile = path.join(work, 'hand.json');
      await fsp.writeFile(profileFile, JSON.stringify(handProfile({ owner: OWNER })));
      const stick = path.join(work, 'stick');
      const b = await runCli([
        'backup',
        '--profile',
        profileFile,
        '--allow-profile-commands',
        '--root',
        root,
        '--state-dir',
        path.join(work, 'state-root'),
        '--yes',
        '--to',
        stick,
        '--device-id',
        'hand-box',
      ]);
      expect(b.code, b.stderr).toBe(0);
      const dev = path.join(stick, 'EdgeRecovery', 'hand-box');
      setDir = path.join(dev, (await fsp.readdir(dev)).find((n) => n.startsWith('Backup_'))!);
    }, 120_000);

    afterAll(async () => {
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('restore refuses it (exit 4), so no journal there can make a later finish delete a folder of its choice', async () => {
      const uid = uidForUser(OWNER)!;
      const gid = gidForGroup(OWNER)!;
      // The other account made the folder the technician is told to use (e.g. in /tmp).
      const shared = path.join(work, 'shared-state');
      await fsp.mkdir(shared, { mode: 0o755 });
      await fsp.chown(shared, uid, gid);
      // Something of root's that account wants gone.
      const victim = path.join(work, 'victim', 'important');
      await fsp.mkdir(victim, { recursive: true });
      await fsp.writeFile(path.join(victim, 'keep.txt'), 'root data\n');

      const common = ['--state-dir', shared, '--yes'];
      const r = await runCli([
        'restore',
        setDir,
        '--profile',
        profileFile,
        '--allow-profile-commands',
        '--root',
        root,
        '--keep-defaults',
        '--allow-other-device',
        ...common,
      ]);
      const journal = path.join(shared, 'restore-journal.json');
      if (existsSync(journal)) {
        // The journal's shape is public and the restore id shows in the set-aside folders' names: that account
        // writes a journal of its own whose set-aside folder is the victim (a new file renamed over root's).
        const j = JSON.parse(await fsp.readFile(journal, 'utf8')) as {
          items: Array<{ id: string; setAside: string; staging: string; hadOriginal: boolean | null }>;
        };
        for (const i of j.items) {
          i.setAside = victim;
          i.staging = path.join(path.dirname(victim), '.edge-recovery-x', i.id);
        }
        const forged = path.join(work, 'forged.json');
        await fsp.writeFile(forged, JSON.stringify(j), { mode: 0o644 });
        execFileSync('setpriv', [
          `--reuid=${uid}`,
          `--regid=${gid}`,
          '--clear-groups',
          process.execPath,
          '-e',
          `const fs = require('fs'); fs.copyFileSync(${JSON.stringify(forged)}, ${JSON.stringify(journal + '.new')}); fs.renameSync(${JSON.stringify(journal + '.new')}, ${JSON.stringify(journal)});`,
        ]);
      }
      const f = await runCli(['finish', ...common]);
      expect(await fsp.readFile(path.join(victim, 'keep.txt'), 'utf8').catch(() => 'gone')).toBe('root data\n');
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(`The state folder ${shared} is not safe`);
      expect(f.code, f.stderr).toBe(4);
      // Nothing was restored: the folders are as they were.
      expect(await fsp.readFile(path.join(root, 'opt/hand/Configuration/a.json'), 'utf8')).toBe(
        '{"item":"Configuration"}\n',
      );
    });

    it('a refused state folder is never remembered for status, finish and rollback, nor followed if it was', async () => {
      const uid = uidForUser(OWNER)!;
      const gid = gidForGroup(OWNER)!;
      // The note of the last restore's --state-dir lives in its own folder here, which stands for the machine's default
      // state folder (EDGE_RECOVERY_NOTE_DIR): `status` without --state-dir looks there first, then follows the note.
      const noteDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'state-dir-note-'));
      const env = { EDGE_RECOVERY_NOTE_DIR: noteDir, EDGE_RECOVERY_STATE_DIR: '' };
      // The other account's folder holds a journal of its making, waiting to be shown and acted on.
      const shared = path.join(work, 'shared-noted');
      await fsp.mkdir(shared, { mode: 0o755 });
      const forged = {
        version: 1,
        id: 'forged',
        status: 'running',
        backup: '/attacker/backup',
        profile: { id: 'hand' },
        items: [],
        steps: [],
      };
      await fsp.writeFile(path.join(shared, 'restore-journal.json'), JSON.stringify(forged));
      await fsp.chown(path.join(shared, 'restore-journal.json'), uid, gid);
      await fsp.chown(shared, uid, gid);

      const r = await runCli(
        [
          'restore',
          setDir,
          '--profile',
          profileFile,
          '--allow-profile-commands',
          '--root',
          root,
          '--allow-other-device',
          '--yes',
          '--state-dir',
          shared,
        ],
        { env },
      );
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(`The state folder ${shared} is not safe`);
      expect(existsSync(path.join(noteDir, 'last-state-dir'))).toBe(false);
      const st = await runCli(['status'], { env });
      expect(st.stderr).not.toContain(`Using the state folder ${shared}`);
      expect(st.stdout).not.toContain('/attacker/backup');

      // A note written before (an older version, or the folder changed hands since): not followed either.
      await fsp.writeFile(path.join(noteDir, 'last-state-dir'), `${shared}\n`, { mode: 0o600 });
      const again = await runCli(['status'], { env });
      expect(again.stderr).toContain(`Not using the state folder ${shared}`);
      expect(again.stdout).not.toContain('/attacker/backup');
      const fin = await runCli(['finish', '--yes'], { env });
      expect(fin.stderr).not.toContain(`Using the state folder ${shared}`);
      await fsp.rm(noteDir, { recursive: true, force: true });
    });

    it('also refuses a state folder open to others, and a link to one; a root-only one works as before', async () => {
      const open = path.join(work, 'open-state');
      await fsp.mkdir(open);
      await fsp.chmod(open, 0o1777);
      const linked = path.join(work, 'linked-state');
      await fsp.symlink(open, linked);
      for (const dir of [open, linked]) {
        const r = await runCli(['finish', '--state-dir', dir, '--yes']);
        expect(r.code, r.stderr).toBe(4);
        expect(r.stderr).toContain('is not safe');
      }
      // A root-only folder: no complaint about it (there is simply nothing to finish).
      const mine = path.join(work, 'mine-state');
      await fsp.mkdir(mine, { mode: 0o700 });
      const ok = await runCli(['finish', '--state-dir', mine, '--yes']);
      expect(ok.stderr).not.toContain('is not safe');
    });

    /**
     * A state folder on a stick passed on its owner and mode, which the stick brings from wherever it was written
     * (ext4 formatted elsewhere: uid 0, mode 700; FAT: all root's). Its journal can be rewritten away from this
     * machine between the restore and `finish`, and it decides what `finish` deletes and `rollback` renames, as root.
     */
    it.skipIf(skipLoopTests)(
      `refuses a root-only state folder on a stick, so a journal rewritten elsewhere is never acted on${loopMountUnavailable ? ` (skipped: ${loopMountUnavailable})` : ''}`,
      async () => {
        await withLoopMount(
          16,
          async (stick) => {
            const state = path.join(stick.mountpoint, 'state');
            await fsp.mkdir(state, { mode: 0o700 });
            const victim = path.join(work, 'victim-stick', 'important');
            await fsp.mkdir(victim, { recursive: true });
            await fsp.writeFile(path.join(victim, 'keep.txt'), 'root data\n');
            const common = ['--state-dir', state, '--yes'];
            const r = await runCli(
              [
                'restore',
                setDir,
                '--profile',
                profileFile,
                '--allow-profile-commands',
                '--root',
                root,
                '--keep-defaults',
              ].concat(['--allow-other-device', ...common]),
            );
            const journal = path.join(state, 'restore-journal.json');
            if (existsSync(journal)) {
              // The stick goes to another machine and back: its journal now sets aside the victim.
              const j = JSON.parse(await fsp.readFile(journal, 'utf8')) as {
                items: Array<{ id: string; setAside: string; staging: string }>;
              };
              for (const i of j.items) {
                i.setAside = victim;
                i.staging = path.join(path.dirname(victim), '.edge-recovery-x', i.id);
              }
              await fsp.writeFile(journal, JSON.stringify(j));
            }
            const f = await runCli(['finish', ...common]);
            expect(await fsp.readFile(path.join(victim, 'keep.txt'), 'utf8').catch(() => 'gone')).toBe('root data\n');
            expect(r.code, r.stderr).toBe(4);
            expect(r.stderr).toContain(
              `The state folder ${state} is not on this machine's own disk: ${state} is on another filesystem`,
            );
            expect(f.code, f.stderr).toBe(4);
            expect(await fsp.readdir(state)).toEqual([]);
            // Nor made there when it is not there yet: a backup is refused before it starts.
            const fresh = path.join(stick.mountpoint, 'fresh-state');
            const to = path.join(work, 'to-fresh');
            const b = await runCli(
              [
                'backup',
                '--profile',
                profileFile,
                '--allow-profile-commands',
                '--root',
                root,
                '--to',
                to,
                '--device-id',
                'hand-box',
              ].concat(['--state-dir', fresh, '--yes']),
            );
            expect(b.code, b.stderr).toBe(4);
            expect(b.stderr).toContain(`${stick.mountpoint} is on another filesystem than this machine's own`);
            expect(existsSync(fresh)).toBe(false);
            expect(existsSync(to)).toBe(false);
          },
          { under: '/mnt' },
        );
        expect(await fsp.readFile(path.join(root, 'opt/hand/Configuration/a.json'), 'utf8')).toBe(
          '{"item":"Configuration"}\n',
        );
      },
    );
  },
);
