import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { exitCodeFor, RecoveryError } from '../../src-main/engine/errors.js';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import { rollbackRestore } from '../../src-main/engine/restore/rollback.js';
import { restoreStatus } from '../../src-main/engine/restore/status.js';
import { resumeRestore, runRestore } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import type { ConfirmRequest, Interaction } from '../../src-main/engine/runbook/types.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { asAccountArgs, runAsAtFirstDirOpen, shAs } from '../helpers/as-account.js';
import { racerAsync, racerSync } from '../helpers/racer-run.js';
import { driverInteraction, ensureTestOwner, restoreTestsBlocked, runDriver } from '../helpers/restore-driver.js';

/**
 * A real unprivileged account races a real root restore (the racer runs under setpriv as that account):
 * - a local user runs a setuid-root program from the staging folder while the wizard waits at "replace the
 *   folders?", and plants files in a folder the archive made 0777;
 * - the service account swaps restored files for links to a root-only file while owners are set;
 * - the service account, holding its old folder open, swaps a sub-folder for a link to a root-only folder
 *   while the clean-up deletes the set-aside folders;
 * - an account that may write beside the targets moves the root-only work folder away and puts its own by that
 *   name while the wizard waits at "replace the folders?" (moved in by the swap before it was judged by descriptor).
 * Each attack worked against the path-based code before issue 8 (checked by running this file on it).
 */
const blocked = restoreTestsBlocked() ?? (process.getuid?.() === 0 ? undefined : 'needs root');
const OWNER = 'edge-rt';

/** Lets other accounts walk down to `dir` (mkdtemp makes 0700 folders), as on an appliance's /usr/share. */
async function openPath(dir: string): Promise<void> {
  for (let d = dir; d !== os.tmpdir() && d !== '/'; d = path.dirname(d)) await fsp.chmod(d, 0o755);
}

describe.skipIf(blocked !== undefined)(
  `a restore raced by an unprivileged account${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let oldM: PracticeMachine;
    let newM: PracticeMachine;
    let work: string;
    let setDir: string;
    let conf = '';
    let n = 0;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'restore-races-'));
      await fsp.chmod(work, 0o755);
      [oldM, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      // The backup: a setuid-root copy of id, a folder open to all, and many files to race on.
      const [oldConf] = resolveItems(oldM.profile, { root: oldM.root });
      await fsp.mkdir(path.join(oldConf!.path, 'bin'));
      await fsp.copyFile('/usr/bin/id', path.join(oldConf!.path, 'bin', 'id-copy'));
      await fsp.chmod(path.join(oldConf!.path, 'bin', 'id-copy'), 0o4755);
      await fsp.mkdir(path.join(oldConf!.path, 'open'));
      await fsp.chmod(path.join(oldConf!.path, 'open'), 0o777);
      await fsp.mkdir(path.join(oldConf!.path, 'Custom'));
      for (let i = 0; i < 1500; i++) {
        await fsp.writeFile(path.join(oldConf!.path, 'Custom', `f${String(i).padStart(4, '0')}.json`), `{"i":${i}}\n`);
      }
      setDir = (
        await runBackup(
          { profile: oldM.profile, to: path.join(work, 'stick'), root: oldM.root, deviceId: 'old-device' },
          { emit: () => undefined, interaction: autoConfirm },
        )
      ).setDir;
      await oldM.stop();
      conf = resolveItems(newM.profile, { root: newM.root })[0]!.path;
      await openPath(path.dirname(conf));
    }, 600_000);

    afterAll(async () => {
      await Promise.all([oldM?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    async function restore(profile: Profile, interaction: Interaction): Promise<void> {
      await runRestore(
        {
          backup: setDir,
          profile,
          root: newM.root,
          stateDir: path.join(work, `state-${n++}`),
          allowOtherDevice: true,
          // Each test stands alone: a product left stopped by an earlier failure cannot tell its version.
          allowVersionMismatch: true,
          tuning: { pollMs: 50, deviceId: 'new-device' },
        },
        { emit: () => undefined, interaction },
      );
    }

    it('gives a local user nothing to run or write in staging, and no setuid or 0777 survives without a policy', async () => {
      const noPolicy: Profile = { ...newM.profile };
      delete noPolicy.ownership;
      let seen: Record<string, unknown> = {};
      const base = driverInteraction('typed-');
      await restore(noPolicy, {
        ...base,
        async confirm(req: ConfirmRequest) {
          // The wizard waits at "Replace the folders?": everything is staged, nothing swapped yet.
          if (req.stepId === 'swap') seen = racerSync(OWNER, ['exec-setuid', path.dirname(conf)]);
          return true;
        },
      });
      expect(seen.ran, JSON.stringify(seen)).toEqual([]);
      expect(seen.planted, JSON.stringify(seen)).toEqual([]);
      const live = await fsp.stat(path.join(conf, 'bin', 'id-copy'));
      expect((live.mode & 0o7777).toString(8)).toBe('755');
      expect(((await fsp.stat(path.join(conf, 'open'))).mode & 0o7777).toString(8)).toBe('755');
      // And after the swap the live folder gives the racer nothing either.
      const after = racerSync(OWNER, ['exec-setuid', path.dirname(conf)]);
      expect(after).toEqual({ ran: [], planted: [] });
    }, 600_000);

    it('never chowns or chmods a root-only file through a link the service account swapped in', async () => {
      const victim = path.join(work, 'root-only-victim');
      await fsp.writeFile(victim, 'root secret\n', { mode: 0o600 });
      const stop = path.join(work, 'stop-swap');
      let racer: Promise<Record<string, unknown>> | null = null;
      const base = driverInteraction('typed-');
      const outcome = await restore(newM.profile, {
        ...base,
        async confirm(req: ConfirmRequest) {
          if (req.stepId === 'swap')
            racer = racerAsync(OWNER, ['swap-links', path.join(conf, 'Custom'), victim, stop, '300']);
          return true;
        },
      })
        .then(() => null)
        .catch((e: unknown) => e)
        .finally(() => fsp.writeFile(stop, ''));
      const r = await racer!;
      // The race was live: the service account did swap files for links in the restored folder.
      expect(r.swapped as number).toBeGreaterThan(0);
      const st = await fsp.stat(victim);
      expect(st.uid).toBe(0);
      expect(st.gid).toBe(0);
      expect((st.mode & 0o7777).toString(8)).toBe('600');
      expect(await fsp.readFile(victim, 'utf8')).toBe('root secret\n');
      // Links the service account made in its own folder are its business: the restore still completes.
      expect(outcome).toBeNull();
    }, 600_000);

    it('deletes the set-aside folders without being redirected by a folder swapped for a link', async () => {
      // The new machine's own folder (set aside by the restore) belongs to the service account.
      const victimDir = path.join(work, 'root-only-dir');
      await fsp.mkdir(victimDir, { mode: 0o755 });
      for (let i = 0; i < 100; i++) {
        await fsp.writeFile(path.join(victimDir, `f${String(i).padStart(4, '0')}`), 'root data\n', { mode: 0o600 });
      }
      for (let k = 0; k < 8; k++) {
        await fsp.mkdir(path.join(conf, `Sub${k}`), { recursive: true });
        for (let i = 0; i < 100; i++) {
          await fsp.writeFile(path.join(conf, `Sub${k}`, `f${String(i).padStart(4, '0')}`), 'old default\n');
        }
      }
      execFileSync('chown', ['-R', `${OWNER}:${OWNER}`, conf]);
      const stop = path.join(work, 'stop-toggle');
      let racer: Promise<Record<string, unknown>> | null = null;
      const base = driverInteraction('typed-');
      const outcome = await restore(newM.profile, {
        ...base,
        async confirm(req: ConfirmRequest) {
          if (req.stepId === 'swap') {
            racer = racerAsync(OWNER, [
              'toggle-dir',
              path.dirname(conf),
              `${path.basename(conf)}.before-restore-`,
              'Sub',
              victimDir,
              stop,
              '300',
            ]);
          }
          return true;
        },
      })
        .then(() => null)
        .catch((e: unknown) => e)
        .finally(() => fsp.writeFile(stop, ''));
      const r = await racer!;
      expect(r.toggles as number).toBeGreaterThan(0);
      expect((await fsp.readdir(victimDir)).length).toBe(100);
      expect(existsSync(path.join(victimDir, 'f0099'))).toBe(true);
      // The service account's games inside its own old folder do not stop the clean-up.
      expect(outcome).toBeNull();
      // Nothing of the set-aside folder or the work folders is left.
      const left = (await fsp.readdir(path.dirname(conf))).filter(
        (x) => x.includes('before-restore') || x.startsWith('.edge-recovery-'),
      );
      expect(left).toEqual([]);
    }, 600_000);

    it("makes a target's missing folders without following a link the service account put on the way", async () => {
      // A folder of the service account's on the way to where the profile puts Configuration (not made yet): the
      // account links a root-only folder by the name of the next folder on the way.
      const victim = path.join(work, 'root-only-parents');
      await fsp.mkdir(victim, { mode: 0o700 });
      const own = path.join(newM.root, 'srv-account');
      await fsp.mkdir(own, { mode: 0o755 });
      execFileSync('chown', [`${OWNER}:${OWNER}`, own]);
      shAs(OWNER, 'ln -s "$2" "$1/data"', own, victim);
      const moved: Profile = {
        ...newM.profile,
        items: newM.profile.items.map((i) =>
          i.id === 'Configuration' ? { ...i, path: '/srv-account/data/new/Configuration' } : i,
        ),
      };
      const outcome = await restore(moved, driverInteraction('typed-'))
        .then(() => 'ok')
        .catch((e: unknown) => (e as { code?: string }).code ?? String(e));
      expect({ outcome, inVictim: await fsp.readdir(victim) }).toEqual({ outcome: 'UNSAFE_PATH', inVictim: [] });
    }, 600_000);

    it('removes leftover staging folders only in the work folder it judged, never through a link put by its name', async () => {
      // The folder the restored folders go into belongs to the service account (as an install folder may).
      const parent = path.dirname(conf);
      execFileSync('chown', [`${OWNER}:${OWNER}`, parent]);
      const item = resolveItems(newM.profile, { root: newM.root })[0]!.id;
      // Root's folder the account wants gone: it holds a folder named like the staging folder (the item's id).
      const victimRoot = path.join(work, 'root-only-staging-victim');
      await fsp.mkdir(path.join(victimRoot, item), { recursive: true, mode: 0o755 });
      await fsp.writeFile(path.join(victimRoot, item, 'precious'), 'root data\n', { mode: 0o600 });
      let linked: string[] = [];
      const base = driverInteraction('typed-');
      const outcome = await restore(newM.profile, {
        ...base,
        async credentials(req) {
          // After the swap, before the clean-up: the account moves the root-only work folder aside and links root's
          // folder by its name (the clean-up removes leftover staging folders first thing).
          linked = (await fsp.readdir(parent)).filter((x) => x.startsWith('.edge-recovery-'));
          for (const w of linked)
            shAs(OWNER, 'mv "$1" "$1.moved" && ln -s "$2" "$1"', path.join(parent, w), victimRoot);
          return base.credentials(req);
        },
      })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(linked.length).toBeGreaterThan(0);
      expect((await fsp.lstat(path.join(parent, linked[0]!))).isSymbolicLink()).toBe(true);
      // Root's folder behind the link is untouched (the restore stops at the link: the work folder is not its own).
      expect(await fsp.readdir(path.join(victimRoot, item)).catch((e: NodeJS.ErrnoException) => e.code)).toEqual([
        'precious',
      ]);
      expect(outcome).toMatchObject({ code: 'UNSAFE_PATH' });
      for (const w of linked) {
        await fsp.rm(path.join(parent, w), { force: true });
        await fsp.rm(path.join(parent, `${w}.moved`), { recursive: true, force: true });
      }
    }, 600_000);

    // Last: the restore refused leaves the product stopped (a rollback would start it again).
    it('never moves in a work folder an account that can write beside the targets put in place of its own', async () => {
      // The folder the restored folders go into belongs to the service account (as an install folder may).
      const parent = path.dirname(conf);
      execFileSync('chown', [`${OWNER}:${OWNER}`, parent]);
      const probe = await fsp.readdir(conf);
      let seen: Record<string, unknown> = {};
      const base = driverInteraction('typed-');
      const outcome = await restore(newM.profile, {
        ...base,
        async confirm(req: ConfirmRequest) {
          // At "Replace the folders?" everything is staged, in root-only folders the account cannot enter; it
          // renames the work folder away and puts its own by that name, with staging folders of its own.
          if (req.stepId === 'swap') {
            const stagings = (req.details ?? [])
              .map((d) => d.split(' → ')[0]!)
              .filter((from) => path.basename(path.dirname(from)).startsWith('.edge-recovery-'));
            seen = racerSync(OWNER, ['replace-work-dir', ...stagings]);
          }
          return true;
        },
      })
        .then(() => null)
        .catch((e: unknown) => e);
      // The race was live: the work folder was moved and the account's own put in its place.
      expect((seen.planted as string[] | undefined)?.length, JSON.stringify(seen)).toBeGreaterThan(0);
      expect(JSON.stringify(seen.moved)).not.toMatch(/: E/);
      // What the account planted never became the product's folder; the product's folder is as it was.
      expect(existsSync(path.join(conf, 'planted-by-racer'))).toBe(false);
      expect((await fsp.readdir(conf)).sort()).toEqual(probe.sort());
      expect(outcome).toMatchObject({ code: 'UNSAFE_PATH' });
    }, 600_000);

    /**
     * Runs `job` held at the journal label `at` (crash-point.ts' pause) while the account (racer.mjs
     * replace-work-dir-at-pause) puts folders of its own in place of the work folders beside the targets; returns the
     * job's error (null: it succeeded), what the racer did, and the folders it put there.
     */
    async function withWorkDirReplacedAt(
      at: string,
      job: () => Promise<unknown>,
    ): Promise<{ outcome: unknown; moved: string[] }> {
      const parent = path.dirname(conf);
      execFileSync('chown', [`${OWNER}:${OWNER}`, parent]);
      const pauseDir = await fsp.mkdtemp(path.join(work, 'pause-'));
      await fsp.chmod(pauseDir, 0o755);
      await fsp.chown(pauseDir, uidForUser(OWNER)!, gidForGroup(OWNER)!);
      const pauseFile = path.join(pauseDir, 'paused');
      const racing = racerAsync(OWNER, ['replace-work-dir-at-pause', pauseFile, parent, '300']);
      process.env.EDGE_RECOVERY_PAUSE_AT = at;
      process.env.EDGE_RECOVERY_PAUSE_FILE = pauseFile;
      let outcome: unknown;
      try {
        outcome = await job().then(
          () => null,
          (e: unknown) => e,
        );
      } finally {
        delete process.env.EDGE_RECOVERY_PAUSE_AT;
        delete process.env.EDGE_RECOVERY_PAUSE_FILE;
        await fsp.writeFile(pauseFile, ''); // a racer still waiting ends at once (and removes it)
      }
      const said = await racing;
      expect(said.paused, JSON.stringify(said)).toBe(true);
      const moved = said.moved as string[];
      expect(moved.length, JSON.stringify(said)).toBeGreaterThan(0);
      expect(JSON.stringify(moved)).not.toMatch(/: E/);
      return { outcome, moved };
    }

    /** The account's folders are as it left them (only its file), and root's own moved-aside work folders empty. */
    async function accountFoldersUntouched(moved: string[]): Promise<void> {
      for (const p of moved) {
        expect(await fsp.readdir(p).catch((e: NodeJS.ErrnoException) => e.code)).toEqual(['planted-by-racer']);
        expect(await fsp.readdir(`${p}.moved-by-racer`)).toEqual([]);
        await fsp.rm(p, { recursive: true, force: true });
        await fsp.rm(`${p}.moved-by-racer`, { recursive: true, force: true });
      }
    }

    it('rolls back through the work folder it judged, never into or deleting a folder an account put by its name', async () => {
      const probe = (await fsp.readdir(conf)).sort();
      const stateDir = path.join(work, `state-${n}`);
      // A restore that fails after the swap (the credentials form closed): the rollback has folders to put back.
      const first = await restore(newM.profile, {
        ...driverInteraction('typed-'),
        credentials: () => Promise.reject(new RecoveryError('CANCELLED', 'The technician closed the form.')),
      }).catch((e: unknown) => e);
      expect(first).toMatchObject({ code: 'CANCELLED' });
      const item = resolveItems(newM.profile, { root: newM.root })[0]!.id;
      // Held just before the restored folder is renamed into the work folder to be deleted.
      const { outcome, moved } = await withWorkDirReplacedAt(`after-journal:rename-intent:discard:${item}`, () =>
        rollbackRestore({ stateDir, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm }),
      );
      expect(outcome).toBeNull();
      expect((await fsp.readdir(conf)).sort()).toEqual(probe);
      await accountFoldersUntouched(moved);
    }, 600_000);

    it('deletes the set-aside folders through the work folder it judged, whatever an account put by its name', async () => {
      const before = (await fsp.readdir(path.dirname(conf))).filter((x) => x.includes('before-restore'));
      // Held once the deletion is decided (status committing), before the first set-aside folder is moved.
      const { outcome, moved } = await withWorkDirReplacedAt('after-journal:committing', () =>
        restore(newM.profile, driverInteraction('typed-')),
      );
      expect(outcome).toBeNull();
      // The old folder was deleted (not left behind, nor moved into the account's folder).
      expect((await fsp.readdir(path.dirname(conf))).filter((x) => x.includes('before-restore'))).toEqual(before);
      await accountFoldersUntouched(moved);
    }, 600_000);

    /**
     * A root-only folder (`victim`, readable by all as /etc is) holding a folder named like the target, with a file of
     * root's: what an account owning the folder above the targets' folder wants root to rename in, or delete.
     */
    async function rootFolderNamedLikeTarget(what: string): Promise<string> {
      const victim = path.join(work, what);
      await fsp.mkdir(path.join(victim, path.basename(conf)), { recursive: true, mode: 0o700 });
      await fsp.chmod(victim, 0o755);
      await fsp.writeFile(path.join(victim, path.basename(conf), 'roots.conf'), 'root\n', { mode: 0o600 });
      return victim;
    }

    /** What `victim` holds: only the folder named like the target, with only root's file. */
    async function untouched(victim: string): Promise<{ inVictim: string[]; inTarget: string[] }> {
      return {
        inVictim: (await fsp.readdir(victim)).sort(),
        inTarget: await fsp.readdir(path.join(victim, path.basename(conf))),
      };
    }

    /**
     * Runs `job` with the folder above the targets' folder given to the account, which moves the targets' folder aside
     * and links `victim` by its name when the job is held at the journal label `at` (crash-point.ts' pause), then lets
     * it go on. Returns the job's error (null: it succeeded). The folder is put back afterwards.
     */
    async function withTargetsFolderLinkedAt(
      at: string,
      victim: string,
      job: () => Promise<unknown>,
    ): Promise<unknown> {
      const parent = path.dirname(conf);
      const grand = path.dirname(parent);
      const was = await fsp.stat(grand);
      await fsp.chown(grand, uidForUser(OWNER)!, gidForGroup(OWNER)!);
      const pauseDir = await fsp.mkdtemp(path.join(work, 'pause-'));
      await fsp.chmod(pauseDir, 0o755);
      await fsp.chown(pauseDir, uidForUser(OWNER)!, gidForGroup(OWNER)!);
      const pauseFile = path.join(pauseDir, 'paused');
      const racer = spawn(
        'setpriv',
        asAccountArgs(
          OWNER,
          'sh',
          '-c',
          'while [ ! -s "$1" ]; do sleep 0.02; done; mv "$2" "$2.moved" && ln -s "$3" "$2"; r=$?; rm -f "$1"; exit $r',
          'sh',
          pauseFile,
          parent,
          victim,
        ),
        { stdio: 'ignore' },
      );
      const raced = new Promise<number | null>((r) => racer.on('close', r));
      process.env.EDGE_RECOVERY_PAUSE_AT = at;
      process.env.EDGE_RECOVERY_PAUSE_FILE = pauseFile;
      try {
        const outcome = await job().then(
          () => null,
          (e: unknown) => e,
        );
        await fsp.writeFile(pauseFile, '1'); // a racer still waiting goes on (and removes it)
        expect(await raced, 'the account swapped the folder').toBe(0);
        return outcome;
      } finally {
        delete process.env.EDGE_RECOVERY_PAUSE_AT;
        delete process.env.EDGE_RECOVERY_PAUSE_FILE;
        racer.kill();
        await putTargetsFolderBack();
        await fsp.chown(grand, was.uid, was.gid);
      }
    }

    /** The work folders in the targets' folder (earlier cases leave the account's and root's moved-aside ones). */
    async function workFolders(): Promise<string[]> {
      return (await fsp.readdir(path.dirname(conf))).filter((x) => x.startsWith('.edge-recovery-')).sort();
    }

    /** The account's link at the targets' folder removed and the folder moved back (what the message tells to do). */
    async function putTargetsFolderBack(): Promise<void> {
      const parent = path.dirname(conf);
      if ((await fsp.lstat(parent).catch(() => null))?.isSymbolicLink()) {
        await fsp.rm(parent, { force: true });
        await fsp.rename(`${parent}.moved`, parent);
      }
    }

    it("makes its work folder in the targets' folder it reached, never through a link put by its name in between", async () => {
      // The account owns the folder above the targets' folder (as /var/lib/<product> holding data/Configuration); the
      // targets' folder holds Configuration alone (Storage goes elsewhere), so nothing else stops the restore by path.
      const parent = path.dirname(conf);
      const grand = path.dirname(parent);
      const victim = await rootFolderNamedLikeTarget('root-only-work-victim');
      const leftBefore = await workFolders();
      const alone: Profile = {
        ...newM.profile,
        items: newM.profile.items.map((i) =>
          i.id === 'Storage' ? { ...i, path: i.path.replace(/EdgeDataStore[\\/]Storage$/, 'StorageAlone/Storage') } : i,
        ),
      };
      const was = await fsp.stat(grand);
      await fsp.chown(grand, uidForUser(OWNER)!, gidForGroup(OWNER)!);
      // At the first open of the targets' folder (the walk to it before the work folder is made: the open held by root's
      // watcher until the account is done), the account moves it aside and links root's folder by its name.
      const watcher = await runAsAtFirstDirOpen(OWNER, parent, 'mv "$1" "$1.moved" && ln -s "$2" "$1"', parent, victim);
      let outcome: unknown;
      let events: string[] = [];
      try {
        outcome = await restore(alone, driverInteraction('typed-')).then(
          () => null,
          (e: unknown) => e,
        );
      } finally {
        events = await watcher.stop();
        await putTargetsFolderBack();
        await fsp.chown(grand, was.uid, was.gid);
      }
      expect(events.slice(0, 2), JSON.stringify(events)).toEqual(['open', 'swapped']);
      // Root's folder is as it was: no work folder made in it, nothing unpacked, set aside or moved in there.
      expect(await untouched(victim)).toEqual({ inVictim: [path.basename(conf)], inTarget: ['roots.conf'] });
      expect(outcome).toMatchObject({ code: 'UNSAFE_PATH' });
      const e = outcome as RecoveryError;
      expect(e.message).toContain(`${parent} is no longer the folder the restore prepared its work folder in`);
      expect(e.message).toContain(`it was moved to ${parent}.moved`);
      expect(e.message).toContain(`a link to ${victim} is there now`);
      expect(e.message).toContain('was changed: nothing was unpacked, and the service was not stopped.');
      expect(e.hint).toContain(`move ${parent}.moved back to ${parent}`);
      expect(exitCodeFor(e.code)).toBe(4);
      // The work folder it made in the real folder (empty) is gone too.
      expect(await workFolders()).toEqual(leftBefore);
    }, 600_000);

    it("rolls back in the targets' folder it judged, never where a link the account put by its name leads", async () => {
      const parent = path.dirname(conf);
      // The folder found before the restore, told apart from the restored one (the same backup was restored before).
      await fsp.writeFile(path.join(conf, 'before-rollback-race'), 'earlier\n');
      const leftBefore = await workFolders();
      const probe = (await fsp.readdir(conf)).sort();
      const stateDir = path.join(work, `state-${n}`);
      // A restore that fails after the swap (the credentials form closed): the rollback has folders to put back.
      const first = await restore(newM.profile, {
        ...driverInteraction('typed-'),
        credentials: () => Promise.reject(new RecoveryError('CANCELLED', 'The technician closed the form.')),
      }).catch((e: unknown) => e);
      expect(first).toMatchObject({ code: 'CANCELLED' });
      const victim = await rootFolderNamedLikeTarget('root-only-rollback-victim');
      const item = resolveItems(newM.profile, { root: newM.root })[0]!.id;
      const rollback = () =>
        rollbackRestore({ stateDir, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm });
      // Held just before the restored folder is renamed away from the target, once the work folders are judged.
      let inMoved: string[] = [];
      const outcome = await withTargetsFolderLinkedAt(
        `after-journal:rename-intent:discard:${item}`,
        victim,
        async () => {
          try {
            return await rollback();
          } finally {
            inMoved = (await fsp.readdir(path.join(`${parent}.moved`, path.basename(conf)))).sort();
          }
        },
      );
      // Root's folder is as it was (not renamed away, nor anything put there); the earlier folder is back in the real
      // targets' folder, wherever the account moved it.
      expect(await untouched(victim)).toEqual({ inVictim: [path.basename(conf)], inTarget: ['roots.conf'] });
      expect(inMoved).toEqual(probe);
      expect(outcome).toMatchObject({ code: 'UNSAFE_PATH' });
      const e = outcome as RecoveryError;
      expect(e.message).toContain(`${parent} is no longer the folder the rollback renames the folders in`);
      expect(e.message).toContain(`renamed only in the folder the rollback had checked, now at ${parent}.moved`);
      expect(e.message).toContain(`the earlier ${path.basename(conf)} was put back`);
      expect(e.hint).toContain('run the rollback again');
      expect(exitCodeFor(e.code)).toBe(4);
      // What it says to do works: with the folder moved back, the rollback run again finishes.
      expect((await restoreStatus({ stateDir }))?.where).toMatch(/Run the rollback again/);
      expect(await rollback().then(() => null)).toBeNull();
      expect((await fsp.readdir(conf)).sort()).toEqual(probe);
      expect(await workFolders()).toEqual(leftBefore);
    }, 600_000);

    it("rolls back a journal written before the targets' folder was recorded (the walk's checks alone)", async () => {
      await fsp.writeFile(path.join(conf, 'before-old-journal'), 'earlier\n');
      const leftBefore = await workFolders();
      const probe = (await fsp.readdir(conf)).sort();
      const stateDir = path.join(work, `state-${n}`);
      const first = await restore(newM.profile, {
        ...driverInteraction('typed-'),
        credentials: () => Promise.reject(new RecoveryError('CANCELLED', 'The technician closed the form.')),
      }).catch((e: unknown) => e);
      expect(first).toMatchObject({ code: 'CANCELLED' });
      // As the previous version wrote it: no parentId on the items.
      const file = path.join(stateDir, 'restore-journal.json');
      const j = JSON.parse(await fsp.readFile(file, 'utf8')) as { items: Record<string, unknown>[] };
      expect(j.items.every((i) => i.parentId !== undefined)).toBe(true);
      for (const i of j.items) delete i.parentId;
      await fsp.writeFile(file, JSON.stringify(j, null, 2));
      await rollbackRestore({ stateDir, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm });
      expect((await fsp.readdir(conf)).sort()).toEqual(probe);
      expect(await workFolders()).toEqual(leftBefore);
    }, 600_000);

    it('never forgets a rename a crash left unconfirmed because a link the account put by its folder hides it', async () => {
      const parent = path.dirname(conf);
      const grand = path.dirname(parent);
      await fsp.writeFile(path.join(conf, 'before-crash-race'), 'earlier\n');
      const victim = await rootFolderNamedLikeTarget('root-only-crash-victim');
      const stateDir = path.join(work, `state-${n++}`);
      const item = resolveItems(newM.profile, { root: newM.root })[0]!.id;
      // Killed right after the first folder was set aside, before the journal says so (its intent only).
      const crashed = await runDriver(
        {
          action: 'restore',
          stateDir,
          backup: setDir,
          profilePath: newM.profilePath,
          root: newM.root,
          allowOtherDevice: true,
          allowVersionMismatch: true,
          pollMs: 50,
          deviceId: 'new-device',
          secretPrefix: 'typed-',
        },
        { crashAt: `renamed:set-aside:${item}` },
      );
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      // By the journal's paths the target is there (root's folder the link leads to) and its set-aside name is not:
      // as if the set-aside never happened.
      const was = await fsp.stat(grand);
      await fsp.chown(grand, uidForUser(OWNER)!, gidForGroup(OWNER)!);
      let outcome: unknown;
      try {
        shAs(OWNER, 'mv "$1" "$1.moved" && ln -s "$2" "$1"', parent, victim);
        outcome = await resumeRestore(
          { stateDir, tuning: { pollMs: 50, deviceId: 'new-device' } },
          { emit: () => undefined, interaction: driverInteraction('typed-') },
        ).then(
          () => null,
          (e: unknown) => e,
        );
      } finally {
        await putTargetsFolderBack();
        await fsp.chown(grand, was.uid, was.gid);
      }
      expect(await untouched(victim)).toEqual({ inVictim: [path.basename(conf)], inTarget: ['roots.conf'] });
      expect(outcome).toMatchObject({ code: 'UNSAFE_PATH' });
      expect((outcome as Error).message).toContain(`${parent} is a link on the way`);
      // The set-aside is still known: with the folder put back, the rollback puts the earlier folder back.
      await rollbackRestore({ stateDir, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm });
      expect(existsSync(path.join(conf, 'before-crash-race'))).toBe(true);
    }, 600_000);

    it("never sets aside or moves in through a link the account put in place of a target's parent folder", async () => {
      // The account owns the folder above the targets' parent (as /var/lib/<product> holding data/Configuration);
      // a root-only folder holds a folder named like the target, with a file of root's.
      const parent = path.dirname(conf);
      const name = path.basename(conf);
      const victim = await rootFolderNamedLikeTarget('root-only-above');
      await fsp.writeFile(path.join(conf, 'before-swap-race'), 'earlier\n');
      const stateDir = path.join(work, `state-${n}`);
      const item = resolveItems(newM.profile, { root: newM.root })[0]!.id;
      let restoredThere = false;
      // Held once the work folders are judged and the first set-aside is journaled, before it is renamed: the account
      // moves the targets' parent aside and links the root-only folder by its name, then lets the job go on.
      const outcome = await withTargetsFolderLinkedAt(
        `after-journal:rename-intent:set-aside:${item}`,
        victim,
        async () => {
          try {
            return await restore(newM.profile, driverInteraction('typed-'));
          } finally {
            restoredThere = existsSync(path.join(`${parent}.moved`, name, 'Custom'));
          }
        },
      );
      // Root's folder is as it was (not set aside, deleted, or filled with the account's): the renames were made in
      // the targets' parent the work folder is in, which the account moved aside.
      expect({ ...(await untouched(victim)), restored: restoredThere }).toEqual({
        inVictim: [name],
        inTarget: ['roots.conf'],
        restored: true,
      });
      // The job stops there, saying what it saw, what it renamed and where, and what to do.
      expect(outcome).toMatchObject({ code: 'UNSAFE_PATH' });
      const e = outcome as RecoveryError;
      expect(exitCodeFor(e.code)).toBe(4);
      expect(e.message).toContain(`${parent} is no longer the folder the restore renames the folders in`);
      expect(e.message).toContain(`it was moved to ${parent}.moved while the restore ran, and a link to ${victim}`);
      expect(e.message).toMatch(
        new RegExp(
          `renamed only in the folder the restore had checked, now at .*: ${name} was set aside as ${name}\\.before-restore-[^;]*; the restored ${name} was moved in\\. Nothing else was renamed`,
        ),
      );
      expect(e.message).toContain('stays stopped');
      expect(e.hint).toContain(`move ${parent}.moved back to ${parent}`);
      // status says the same, and that it can be resumed or rolled back; with the folder moved back (done above),
      // the rollback puts the earlier folders back.
      const st = await restoreStatus({ stateDir });
      expect(st?.where).toContain(`is no longer the folder the restore renames the folders in`);
      expect(st?.where).toContain('Resume to finish the restore, or roll back');
      expect({ resume: st?.canResume, rollback: st?.canRollback }).toEqual({ resume: true, rollback: true });
      expect(
        await rollbackRestore({ stateDir, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm }).then(
          () => null,
        ),
      ).toBeNull();
      expect(existsSync(path.join(conf, 'before-swap-race'))).toBe(true);
    }, 600_000);
  },
);
