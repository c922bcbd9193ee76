import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordSetStarted, recordSetVerified } from '../../src-main/engine/backup/written-sets.js';
import { ageWordsBetween } from '../helpers/age-words.js';
import { cliCommand, jsonEvents, runCli } from '../helpers/cli.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { rootOnlyProfiles, type RootOnlyProfiles } from '../helpers/root-only-profile.js';
import { requireRunit } from '../helpers/runit.js';
import { startSyslogSink, type SyslogSink } from '../helpers/syslog-socket.js';

const runit = requireRunit();

function svPid(serviceDir: string): string {
  const s = execFileSync('sv', ['status', serviceDir], { encoding: 'utf8' });
  const m = /^run: .*\(pid (\d+)\)/.exec(s);
  if (!m) throw new Error(`service not running: ${s}`);
  return m[1]!;
}

async function setTransactions(m: PracticeMachine, running: number): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${m.port}/api/v1/practice/transactions`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Running: running }),
  });
  expect(r.status).toBe(200);
}

/** `edge-recovery schedule run …` as the timer starts it, with its output readable while it runs. */
function startScheduledRun(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [...cliCommand(), 'schedule', 'run', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { out: () => stdout, err: () => stderr, done };
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function sets(stick: string, device: string): Promise<string[]> {
  // Backup sets only: each backup's report (report-backup-*) sits beside them.
  return (await fsp.readdir(path.join(stick, 'EdgeRecovery', device)).catch(() => [] as string[]))
    .filter((n) => n.startsWith('Backup_'))
    .sort();
}

/**
 * A copy of a verified set with another class and creation time (retention reads both from the manifest), recorded
 * in `state` as a set this machine wrote (retention counts and deletes only those, backup/written-sets.ts).
 */
async function fakeSet(
  src: string,
  name: string,
  cls: 'manual' | 'automatic',
  createdAt: Date,
  state: string,
): Promise<string> {
  const dst = path.join(path.dirname(src), name);
  await fsp.cp(src, dst, { recursive: true });
  const mf = path.join(dst, 'manifest.json');
  const m = JSON.parse(await fsp.readFile(mf, 'utf8'));
  m.class = cls;
  m.createdAt = createdAt.toISOString();
  const text = JSON.stringify(m, null, 2);
  await fsp.writeFile(mf, text);
  await recordSetVerified(state, dst, m.profile.id, text, { createdAt: m.createdAt, class: cls });
  return dst;
}

describe.skipIf(runit.skip)('edge-recovery schedule run (triggered directly, as the timer would)', () => {
  let m: PracticeMachine;
  let work: string;
  let syslog: SyslogSink;
  let trusted: RootOnlyProfiles;
  /**
   * The practice machine's profile as a schedule needs it: a copy only root can change (the machine's own is in its
   * temp folder under /tmp, untrusted input that `schedule run` refuses).
   */
  let profile: string;

  beforeAll(async () => {
    m = await startPracticeMachine();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-run-'));
    syslog = await startSyslogSink();
    trusted = await rootOnlyProfiles('schedule-run');
    profile = await trusted.put('eds-practice.json', await fsp.readFile(m.profilePath, 'utf8'));
  });
  afterAll(async () => {
    await trusted?.remove();
    await syslog?.stop();
    await m?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it(
    'postpones while a pre-check fails without stopping the service, then backs up and applies retention by class',
    { timeout: 400_000 },
    async () => {
      const stick = path.join(work, 'stick');
      const state = path.join(work, 'state');
      const base = ['--profile', profile, '--root', m.root, '--to', stick, '--device-id', 'box', '--state-dir', state];
      // Two manual backups by a technician.
      for (let i = 0; i < 2; i++) {
        const r = await runCli(['backup', ...base, '--yes']);
        expect(r.code, r.stderr).toBe(0);
      }
      const manual = await sets(stick, 'box');
      expect(manual).toHaveLength(2);
      const dev = path.join(stick, 'EdgeRecovery', 'box');
      const day = 86_400_000;
      const old = await fakeSet(
        path.join(dev, manual[1]!),
        'Backup_eds-practice_20240101_0230Z',
        'automatic',
        new Date(Date.now() - 400 * day),
        state,
      );
      const oldManual = await fakeSet(
        path.join(dev, manual[1]!),
        'Backup_eds-practice_20240102_0230Z',
        'manual',
        new Date(Date.now() - 500 * day),
        state,
      );
      const auto1 = await fakeSet(
        path.join(dev, manual[1]!),
        'Backup_eds-practice_20990101_0001Z_a1',
        'automatic',
        new Date(Date.now() - 1 * day),
        state,
      );
      const auto2 = await fakeSet(
        path.join(dev, manual[1]!),
        'Backup_eds-practice_20990101_0001Z_a2',
        'automatic',
        new Date(Date.now() - 2 * day),
        state,
      );
      const unfinished = path.join(dev, 'Backup_eds-practice_20250101_0000Z');
      await fsp.mkdir(unfinished);
      await fsp.writeFile(path.join(unfinished, 'data.tar.gz.partial'), 'x');
      await recordSetStarted(state, unfinished, 'eds-practice');

      await setTransactions(m, 3);
      const pidBefore = svPid(m.serviceDir);
      const run = startScheduledRun(
        [...base, '--keep', '2', '--max-age', '180d', '--retry-every', '1s', '--give-up-after', '5m', '--json'],
        { EDGE_RECOVERY_SYSLOG_SOCKET: syslog.socket },
      );
      const postponements = () =>
        jsonEvents(run.out()).filter((e) => e.type === 'log' && String(e.message).startsWith('Postponed'));
      await until(() => postponements().length >= 3, 60_000, 'three postponements');
      // While the check fails: the service runs on (same pid), no backup was started.
      expect(svPid(m.serviceDir)).toBe(pidBefore);
      expect(
        jsonEvents(run.out()).some((e) => e.type === 'step' && (e.step as { id: string }).id === 'stop-service'),
      ).toBe(false);
      expect(String(postponements()[0]!.message)).toMatch(/No running transactions.*The service was not stopped/);

      await setTransactions(m, 0);
      const code = await run.done;
      expect(code, run.err() + run.out()).toBe(0);
      const summary = jsonEvents(run.out()).find((e) => e.type === 'scheduled-run')!;
      expect(summary.outcome).toBe('verified');
      expect(summary.postponed).toBeGreaterThanOrEqual(3);
      const setDir = summary.setDir as string;
      const manifest = JSON.parse(await fsp.readFile(path.join(setDir, 'manifest.json'), 'utf8'));
      expect(manifest.class).toBe('automatic');
      // Retention ran after the new backup verified, by class, and said what it removed and why.
      const removed = summary.removed as Array<{ dir: string; reason: string }>;
      expect(removed.map((r) => r.dir).sort()).toEqual([auto2, old, unfinished].sort());
      // Engineer "safety"'s rule: an interrupted set is debris once a newer backup verified.
      expect(removed.find((r) => r.dir === unfinished)!.reason).toMatch(/unfinished/);
      expect(removed.find((r) => r.dir === old)!.reason).toMatch(/older than 180 days/);
      expect(removed.find((r) => r.dir === auto2)!.reason).toMatch(/2 newest automatic/);
      const left = await sets(stick, 'box');
      expect(left).toEqual([...manual, path.basename(oldManual), path.basename(auto1), path.basename(setDir)].sort());
      expect(svPid(m.serviceDir)).not.toBe(pidBefore); // stopped for the copy, and started again
      // One line in the journal (through logger's socket), tagged edge-recovery.
      await until(async () => (await syslog.lines()).some((l) => l.includes('verified')), 5000, 'the syslog line');
      const line = (await syslog.lines()).find((l) => l.includes('verified'))!;
      expect(line).toMatch(
        /^<29>.* edge-recovery(\[\d+\])?: scheduled backup eds-practice: verified after \d+ postponements: /,
      );
      // The list marks manual and automatic backups.
      const list = JSON.parse((await runCli(['list', stick, '--json'])).stdout);
      const byName = new Map<string, string>(
        list[0].backups.map((b: { path: string; class: string }) => [path.basename(b.path), b.class]),
      );
      expect(byName.get(path.basename(setDir))).toBe('automatic');
      expect(byName.get(manual[0]!)).toBe('manual');
      // status and schedule status say when and where the last verified backup was made.
      const asked = Date.now();
      const st = await runCli(['status', '--state-dir', state]);
      const age = ageWordsBetween(manifest.createdAt, asked, Date.now());
      expect(st.stdout).toMatch(
        new RegExp(`Last verified backup of this device: .*${age}, automatic, eds-practice\\) at ${setDir}`),
      );
      const ss = JSON.parse(
        (
          await runCli([
            'schedule',
            'status',
            '--profile',
            profile,
            '--state-dir',
            state,
            '--scheduler',
            'cron',
            '--install-root',
            work,
            '--json',
          ])
        ).stdout,
      );
      expect(ss.lastBackup).toMatchObject({ setDir, class: 'automatic', stale: false, present: true });
      expect(ss.lastRuns.at(-1)).toMatchObject({ outcome: 'verified' });
    },
  );

  it('reports a run as missed when the pre-check still fails at the deadline, and never stops the service', async () => {
    const stick = path.join(work, 'stick-missed');
    const state = path.join(work, 'state-missed');
    await setTransactions(m, 1);
    const pid = svPid(m.serviceDir);
    try {
      const run = startScheduledRun(
        [
          '--profile',
          profile,
          '--root',
          m.root,
          '--to',
          stick,
          '--state-dir',
          state,
          '--retry-every',
          '1s',
          '--give-up-after',
          '3s',
        ],
        { EDGE_RECOVERY_SYSLOG_SOCKET: syslog.socket },
      );
      const code = await run.done;
      expect(code).toBe(4);
      expect(run.out()).toMatch(
        /scheduled backup eds-practice: missed after \d+ postponements?: the pre-check still failed after 3s/,
      );
      expect(svPid(m.serviceDir)).toBe(pid);
      expect(await sets(stick, 'box')).toEqual([]);
      await until(async () => (await syslog.lines()).some((l) => l.includes(': missed')), 5000, 'the missed line');
      expect((await syslog.lines()).find((l) => l.includes(': missed'))).toMatch(/^<28>/); // daemon.warning
    } finally {
      await setTransactions(m, 0);
    }
  });
});
