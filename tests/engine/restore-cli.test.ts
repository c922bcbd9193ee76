import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { startPracticeMachine, waitForApi, type PracticeMachine } from '../helpers/practice-machine.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { siblingsLike, snapshotTree } from '../helpers/tree-snapshot.js';

const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';

/** The CLI faces of the restore: restore, status, resume, rollback, exit codes, credentials file. */
describe.skipIf(blocked !== undefined)(
  `edge-recovery restore/status/resume/rollback${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let oldM: PracticeMachine;
    let newM: PracticeMachine;
    let work: string;
    let setDir: string;
    let credFile: string;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'restore-cli-'));
      [oldM, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      const [conf] = resolveItems(oldM.profile, { root: oldM.root });
      await fsp.writeFile(path.join(conf!.path, 'from-old.json'), '{"old":true}\n');
      const b = await runCli([
        'backup',
        '--profile',
        oldM.profilePath,
        '--root',
        oldM.root,
        '--to',
        path.join(work, 'stick'),
        '--device-id',
        'old-box',
        '--yes',
      ]);
      expect(b.code, b.stderr).toBe(0);
      setDir = /Backup complete and verified: (.+)\n/.exec(b.stdout)![1]!;
      credFile = path.join(work, 'creds.json');
      await fsp.writeFile(
        credFile,
        JSON.stringify({ ToAdh: { ClientSecret: 'cli-secret-1' }, ToPiWebApi: { Password: 'cli-secret-2' } }),
      );
    });

    afterAll(async () => {
      await Promise.all([oldM?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    /** `edge-recovery restore` of the old machine's backup onto the new one, with its own journal folder. */
    const baseArgs = (stateDir: string) => [
      'restore',
      setDir,
      '--profile',
      newM.profilePath,
      '--root',
      newM.root,
      '--state-dir',
      stateDir,
    ];
    const restoreArgs = (stateDir: string) => [
      ...baseArgs(stateDir),
      '--credentials-file',
      credFile,
      '--allow-other-device',
    ];

    it('refuses a backup of another device without --allow-other-device, showing both ids, and changes nothing', async () => {
      const [conf] = resolveItems(newM.profile, { root: newM.root });
      const before = await snapshotTree(conf!.path);
      const stateDir = path.join(work, 'state-refuse');
      const r = await runCli([...baseArgs(stateDir), '--yes']);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('old-box');
      expect(r.stderr).toMatch(/--allow-other-device/);
      expect(await snapshotTree(conf!.path)).toEqual(before);
    });

    it('when the product does not start on the restored data, says so and rolls back by itself with --yes (exit 6)', async () => {
      const stateDir = path.join(work, 'state-autorollback');
      const [conf] = resolveItems(newM.profile, { root: newM.root });
      // This "product" only starts with a file its fresh install has and the backup lacks.
      const marker = path.join(conf!.path, 'fresh-install.marker');
      await fsp.writeFile(marker, 'x');
      const run = path.join(newM.serviceDir, 'run');
      const original = await fsp.readFile(run, 'utf8');
      await fsp.writeFile(
        run,
        original.replace('#!/bin/sh\n', `#!/bin/sh\n[ -f '${marker}' ] || { sleep 1; exit 1; }\n`),
        { mode: 0o755 },
      );
      execFileSync('sv', ['restart', newM.serviceDir]);
      const impatient = path.join(work, 'impatient-profile.json');
      const p = JSON.parse(await fsp.readFile(newM.profilePath, 'utf8'));
      p.service.startTimeoutSeconds = 6;
      await fsp.writeFile(impatient, JSON.stringify(p));
      try {
        await waitForApi(newM.api, 30_000); // it runs now (sv restart returns before it listens)
        const before = await snapshotTree(conf!.path);
        const r = await runCli([
          ...restoreArgs(stateDir).map((a) => (a === newM.profilePath ? impatient : a)),
          '--yes',
          '--allow-profile-commands', // this test's own copy in its temp folder: untrusted input, used on purpose
        ]);
        expect(r.code, r.stderr).toBe(6);
        expect(r.stderr).toMatch(/The restore stopped:/);
        expect(r.stderr).toMatch(/State of the machine:/);
        expect(r.stderr).toMatch(/Rolled back/);
        expect(await snapshotTree(conf!.path)).toEqual(before);
        expect((await serviceFor(newM.profile.service).waitFor('running', 15_000)).state).toBe('running');
        expect((await runCli(['status', '--state-dir', stateDir])).stdout).toMatch(/No unfinished restore/);
      } finally {
        await fsp.writeFile(run, original, { mode: 0o755 });
        await fsp.rm(marker, { force: true });
        execFileSync('sv', ['restart', newM.serviceDir]);
        await waitForApi(newM.api, 30_000); // the next test reads the product version
      }
    });

    it("after a kill during the owners' check (in staging, before the stop), status says where it stopped and rollback puts the machine back exactly", async () => {
      const stateDir = path.join(work, 'state-rollback');
      const [conf] = resolveItems(newM.profile, { root: newM.root });
      const svc = serviceFor(newM.profile.service);
      expect((await svc.status()).state).toBe('running');
      const before = await snapshotTree(conf!.path);

      const killed = await runCli([...restoreArgs(stateDir), '--yes'], {
        env: { EDGE_RECOVERY_CRASH_AT: 'ownership:mid-check' },
      });
      expect(killed.code).toBe(-1); // SIGKILL: no exit code
      const st = await runCli(['status', '--state-dir', stateDir]);
      expect(st.code).toBe(4);
      expect(st.stdout).toMatch(/Unfinished restore/);
      expect(st.stdout).toMatch(/edge-recovery rollback/);
      const stJson = JSON.parse((await runCli(['status', '--state-dir', stateDir, '--json'])).stdout);
      expect(stJson.canRollback).toBe(true);

      const rb = await runCli(['rollback', '--state-dir', stateDir, '--yes']);
      expect(rb.code, rb.stderr).toBe(0);
      expect(rb.stdout).toMatch(/as it was/);
      expect(await snapshotTree(conf!.path)).toEqual(before);
      expect((await svc.status()).state).toBe('running');
      expect((await runCli(['status', '--state-dir', stateDir])).stdout).toMatch(/No unfinished restore/);
    });

    it('after a kill right after the service started, resume finishes with the credentials file, exit 0', async () => {
      const stateDir = path.join(work, 'state-resume');
      const killed = await runCli([...restoreArgs(stateDir), '--yes'], {
        env: { EDGE_RECOVERY_CRASH_AT: 'start:started' },
      });
      expect(killed.code).toBe(-1);
      const r = await runCli(['resume', '--state-dir', stateDir, '--yes', '--credentials-file', credFile, '--json']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const events = jsonEvents(r.stdout);
      const done = events
        .filter((e) => e.type === 'step' && (e.step as { state: string }).state === 'done')
        .map((e) => (e.step as { id: string }).id);
      expect(done).toContain('credentials');
      expect(r.stdout).not.toContain('cli-secret-1');
      const [conf] = resolveItems(newM.profile, { root: newM.root });
      expect(await fsp.readFile(path.join(conf!.path, 'from-old.json'), 'utf8')).toBe('{"old":true}\n');
      expect(await newM.api.credentialEntries(newM.profile.credentials[0]!)).toEqual([]);
      expect((await runCli(['status', '--state-dir', stateDir])).stdout).toMatch(/No unfinished restore/);
    });

    it('--yes keeps the set-aside folders (a blanket yes is not the choice to delete them); --delete-old deletes them', async () => {
      const targets = resolveItems(newM.profile, { root: newM.root }).map((i) => i.path);
      const setAside = async () =>
        (await Promise.all(targets.map((t) => siblingsLike(t)))).flat().filter((n) => n.includes('.before-restore-'));
      const before = await setAside();
      // --yes: the restore goes through without a question, and ends keeping the old folders.
      const kept = path.join(work, 'state-yes-keeps');
      const r = await runCli([...restoreArgs(kept), '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const keptNow = await setAside();
      expect(keptNow.length).toBe(before.length + targets.length);
      expect(r.stderr + r.stdout).toContain('--yes answers "Keep them for now" here');
      expect(JSON.parse(await fsp.readFile(path.join(kept, 'restore-journal.json'), 'utf8')).oldFolders).toMatchObject({
        decision: 'kept',
      });
      expect((await runCli(['status', '--state-dir', kept])).stdout).toMatch(/Left to do:[\s\S]*finish/);

      // Both at once: refused before anything starts.
      const both = await runCli([
        ...restoreArgs(path.join(work, 'state-both')),
        '--yes',
        '--keep-defaults',
        '--delete-old',
      ]);
      expect(both.code, both.stderr).toBe(2);
      expect(await setAside()).toEqual(keptNow);

      // --delete-old: the technician's explicit choice, made at the start: deleted at the end without asking.
      const deleted = path.join(work, 'state-delete-old');
      const d = await runCli([...restoreArgs(deleted), '--yes', '--delete-old']);
      expect(d.code, d.stderr + d.stdout).toBe(0);
      expect(await setAside()).toEqual(keptNow);
      expect(
        JSON.parse(await fsp.readFile(path.join(deleted, 'restore-journal.json'), 'utf8')).oldFolders,
      ).toMatchObject({ decision: 'deleted' });

      // `finish --yes` is itself the choice: it deletes what the first restore kept.
      const f = await runCli(['finish', '--state-dir', kept, '--yes']);
      expect(f.code, f.stderr + f.stdout).toBe(0);
      expect(await setAside()).toEqual(before);
    });
  },
);
