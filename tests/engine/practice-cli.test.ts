import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * `edge-recovery practice` (Edge Data Store, the default stand-in) from the CLI, as a newcomer runs it: the whole
 * backup and restore on the practice appliances, exit 0, the report written and named; `--keep` keeps the
 * sandbox (appliances stopped) for inspection, without it the sandbox is gone.
 */
describe('edge-recovery practice (Edge Data Store) from the CLI', () => {
  let base: string;
  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-practice-cli-'));
  });
  afterAll(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('--yes --keep exits 0, writes the report it names, keeps the sandbox with the backup on its stick and stops the appliances', async () => {
    const dir = path.join(base, 'keep');
    await fsp.mkdir(dir);
    const r = await runCli(['practice', '--yes', '--keep', '--dir', dir]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    // Counts in words: "2 open item(s)" before.
    expect(r.stdout).toMatch(/^Practice complete, with 2 open items: /m);
    expect(r.stdout).not.toMatch(/[a-z]\(s\)/);

    // One line, folder by folder (the stick's copy, then this machine's), the file names after each folder.
    const line = /^\s+report written (.+)$/m.exec(r.stdout)?.[1] ?? '';
    const reports = [...line.matchAll(/(?:beside the backup|on this machine) in (\S+): ([^;]+)/g)].flatMap((m) =>
      m[2]!.split(', ').map((n) => path.join(m[1]!, n)),
    );
    expect(reports.length).toBeGreaterThanOrEqual(4);
    expect(reports.some((p) => p.endsWith('.html'))).toBe(true);
    expect(reports.some((p) => p.endsWith('.json'))).toBe(true);
    for (const p of reports) expect(existsSync(p), p).toBe(true);
    const json = JSON.parse(await fsp.readFile(reports.find((p) => p.endsWith('.json'))!, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(json)).toMatch(/Edge Data Store/);

    const kept = /^Kept for inspection: (\S+)$/m.exec(r.stdout)?.[1];
    expect(kept).toBeDefined();
    expect(kept!.startsWith(dir)).toBe(true);
    const setDir = /^Backup: (\S+)$/m.exec(r.stdout)?.[1];
    expect(setDir).toBeDefined();
    expect(setDir!.startsWith(path.join(kept!, 'stick'))).toBe(true);
    expect(existsSync(path.join(setDir!, 'manifest.json'))).toBe(true);
    expect(existsSync(path.join(setDir!, 'SHA256SUMS'))).toBe(true);

    // The practice backup restored with a built-in profile is refused (its profile is "eds-practice", a file of the
    // sandbox); what to do names a --profile the CLI takes (it said 'the profile "eds-practice"', not an id of ours).
    const wrong = await runCli([
      'restore',
      setDir!,
      '--profile',
      'eds-linux',
      '--yes',
      '--state-dir',
      path.join(dir, 's1'),
    ]);
    expect(wrong.code, wrong.stderr.slice(-2000)).toBe(4);
    expect(wrong.stderr).toContain(
      'The backup was made with the profile "eds-practice", but this restore uses "eds-linux".',
    );
    const todo = /^What to do: .*\((--profile \S+ --root \S+ --allow-profile-commands)\b/m.exec(wrong.stderr)?.[1];
    expect(todo, wrong.stderr.slice(-1000)).toBe(
      `--profile ${path.join(kept!, 'replacement', 'profile.json')} --root ${path.join(kept!, 'replacement', 'root')} --allow-profile-commands`,
    );
    // The kept appliances are stopped: the version is not known, and the refusal says the API was asked and did not
    // answer (it said "asked nowhere").
    const stopped = await runCli([
      'restore',
      setDir!,
      ...todo!.split(' '),
      '--allow-other-device',
      '--yes',
      '--state-dir',
      path.join(dir, 's3'),
    ]);
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(4);
    expect(stopped.stderr).toMatch(
      /is installed \(asked the product API, which did not answer\); the backup was made on /,
    );
    expect(stopped.stderr).toMatch(/What to do: Start the product so its API answers/);
    // Given as said, the restore gets past its compatibility check (profile included): killed at the next step's
    // start, before anything is changed (the appliance is stopped, so its version is taken as given).
    const given = await runCli(
      ['restore', setDir!, ...todo!.split(' '), '--allow-other-device', '--allow-version-mismatch', '--yes'].concat([
        '--state-dir',
        path.join(dir, 's2'),
      ]),
      { env: { EDGE_RECOVERY_CRASH_AT: 'before-journal:step-start:prechecks' } },
    );
    expect(given.signal, given.stderr.slice(-2000)).toBe('SIGKILL');
    expect(given.stderr).toMatch(/\[x\] Check the backup fits this machine/);

    // status of the kept sandbox says what the journal knows, not that the (now stopped) service runs.
    const st = await runCli(['status', '--state-dir', path.join(kept!, 'state')]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(
      /The restore finished at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: the restored folders were put in place and the service was started\./,
    );
    expect(st.stdout).not.toMatch(/the service runs/);

    // Both practice appliances were stopped: their APIs no longer answer.
    const ports = [...r.stdout.matchAll(/API on port (\d+)/g)].map((m) => Number(m[1]));
    expect(ports).toHaveLength(2);
    for (const port of ports) {
      await expect(
        fetch(`http://127.0.0.1:${port}/api/v1/diagnostics/productinformation`, { signal: AbortSignal.timeout(3000) }),
      ).rejects.toThrow();
    }
  }, 240_000);

  it('--json keeps stdout to JSON lines (the words for a person go to stderr)', async () => {
    const dir = path.join(base, 'json');
    await fsp.mkdir(dir);
    const r = await runCli(['practice', '--yes', '--json', '--dir', dir]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    // It wrote "Setting up the practice appliances…", the sandbox's paths and "Practice complete" among them.
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    const finished = lines.map((l) => JSON.parse(l) as { type: string }).filter((e) => e.type === 'finished');
    expect(finished).toHaveLength(2);
    expect(r.stderr).toMatch(/^Practice sandbox: /m);
    expect(r.stderr).toMatch(/^Practice complete/m);
  }, 240_000);

  it('without --keep exits 0 and removes the sandbox', async () => {
    const dir = path.join(base, 'gone');
    await fsp.mkdir(dir);
    const r = await runCli(['practice', '--yes', '--dir', dir]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toMatch(/^Practice complete/m);
    expect(r.stdout).toMatch(/The practice sandbox \(its stick, the backup and the reports\) was removed/);
    expect(await fsp.readdir(dir)).toEqual([]);
    // The closing summary names no file of the removed sandbox (it listed the backup, the journal and six reports).
    const summary = r.stdout.slice(r.stdout.indexOf('Practice complete'));
    expect(summary).not.toContain(dir);
  }, 240_000);
});
