import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackupJournal } from '../../src-main/engine/backup/backup-journal.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import type { ServiceControl } from '../../src-main/engine/service/types.js';
import { runCli } from '../helpers/cli.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { requireRunit } from '../helpers/runit.js';

/**
 * Kills a real `edge-recovery backup` process (SIGKILL from its crash points) at every stage where the product
 * is stopped or the set is half-written, then runs some other command: the runit service must run again, the
 * half-written set must never pass for a backup (not with this tool, not with `sha256sum -c`), and once a newer
 * backup has verified no such debris is left on the stick.
 */
const runit = requireRunit();

/** [crash point, the command run afterwards]. Every point is after the service was stopped. */
const POINTS: Array<[string, string]> = [
  ['backup:stopped', 'list'],
  ['backup:archive-mid', 'profiles'],
  ['backup:archived', 'status'],
  ['backup:verify-mid', 'list'],
  ['backup:sums-written', 'verify'],
  ['backup:after-journal:verified', 'status'],
];

describe.skipIf(runit.skip)(`a killed backup${runit.skip ? ` (skipped: ${runit.reason})` : ''}`, () => {
  let m: PracticeMachine;
  let work: string;
  let stick: string;
  let stateDir: string;
  let svc: ServiceControl;

  beforeAll(async () => {
    m = await startPracticeMachine();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'kill-backup-'));
    stick = path.join(work, 'stick');
    stateDir = path.join(work, 'state');
    svc = serviceFor(m.profile.service, { pollMs: 50 });
    // Enough files that the crash points inside archiving and verification are reached mid-way.
    const storage = path.join(m.root, 'usr/share/OSIsoft/EdgeDataStore/Storage/bulk');
    await fsp.mkdir(storage, { recursive: true });
    for (let i = 0; i < 50; i++) await fsp.writeFile(path.join(storage, `f${i}.dat`), `${i}\n`.repeat(100));
  });

  afterAll(async () => {
    await m?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  const backup = (extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
    runCli(
      [
        'backup',
        '--profile',
        m.profilePath,
        '--root',
        m.root,
        '--to',
        stick,
        '--device-id',
        'kill-box',
        '--state-dir',
        stateDir,
        '--yes',
        ...extra,
      ],
      { env },
    );

  const deviceDir = () => path.join(stick, 'EdgeRecovery', 'kill-box');
  // Backup sets only: a finished backup's report (report-backup-*) sits beside them.
  const sets = async () =>
    (await fsp.readdir(deviceDir()).catch(() => [] as string[])).filter((n) => n.startsWith('Backup_')).sort();

  it.each(POINTS)('killed at %s, then "%s" starts the service again', async (at, then) => {
    const before = new Set(await sets());
    const r = await backup([], { EDGE_RECOVERY_CRASH_AT: at });
    expect(r.signal, `${at} was never reached: ${r.stderr}`).toBe('SIGKILL');
    // The kill left the product stopped: exactly the situation to recover from.
    expect((await svc.status()).state).toBe('stopped');
    expect(await readBackupJournal(stateDir)).toMatchObject({ stoppedByUs: true });
    const created = (await sets()).filter((n) => !before.has(n));
    const setDir = created[0] === undefined ? null : path.join(deviceDir(), created[0]);
    const complete = setDir !== null && existsSync(path.join(setDir, 'manifest.json'));
    if (setDir !== null && !complete) {
      // Stock tools agree with this tool: a set without manifest.json does not pass `sha256sum -c`.
      const sums = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: setDir, encoding: 'utf8' });
      expect(sums.status, `${at}: ${sums.stdout}`).not.toBe(0);
    }
    expect(complete).toBe(at === 'backup:after-journal:verified');

    const argv =
      then === 'list'
        ? ['list', stick]
        : then === 'verify'
          ? ['verify', setDir ?? stick]
          : then === 'profiles'
            ? ['profiles']
            : ['status'];
    const next = await runCli(argv, { env: { EDGE_RECOVERY_STATE_DIR: stateDir } });
    expect(next.stderr).toContain('was interrupted');
    expect(next.stderr).toContain('the service was started again and runs');
    expect((await svc.status()).state).toBe('running');
    expect(await readBackupJournal(stateDir)).toBeNull();
    if (then === 'list' && setDir !== null && !complete) {
      expect(next.stdout).toMatch(new RegExp(`INCOMPLETE \\(.*no manifest\\.json.*\\) ${path.basename(setDir)}`));
    }
    if (then === 'verify' && setDir !== null) {
      expect(next.code).toBe(3);
      expect(next.stderr).toMatch(/no manifest\.json/);
    }
  });

  it('leaves no debris once a newer backup has verified, and the service runs', async () => {
    const leftovers = (await sets()).filter((n) => !existsSync(path.join(deviceDir(), n, 'manifest.json')));
    // Every kill from archiving on left a folder (the kill before archiving left none).
    expect(leftovers.length).toBe(4);
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    const after = await sets();
    for (const n of after) expect(existsSync(path.join(deviceDir(), n, 'manifest.json')), n).toBe(true);
    for (const n of leftovers) expect(after).not.toContain(n);
    expect(after.length).toBe(2); // the one that verified before its kill, and the new one
    for (const n of after) execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: path.join(deviceDir(), n) });
    expect((await svc.status()).state).toBe('running');
  });

  it('counts the backup that verified before its kill as its own: retention may remove it like any other', async () => {
    // Killed after manifest.json and the journal's "verified", before the set was recorded: the recovery (the
    // command run after the kill) recorded it, its manifest being the one the journal says was written.
    const before = await sets();
    expect(before.length).toBe(2);
    const r = await backup(['--keep', '1']);
    expect(r.code, r.stderr).toBe(0);
    const after = await sets();
    expect(after.length).toBe(1);
    for (const n of before) expect(after).not.toContain(n);
    expect(r.stdout + r.stderr, r.stdout + r.stderr).not.toMatch(/\(not counted:/);
  });
});
