import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreJournal } from '../../src-main/engine/restore/journal.js';
import { describeMachineState } from '../../src-main/engine/restore/status.js';
import { jsonEvents, runCli } from '../helpers/cli.js';

/**
 * A rollback says what it will do before it does it. A restore killed after it stopped the service but before its
 * swap set no folder aside, yet the rollback's folder step said "rename the set-aside folders back" (and the wizard's
 * question listed only "<staging copy> → deleted (if present)"); and for a product stopped by hand (serviceBefore
 * "unknown": it ran) the service step said "Leave it stopped" and then had it started again.
 */
describe('rollback of a restore stopped before its swap', () => {
  let work: string;
  let events: Array<Record<string, unknown>>;
  let code: number;
  let status: Awaited<ReturnType<typeof runCli>>;
  let declined: string;
  let backupSummaries: string[];
  let plainBackup: Awaited<ReturnType<typeof runCli>>;
  let noTerminal: Awaited<ReturnType<typeof runCli>>;
  let noTerminalJson: Awaited<ReturnType<typeof runCli>>;
  let noTermState: string;
  let dataBefore: string[];

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-rollback-words-'));
    const data = path.join(work, 'machine', 'Data');
    await fsp.mkdir(data, { recursive: true });
    await fsp.writeFile(path.join(data, 'settings.json'), '{"a":1}\n');
    const stick = path.join(work, 'stick');
    await fsp.mkdir(stick);
    const profile = path.join(work, 'profile.json');
    await fsp.writeFile(
      profile,
      JSON.stringify({
        schemaVersion: 1,
        id: 'rollback-words',
        productName: 'Rollback words product',
        platform: 'linux',
        service: { manager: 'none', name: 'rollback-words', stopTimeoutSeconds: 5, startTimeoutSeconds: 5 },
        items: [{ id: 'Data', path: data, required: true }],
        ownership: { user: 'root', group: 'root', dirMode: '755', fileMode: '644' },
        credentials: [],
        prechecks: [],
        version: { policy: 'any', significantParts: 3 },
      }),
    );
    const env = { EDGE_RECOVERY_STATE_DIR: path.join(work, 'state'), EDGE_RECOVERY_NOTE_DIR: path.join(work, 'note') };
    const b = await runCli(
      ['backup', '--profile', profile, '--allow-profile-commands', '--to', stick, '--yes', '--json'],
      { env },
    );
    expect(b.code, b.stderr).toBe(0);
    const fin = jsonEvents(b.stdout).find((e) => e.type === 'finished') as { result: { setDir: string } };
    backupSummaries = jsonEvents(b.stdout)
      .filter((e) => e.type === 'step')
      .map((e) => (e.step as { summary?: string }).summary ?? '');
    const r = await runCli(['restore', fin.result.setDir, '--profile', profile, '--allow-profile-commands', '--yes'], {
      env: { ...env, EDGE_RECOVERY_CRASH_AT: 'stop:stopped' },
    });
    expect(r.signal).toBe('SIGKILL');
    const rb = await runCli(['rollback', '--yes', '--json'], { env });
    code = rb.code;
    events = jsonEvents(rb.stdout);
    // Again, killed once its folder is set aside (the service stopped by the restore, not started again).
    const r2 = await runCli(['restore', fin.result.setDir, '--profile', profile, '--allow-profile-commands', '--yes'], {
      env: { ...env, EDGE_RECOVERY_CRASH_AT: 'renamed:set-aside:Data' },
    });
    expect(r2.signal).toBe('SIGKILL');
    status = await runCli(['status'], { env });
    // The same journal as if the technician had declined the swap (the runner's message ends in a full stop).
    const j = JSON.parse(
      await fsp.readFile(path.join(work, 'state', 'restore-journal.json'), 'utf8'),
    ) as RestoreJournal;
    j.status = 'failed';
    j.steps['swap'] = {
      state: 'failed',
      error: { code: 'DECLINED', message: '"Set the current folders aside" was not confirmed, so it was not done.' },
    } as RestoreJournal['steps'][string];
    declined = describeMachineState(j);
    const rb2 = await runCli(['rollback', '--yes'], { env });
    expect(rb2.code, rb2.stderr).toBe(0);
    plainBackup = await runCli(['backup', '--profile', profile, '--allow-profile-commands', '--to', stick, '--yes'], {
      env,
    });
    expect(plainBackup.code, plainBackup.stderr).toBe(0);
    // Without a terminal and without --yes: refused at the start, not stopped once the backup is unpacked. Its own
    // state folder, to see that nothing is written there (no lock, no journal).
    noTermState = path.join(work, 'state-no-terminal');
    dataBefore = await fsp.readdir(path.dirname(data));
    const noTermEnv = { ...env, EDGE_RECOVERY_STATE_DIR: noTermState };
    noTerminal = await runCli(['restore', fin.result.setDir, '--profile', profile, '--allow-profile-commands'], {
      env: noTermEnv,
    });
    noTerminalJson = await runCli(
      ['restore', fin.result.setDir, '--profile', profile, '--allow-profile-commands', '--json'],
      { env: noTermEnv },
    );
  }, 300_000);

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  const explained = (id: string): string => {
    const plan = events.find((e) => e.type === 'plan') as { steps: Array<{ id: string; explain: string }> };
    return plan.steps.find((s) => s.id === id)!.explain;
  };

  it('says the folders in use stay, not that set-aside folders are renamed back', () => {
    expect(code).toBe(0);
    const text = explained('rollback-folders');
    expect(text).not.toMatch(/rename the set-aside folders back/);
    expect(text).toMatch(/never set a folder aside: .*Data stay as they are; only the staging copies/);
  });

  it('says the service stopped by hand is started again, as the step then does', () => {
    const text = explained('rollback-service');
    expect(text).toMatch(/^Start .* again, as it ran before the restore\.$/);
    const done = events.find(
      (e) =>
        e.type === 'step' &&
        (e.step as { id: string; state: string }).id === 'rollback-service' &&
        (e.step as { state: string }).state === 'done',
    ) as { step: { summary: string } };
    expect(done.step.summary).toMatch(/started again by hand/);
  });

  it('status says the product is down now, not only how it was before (nor "was unknown")', () => {
    expect(status.code).toBe(4);
    expect(status.stdout).toContain(
      'The service was stopped by hand for the restore and is not running now: resume or roll back to bring it back.',
    );
    expect(status.stdout).not.toContain('was unknown');
  });

  it('a declined step is said once, with one full stop', () => {
    expect(declined).toContain(
      'The restore stopped at "Set the current folders aside and move the restored ones in": it was not confirmed, so it was not done. The service was',
    );
    expect(declined).not.toContain('..');
  });

  it('a one-file backup and its restore say "1 file", not "1 files"', () => {
    const said = [...backupSummaries, status.stdout, plainBackup.stdout, plainBackup.stderr].join('\n');
    expect(said).toContain('Folders found: 1 file,');
    expect(said).toContain('The 1 file read back from the medium matches its checksum.');
    expect(said).toContain('1 file (8 bytes) to unpack and check');
    expect(said).toContain('Unpacked 1 file (8 bytes)');
    expect(said).toMatch(/Wrote 1 file, \d+ bytes \(1 file, 8 bytes of data\)/);
    expect(said).toMatch(/device \S+, 1 file, 8 bytes, 1 part/);
    expect(said).not.toMatch(/\b1 (files|paths)\b/);
  });

  it('a restore without a terminal (or with --json) and without --yes is refused up front (exit 2), changing nothing', async () => {
    for (const [r, who] of [
      [noTerminal, 'There is no terminal to ask on'],
      [noTerminalJson, 'With --json nobody is asked'],
    ] as const) {
      expect(r.code, r.stderr).toBe(2);
      // --json says it as its error line on stdout, the terminal as "Error: … What to do: …" on stderr.
      const said = r === noTerminalJson ? JSON.stringify(jsonEvents(r.stdout)) : r.stderr;
      expect(said).toContain(`${who} and --yes was not given`);
      expect(said).toMatch(/Add --yes to go ahead without questions.*or run the command in a terminal/);
      // Refused before the first step: nothing checked, unpacked or asked.
      expect(r.stdout + r.stderr).not.toContain('Check the backup');
    }
    expect(jsonEvents(noTerminalJson.stdout).map((e) => e.type)).toEqual(['error']);
    // No lock, no journal, no remembered ticket: the state folder was never made; no staging copy beside the data.
    await expect(fsp.stat(noTermState)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fsp.readdir(path.join(work, 'machine'))).toEqual(dataBefore);
  });
});
