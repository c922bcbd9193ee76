import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand, jsonEvents, runCli, TSX_IMPORT } from '../helpers/cli.js';
import { Terminal, tmuxSkipReason } from '../helpers/tmux.js';

const skip = tmuxSkipReason();
if (skip) console.warn(`terminal tests skipped: ${skip}`);

const PASS = 'correct horse battery staple';

/** `edge-recovery …` in a real terminal (tmux). */
function terminal(args: string[], env: Record<string, string> = {}): Terminal {
  return new Terminal([process.execPath, ...cliCommand(), ...args], env);
}

describe.skipIf(skip !== null)('edge-recovery prompts in a real terminal', () => {
  let work: string;
  let stick: string;
  let setDir: string;
  let profile: string;
  let noteDir: string;
  const open: Terminal[] = [];

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-prompts-'));
    const data = path.join(work, 'machine', 'Data');
    await fsp.mkdir(path.join(data, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(data, 'settings.json'), '{"a":1}\n');
    await fsp.writeFile(path.join(data, 'sub', 'values.dat'), 'x'.repeat(10_000));
    stick = path.join(work, 'stick');
    await fsp.mkdir(stick);
    noteDir = path.join(work, 'default-state');
    // A product without a service manager (the technician stops it by hand; --yes says it is done).
    profile = path.join(work, 'profile.json');
    await fsp.writeFile(
      profile,
      JSON.stringify({
        schemaVersion: 1,
        id: 'prompt-test',
        productName: 'Prompt test product',
        platform: 'linux',
        service: { manager: 'none', name: 'prompt-test', stopTimeoutSeconds: 5, startTimeoutSeconds: 5 },
        items: [{ id: 'Data', path: data, required: true }],
        ownership: { user: 'root', group: 'root', dirMode: '755', fileMode: '644' },
        credentials: [],
        prechecks: [],
        version: { policy: 'any', significantParts: 3 },
      }),
    );
    const pf = path.join(work, 'pass.txt');
    await fsp.writeFile(pf, PASS);
    const r = await runCli([
      'backup',
      '--profile',
      profile,
      '--allow-profile-commands',
      '--to',
      stick,
      '--passphrase-file',
      pf,
      '--yes',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const fin = jsonEvents(r.stdout).find((e) => e.type === 'finished') as { result: { setDir: string } };
    setDir = fin.result.setDir;
  }, 300_000);

  afterAll(async () => {
    for (const t of open) t.close();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  }, 300_000);

  it('says "unknown option" for a typo, with the one usage line of its command', async () => {
    const r = await runCli(['restore', setDir, '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect(r.stderr).toContain('Usage: edge-recovery restore <backup> --profile <id|file> [options]');
    // Not the whole help.
    expect(r.stderr).not.toContain('--allow-version-mismatch');
    const missing = await runCli(['restore', setDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--profile <id|file>' not specified");
  }, 300_000);

  it('verify and restore pointed at the stick list the backups found there', async () => {
    for (const args of [
      ['verify', stick],
      ['restore', stick, '--profile', profile, '--allow-profile-commands'],
    ]) {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('is not one backup; it holds 1 backup');
      expect(r.stderr).toContain(setDir);
      expect(r.stderr).not.toMatch(/never finished/);
    }
  }, 300_000);

  it('a folder that is no backup is called that, not an interrupted backup; one that is keeps its answer', async () => {
    // An empty folder, and one holding only other things: neither was a backup, so none "was interrupted" and no
    // backup will remove it.
    const plain = path.join(work, 'not-a-backup');
    await fsp.mkdir(path.join(plain, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(plain, 'notes.txt'), 'mine\n');
    for (const dir of [plain, path.join(plain, 'sub')]) {
      const r = await runCli(['verify', dir]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(
        `${dir} is not a backup: it holds no manifest.json and none of the files a backup writes`,
      );
      expect(r.stderr).not.toMatch(/interrupted|removes this folder/);
    }
    // What an interrupted backup leaves (parts, no manifest.json): interrupted, exit 3; named as this tool names
    // its sets, the next backup removes it, and says so; under another name it does not.
    for (const [name, removed] of [
      ['Backup_eds-linux_20261130_1200Z', true],
      ['copied-by-hand', false],
    ] as const) {
      const set = path.join(work, name);
      await fsp.mkdir(set);
      await fsp.writeFile(path.join(set, 'data.tar.gz.001'), 'x');
      const r = await runCli(['verify', set]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('it was interrupted before it was verified');
      expect(r.stderr.includes('The next backup of this device removes this folder')).toBe(removed);
    }
  }, 300_000);

  it('asks the passphrase again after an empty answer and after a wrong one, then verifies', async () => {
    const t = terminal(['verify', setDir], { EDGE_RECOVERY_PASSPHRASE: '' });
    open.push(t);
    await t.waitFor(/Passphrase:/);
    t.type('');
    await t.waitFor(/Nothing was typed/);
    await t.waitFor(/Passphrase:/, 2);
    t.type('not the passphrase');
    await t.waitFor(/does not open this backup \(it is case-sensitive\)\. Try 2 of 3/);
    await t.waitFor(/Passphrase:/, 3);
    t.type(PASS);
    const screen = await t.waitFor(/OK: all \d+ files/);
    expect(await t.exitCode()).toBe(0);
    // Hidden: nothing typed shows on the screen.
    expect(screen).not.toContain(PASS);
    expect(screen).not.toContain('not the passphrase');
  }, 300_000);

  it('stops after three wrong passphrases with exit 3', async () => {
    const t = terminal(['verify', setDir], { EDGE_RECOVERY_PASSPHRASE: '' });
    open.push(t);
    for (let i = 1; i <= 3; i++) {
      await t.waitFor(/Passphrase:/, i);
      t.type(`wrong ${i}`);
    }
    const screen = await t.waitFor(/Error: The passphrase does not open this backup/);
    expect(screen).toContain('Try 3 of 3');
    expect(await t.exitCode()).toBe(3);
  }, 300_000);

  it('never accepts an empty secret at a hidden credentials prompt', async () => {
    const script = path.join(work, 'ask.mts');
    await fsp.writeFile(
      script,
      `import { terminalInteraction } from ${JSON.stringify(path.resolve('src-main/cli/terminal.ts'))};
const v = await terminalInteraction({ yes: false, json: false }).credentials({
  stepId: 'credentials',
  entries: [{ key: 'egress/A', resourceId: 'egress', resourceTitle: 'Egress', entryId: 'A', entryName: 'ToAdh',
    fields: [{ name: 'ClientId', label: 'Client id', secret: false, value: 'c1' }, { name: 'ClientSecret', label: 'Client secret', secret: true }] }],
});
console.log('LENGTH=' + v!['egress/A']!['ClientSecret']!.length + ' ID=' + v!['egress/A']!['ClientId']);
`,
    );
    const t = new Terminal([process.execPath, '--import', TSX_IMPORT, script]);
    open.push(t);
    await t.waitFor(/Client id \[c1\]:/);
    t.type('');
    await t.waitFor(/Client secret \(hidden\):/);
    t.type('');
    await t.waitFor(/Nothing was typed/);
    await t.waitFor(/Client secret \(hidden\):/, 2);
    t.type('s3cret!');
    const screen = await t.waitFor(/LENGTH=\d+/);
    expect(screen).toContain('LENGTH=7 ID=c1');
    expect(screen).not.toContain('s3cret!');
    expect(await t.exitCode()).toBe(0);
  }, 300_000);

  it('status, resume and rollback find a restore started with --state-dir', async () => {
    const stateDir = path.join(work, 'elsewhere-state');
    const env = {
      EDGE_RECOVERY_NOTE_DIR: noteDir,
      EDGE_RECOVERY_PASSPHRASE: PASS,
      EDGE_RECOVERY_CRASH_AT: 'report:before',
    };
    const r = await runCli(
      ['restore', setDir, '--profile', profile, '--allow-profile-commands', '--state-dir', stateDir, '--yes'],
      { env },
    );
    expect(r.code, r.stderr).not.toBe(0);
    const plain = { EDGE_RECOVERY_NOTE_DIR: noteDir, EDGE_RECOVERY_STATE_DIR: '' };
    const st = await runCli(['status'], { env: plain });
    expect(st.stderr).toContain(`Using the state folder ${stateDir}`);
    expect(st.stdout).toContain('Unfinished restore');
    // When it started, as the reports and the finished restore write times (it said 2026-12-01T10:10:30.793Z).
    expect(st.stdout).toMatch(/\), started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.\n/);
    expect(st.stdout).toContain(`edge-recovery rollback --state-dir ${stateDir}`);
    expect(st.code).toBe(4);
    // Rollback and resume follow the same note (this product is stopped by hand, so they stop at that question).
    for (const cmd of ['rollback', 'resume']) {
      const r2 = await runCli([cmd, '--yes'], { env: plain });
      expect(r2.stderr).toContain(`Using the state folder ${stateDir}`);
      expect(r2.stderr).not.toContain('no restore to');
    }
  }, 300_000);
});
