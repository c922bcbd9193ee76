import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import type { RestoreJournal } from '../../src-main/engine/restore/journal.js';
import { jsonEvents, runCli, type CliResult } from '../helpers/cli.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { rootOnlyProfiles, type RootOnlyProfiles } from '../helpers/root-only-profile.js';

const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';

/** runit's pid of the running service ("run: <dir>: (pid 123) 4s"): the same pid is the same, never-stopped run. */
function servicePid(serviceDir: string): number | null {
  const m = /^run: .*\(pid (\d+)\)/.exec(execFileSync('sv', ['status', serviceDir], { encoding: 'utf8' }));
  return m ? Number(m[1]) : null;
}

/** What a refusal said: --json as its one error line on stdout, else "Error: … What to do: …" on stderr. */
function said(r: CliResult, json: boolean): string {
  if (!json) return r.stderr;
  const events = jsonEvents(r.stdout);
  expect(events.map((e) => e.type)).toEqual(['error']);
  const { message, hint } = events[0]!.error as { message: string; hint?: string };
  return `${message} ${hint ?? ''}`;
}

/**
 * A job nobody can answer (no terminal, or --json) and without --yes is refused before it starts (exit 2), as
 * restore and practice are: backup stopped at "stop the service?" after its pre-checks and job lock, rollback
 * stopped the service and then stopped at "roll back?", resume stopped at its next question, credentials restarted
 * the product with every entry left open, finish only said "Keep them". A scheduled backup never asks: it still runs.
 */
describe.skipIf(blocked !== undefined)(
  `jobs without a terminal and without --yes${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let m: PracticeMachine;
    /** The replacement the restores go onto: another machine key, so the backup's credentials must be typed again. */
    let newM: PracticeMachine;
    let work: string;
    let stick: string;
    let setDir: string;
    let scheduled: CliResult;
    let pidBeforeSchedule: number | null;
    /** The old machine's profile in a root-only folder: a schedule refuses the one in its temp folder under /tmp. */
    let trusted: RootOnlyProfiles;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'no-terminal-'));
      [m, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      stick = path.join(work, 'stick');
      await fsp.mkdir(stick);
    }, 120_000);

    afterAll(async () => {
      await trusted?.remove();
      await Promise.all([m?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('backup is refused up front (exit 2): nothing locked or written, the service never stopped', async () => {
      const pid = servicePid(m.serviceDir);
      expect(pid).not.toBeNull();
      const state = path.join(work, 'state-backup');
      for (const json of [false, true]) {
        const r = await runCli([
          'backup',
          '--profile',
          m.profilePath,
          '--root',
          m.root,
          '--to',
          stick,
          '--state-dir',
          state,
          ...(json ? ['--json'] : []),
        ]);
        expect(r.code, r.stderr).toBe(2);
        const words = said(r, json);
        expect(words).toContain(
          `${json ? 'With --json nobody is asked' : 'There is no terminal to ask on'} and --yes was not given: this backup would stop at its first question ("stop the service?")`,
        );
        expect(words).toContain('Add --yes to go ahead without questions');
        expect(words).toContain('or run the command in a terminal');
        // It ran its pre-checks and stopped at "Stop the service" (exit 5), with the lock and journal made.
        expect(r.stdout + r.stderr).not.toMatch(/Pre-checks|Stop the service/);
      }
      await expect(fsp.stat(state)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await fsp.readdir(stick)).toEqual([]);
      expect(servicePid(m.serviceDir)).toBe(pid);
    });

    it('a scheduled backup, run as the installed schedule runs it (no terminal, no --yes), still backs up', async () => {
      const state = path.join(work, 'state-schedule');
      await fsp.mkdir(state, { mode: 0o700 });
      trusted = await rootOnlyProfiles('no-terminal');
      const profile = await trusted.put('eds-practice.json', await fsp.readFile(m.profilePath, 'utf8'));
      // The command line the schedule installs, taken from its own --dry-run (cron here: no systemd).
      const dry = await runCli([
        'schedule',
        'install',
        '--profile',
        profile,
        '--root',
        m.root,
        '--to',
        stick,
        '--every',
        'daily',
        '--random-delay',
        '1s',
        '--state-dir',
        state,
        '--dry-run',
      ]);
      expect(dry.code, dry.stderr).toBe(0);
      const line = dry.stdout.split('\n').find((l) => l.includes(' schedule run '));
      expect(line, dry.stdout).toBeDefined();
      const args = line!.slice(line!.indexOf(' schedule run ') + ' schedule run '.length).split(' ');
      expect(args).not.toContain('--yes');
      pidBeforeSchedule = servicePid(m.serviceDir);
      scheduled = await runCli(['schedule', 'run', ...args, '--json']);
      expect(scheduled.code, scheduled.stderr).toBe(0);
      const summary = jsonEvents(scheduled.stdout).find((e) => e.type === 'scheduled-run') as {
        outcome: string;
        setDir: string;
      };
      expect(summary.outcome, scheduled.stdout).toBe('verified');
      setDir = summary.setDir;
      expect(existsSync(path.join(setDir, 'manifest.json'))).toBe(true);
      // It stopped the service for the copy and started it again: running, as a new process.
      const after = servicePid(m.serviceDir);
      expect(after).not.toBeNull();
      expect(after).not.toBe(pidBeforeSchedule);
    }, 180_000);

    it('resume and rollback of an unfinished restore are refused up front (exit 2): journal, folders and service untouched', async () => {
      const state = path.join(work, 'state-unfinished');
      const killed = await runCli(
        [
          'restore',
          setDir,
          '--profile',
          newM.profilePath,
          '--root',
          newM.root,
          '--state-dir',
          state,
          '--allow-other-device',
          '--yes',
        ],
        { env: { EDGE_RECOVERY_CRASH_AT: 'verify:done' } },
      );
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const journal = path.join(state, 'restore-journal.json');
      const journalBefore = await fsp.readFile(journal, 'utf8');
      const stateBefore = (await fsp.readdir(state)).sort();
      const parent = path.dirname(resolveItems(newM.profile, { root: newM.root })[0]!.path);
      const besideBefore = (await fsp.readdir(parent)).sort();
      const pid = servicePid(newM.serviceDir);
      expect(pid).not.toBeNull();
      for (const [cmd, would] of [
        ['resume', 'this resume would stop at its next question'],
        ['rollback', 'this rollback would stop at its question ("roll back?") with nothing put back'],
      ] as const) {
        for (const json of [false, true]) {
          const r = await runCli([cmd, '--state-dir', state, ...(json ? ['--json'] : [])]);
          expect(r.code, `${cmd}: ${r.stderr}`).toBe(2);
          const words = said(r, json);
          expect(words).toContain(
            `${json ? 'With --json nobody is asked' : 'There is no terminal to ask on'} and --yes was not given: ${would}`,
          );
          expect(words).toContain('or run the command in a terminal');
          expect(words).toContain('"edge-recovery status" says where the restore stopped');
          expect(r.stdout + r.stderr, cmd).not.toMatch(/Stop the service|Roll back the restore|\[>\]/);
        }
      }
      expect(await fsp.readFile(journal, 'utf8')).toBe(journalBefore);
      expect((await fsp.readdir(state)).sort()).toEqual(stateBefore);
      expect((await fsp.readdir(parent)).sort()).toEqual(besideBefore);
      expect(servicePid(newM.serviceDir)).toBe(pid);
      // With --yes it goes ahead (the refusal is only for nobody to ask).
      const rb = await runCli(['rollback', '--state-dir', state, '--yes']);
      expect(rb.code, rb.stderr).toBe(0);
    }, 240_000);

    it('credentials and finish after a finished restore are refused up front (exit 2): nothing restarted or deleted', async () => {
      const state = path.join(work, 'state-finished');
      const r = await runCli([
        'restore',
        setDir,
        '--profile',
        newM.profilePath,
        '--root',
        newM.root,
        '--state-dir',
        state,
        '--allow-other-device',
        '--yes',
      ]);
      const journal = path.join(state, 'restore-journal.json');
      const j = JSON.parse(await fsp.readFile(journal, 'utf8')) as RestoreJournal;
      expect(j.status, r.stderr).toBe('finished');
      expect(j.credentials.pending.length).toBeGreaterThan(0);
      expect(j.oldFolders?.decision).toBe('kept');
      const journalBefore = await fsp.readFile(journal, 'utf8');
      const pid = servicePid(newM.serviceDir);
      expect(pid).not.toBeNull();
      for (const json of [false, true]) {
        const who = json ? 'With --json nobody is asked' : 'There is no terminal to ask on';
        const c = await runCli(['credentials', '--state-dir', state, ...(json ? ['--json'] : [])]);
        expect(c.code, c.stderr).toBe(2);
        const cw = said(c, json);
        expect(cw).toContain(`${who} and --credentials-file was not given: nobody can type the secrets`);
        expect(cw).toContain('Give the secrets in a file with --credentials-file <file>');
        const f = await runCli(['finish', '--state-dir', state, ...(json ? ['--json'] : [])]);
        expect(f.code, f.stderr).toBe(2);
        const fw = said(f, json);
        expect(fw).toContain(`${who} and --yes was not given: finish would only ask "delete the old folders?"`);
        expect(fw).toContain('Add --yes to delete the old folders the restore kept');
      }
      // credentials restarted the product (a new pid) for nothing; finish rewrote the report and journal.
      expect(servicePid(newM.serviceDir)).toBe(pid);
      expect(await fsp.readFile(journal, 'utf8')).toBe(journalBefore);
      for (const p of j.oldFolders!.paths) expect(existsSync(p), p).toBe(true);
    }, 240_000);
  },
);
