import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/** What the command line says to a technician who mistyped something: what is wrong, what to do, the exit code. */
describe('command-line words on bad input', () => {
  let work: string;
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-cli-words-'));
  });
  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('list of a path that does not exist says so and fails, instead of "No backups under" with exit 0', async () => {
    const missing = path.join(work, 'media', 'STICK');
    const r = await runCli(['list', missing]);
    expect(r.stdout).not.toContain('No backups under');
    expect(r.stderr).toContain(`There is no folder ${missing}`);
    expect(r.stderr).toMatch(/What to do: Check the stick is plugged in and mounted/);
    expect(r.code).toBe(1);
    // An empty folder that exists still just has no backups.
    const empty = path.join(work, 'empty');
    await fsp.mkdir(empty);
    const e = await runCli(['list', empty]);
    expect(e.stdout).toContain(`No backups under ${empty}.`);
    expect(e.code).toBe(0);
  });

  it('status names the whole command for what a finished restore left open, the state folder inside it; of a kept practice, that its appliances were stopped', async () => {
    const dir = path.join(work, 'practice');
    await fsp.mkdir(dir);
    const p = await runCli(['practice', '--yes', '--keep', '--dir', dir]);
    expect(p.code, p.stderr).toBe(0);
    // Without a terminal, no progress line at a step's very start ("starting: 0 bytes, 0 files") nor a file count
    // that reads "0/8 files" at 100% above "Unpacked 8 files": these steps take less than the 5 s between lines.
    expect(p.stderr).not.toMatch(/^ {2}[a-z ]+: .*B\/s/m);
    const [sandbox] = await fsp.readdir(dir);
    const state = path.join(dir, sandbox!, 'state');
    expect(p.stdout).toContain(`What it shows now: edge-recovery status --state-dir ${state}\n`);
    // The kept practice's appliances were stopped at its end: status said "enter them with edge-recovery
    // credentials", which could only fail ("The appliance API … refused the connection").
    const kept = await runCli(['status', '--state-dir', state]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain(
      `This is a practice sandbox kept with --keep (${path.join(dir, sandbox!)}): its practice appliances were stopped when the practice ended, so nothing runs and nothing can be sent to them.`,
    );
    expect(kept.stdout).toContain(
      'Credentials not entered: Periodic egress endpoints: ToAdh; Periodic egress endpoints: ToPiWebApi: they are entered through the running product, and this practice appliance was stopped. To practise entering them, run edge-recovery practice again in a terminal',
    );
    expect(kept.stdout).not.toContain('edge-recovery credentials');
    expect(kept.stdout).toContain(`delete them with edge-recovery finish --state-dir ${state}\n`);
    // And credentials given in a file are refused up front, saying so (it said the appliance API refused the connection).
    const creds = path.join(work, 'practice-creds.json');
    await fsp.writeFile(creds, JSON.stringify({ ToAdh: { ClientSecret: 'x' } }), { mode: 0o600 });
    const c = await runCli(['credentials', '--credentials-file', creds, '--state-dir', state]);
    expect(c.code, c.stderr).toBe(2);
    expect(c.stderr).toContain('Error: This is a practice sandbox kept with --keep');
    expect(c.stderr).toContain('What to do: To practise entering credentials, run edge-recovery practice again');
    expect(c.stderr).not.toContain('refused the connection');
    // The same finished restore on a machine whose product runs (no practice note): the command to enter them.
    await fsp.rm(path.join(state, 'practice-kept.json'));
    const r = await runCli(['status', '--state-dir', state]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('practice sandbox');
    const todo = r.stdout.slice(r.stdout.indexOf('Left to do:'));
    // Both open credentials on one line, then the command to enter them with its --state-dir, not after a ")".
    expect(todo).toContain(
      `Credentials not entered: Periodic egress endpoints: ToAdh; Periodic egress endpoints: ToPiWebApi: enter them with edge-recovery credentials --state-dir ${state}\n`,
    );
    expect(todo).not.toContain(') --state-dir');
    expect(todo).toContain(`delete them with edge-recovery finish --state-dir ${state}\n`);
    // list names its columns (the times are UTC), one header per device.
    const l = await runCli(['list', path.join(dir, sandbox!, 'stick')]);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/^ {2}MADE \(UTC\) +PROFILE +VERSION +SIZE +DATA +CLASS +FOLDER$/m);
    expect(l.stdout).toMatch(
      /^ {2}\d{4}-\d\d-\d\d \d\d:\d\d +eds-practice +1\.1\.1\.46 .* plain +manual +Backup_eds-practice_/m,
    );
  });

  it('practice of an unknown product names every practice there is, the default Edge Data Store one too', async () => {
    const r = await runCli(['practice', 'eds-linxu', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('There is no practice for "eds-linxu".');
    // It said Edge Data Store's practice was in the wizard only, while `edge-recovery practice` runs it here.
    expect(r.stderr).toMatch(
      /What to do: Practice exists for: eds-practice \(Edge Data Store, the default: edge-recovery practice\), /,
    );
    expect(r.stderr).not.toContain('in the wizard');
  });

  it('practice without a terminal (or with --json) and without --yes is refused before anything is set up (exit 2)', async () => {
    for (const [args, who] of [
      [['practice'], 'There is no terminal to ask on'],
      [['practice', 'evc-edge', '--json'], 'With --json nobody is asked'],
    ] as const) {
      const dir = path.join(work, `practice-no-yes-${args.length}`);
      const r = await runCli([...args, '--dir', dir]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr + r.stdout).toContain(
        `${who} and --yes was not given: the practice would stop at its first question`,
      );
      expect(r.stderr + r.stdout).toContain('Add --yes to go ahead without questions');
      // It set up both appliances, backed up up to "Stop the service" and stopped there (exit 5).
      expect(r.stderr + r.stdout).not.toMatch(/Setting up|Pre-checks/);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it('practice --dir given a file or a device says what it is (exit 2), before any appliance is set up', async () => {
    for (const [args, kind] of [
      [['practice', '--yes', '--dir', '/etc/passwd'], 'a regular file'],
      [['practice', 'opencrvs', '--yes', '--dir', '/dev/null'], 'a character device'],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(
        `is not a folder to make the practice sandbox in: it is ${kind}. Nothing was read or changed.`,
      );
      // It said "Error: EEXIST: file already exists, mkdir '/etc/passwd'" (exit 1), after "Setting up …".
      expect(r.stderr + r.stdout).not.toMatch(/EEXIST|ENOTDIR|Setting up/);
    }
  });

  it('rollback, resume, finish, credentials and status with a --state-dir that does not exist say so and make no folder', async () => {
    for (const cmd of ['rollback', 'resume', 'finish', 'credentials']) {
      const typo = path.join(work, `state-typo-${cmd}`);
      const r = await runCli([cmd, ...(cmd === 'credentials' ? [] : ['--yes']), '--state-dir', typo]);
      expect(r.code, cmd).toBe(1);
      expect(r.stderr, cmd).toContain(`No restore was ever run with the state folder ${typo}: it does not exist.`);
      expect(r.stderr, cmd).toContain('What to do: If the restore was started with --state-dir, pass the same');
      // The job lock made the folder and its job.lock before the refusal.
      expect(existsSync(typo), cmd).toBe(false);
    }
    // status said only "No unfinished restore.", as if this machine had none.
    const typo = path.join(work, 'state-typo-status');
    const st = await runCli(['status', '--state-dir', typo]);
    expect(st.code).toBe(0);
    expect(st.stdout).toContain(
      `No unfinished restore. No restore was ever run with the state folder ${typo}: it does not exist. If the restore was started with --state-dir, give the same one.`,
    );
    expect(existsSync(typo)).toBe(false);
    // A file given as the state folder: said so (exit 2), not "Error: ENOTDIR: not a directory, open …" (exit 1).
    for (const args of [['status'], ['status', '--json']]) {
      const file = await runCli([...args, '--state-dir', '/etc/passwd']);
      expect(file.code, file.stderr).toBe(2);
      expect(file.stderr + file.stdout).toContain(
        'The state folder /etc/passwd is not a folder, so it holds no restore journal. Nothing was read or changed.',
      );
      expect(file.stderr + file.stdout).not.toMatch(/ENOTDIR/);
    }
  });

  it('help says what every option is for, and no "(default: {})" or "(default: [])"', async () => {
    for (const cmd of ['status', 'resume', 'rollback', 'serve', 'backup']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      // An option line whose text starts with "(env: …)" had no description at all.
      expect(r.stdout, cmd).not.toMatch(/^\s+--state-dir <dir>\s+\(env:/m);
      expect(r.stdout, cmd).not.toMatch(/\(default: (\{\}|\[\])\)/);
    }
    const b = await runCli(['backup', '--help']);
    expect(b.stdout).toMatch(/--folder <id=path>\s+back up this folder instead/);
  });

  it('a folder holding two hand-made archives lists them without a stray " ,", and calls them backups, not folders', async () => {
    const dir = path.join(work, 'two-archives');
    await fsp.mkdir(path.join(dir, 'src', 'Configuration'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'src', 'Configuration', 'a.json'), '{}\n');
    for (const name of ['one.tar', 'two.tar']) {
      const t = spawnSync('tar', ['-cf', path.join(dir, name), '-C', path.join(dir, 'src'), 'Configuration']);
      expect(t.status).toBe(0);
    }
    await fsp.rm(path.join(dir, 'src'), { recursive: true });
    const r = await runCli(['verify', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${dir} is not one backup; it holds 2 backups:`);
    expect(r.stderr).not.toContain(' ,');
    expect(r.stderr).toContain('What to do: Run the command again with one of these backups');
  });

  it("backup's --keep says that older backups are deleted", async () => {
    const r = await runCli(['backup', '--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(
      'once this one is verified, older ones beyond n that this machine wrote are deleted',
    );
  });

  it('backup refuses an --include or --exclude the profile has no folder for, before anything runs', async () => {
    const state = path.join(work, 'include-state');
    const r = await runCli([
      'backup',
      '--profile',
      'eds-linux',
      '--to',
      path.join(work, 'include-stick'),
      '--include',
      'Log',
      '--yes',
      '--state-dir',
      state,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('The profile "eds-linux" has no folder "Log" (--include). Nothing was changed.');
    expect(r.stderr).toMatch(/What to do: Its optional folders: .*Logs/);
    // Refused before the pre-checks (which would have said the product's folders are missing here).
    expect(r.stderr).not.toContain('Pre-checks');
    expect(existsSync(path.join(work, 'include-stick'))).toBe(false);
    const x = await runCli([
      'backup',
      '--profile',
      'eds-linux',
      '--to',
      path.join(work, 'include-stick'),
      '--exclude',
      'Certs',
      '--yes',
      '--state-dir',
      state,
    ]);
    expect(x.code).toBe(2);
    expect(x.stderr).toContain('has no folder "Certs" (--exclude)');
  });

  it('RESTORE.txt numbers its steps without a gap, names the decrypted copy to remove, and lines up its file list', async () => {
    const data = path.join(work, 'rt', 'Data');
    await fsp.mkdir(data, { recursive: true });
    await fsp.writeFile(path.join(data, 'a.json'), '{}\n');
    const profile = path.join(work, 'rt', 'profile.json');
    await fsp.writeFile(
      profile,
      JSON.stringify({
        schemaVersion: 1,
        id: 'rt-words',
        productName: 'RESTORE.txt words',
        platform: 'linux',
        service: { manager: 'none', name: 'rt-words' },
        items: [{ id: 'Data', path: data, required: true }],
        ownership: { user: 'root', group: 'root', dirMode: '755', fileMode: '644' },
        credentials: [],
        version: { policy: 'any' },
      }),
    );
    const pass = path.join(work, 'rt', 'pass');
    await fsp.writeFile(pass, 'correct horse battery staple', { mode: 0o600 });
    const stick = path.join(work, 'rt', 'stick');
    const b = await runCli(
      [
        'backup',
        '--profile',
        profile,
        '--allow-profile-commands',
        '--to',
        stick,
        '--encrypt',
        '--passphrase-file',
        pass,
        '--device-id',
        'box',
        '--yes',
      ],
      { env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_STATE_DIR: path.join(work, 'rt', 'state') } },
    );
    expect(b.code, b.stderr).toBe(0);
    const [set] = await fsp.readdir(path.join(stick, 'EdgeRecovery', 'box'));
    const text = await fsp.readFile(path.join(stick, 'EdgeRecovery', 'box', set!, 'RESTORE.txt'), 'utf8');
    const steps = [...text.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]));
    // No credentials: 1 to 9, not 1 to 8 and then 10.
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(text).toMatch(
      /^9\. When the product runs .* and restore-tmp, and the decrypted copy \/var\/tmp\/data\.tar\.gz\.$/m,
    );
    // The descriptions start in one column.
    const list = text
      .slice(text.indexOf('Files in this folder\n') + 21)
      .split('\n\n')[0]!
      .split('\n');
    expect(list).toHaveLength(4);
    const cols = list.map((l) => /^ {2}\S+ {2,}/.exec(l)![0].length);
    expect(new Set(cols).size).toBe(1);
  });

  it('profiles marks optional folders and says what a profile without folders backs up', async () => {
    const r = await runCli(['profiles']);
    expect(r.code).toBe(0);
    const line = (id: string) => r.stdout.split('\n').find((l) => l.startsWith(`${id} `))!;
    expect(line('eds-linux')).toContain('/usr/share/OSIsoft/EdgeDataStore/Logs (optional, off unless --include)');
    expect(line('eds-linux')).toContain('/usr/share/OSIsoft/EdgeDataStore/*/Certificates (optional)');
    expect(line('eds-linux')).toMatch(/EdgeDataStore\/Configuration, /);
    expect(line('evc-edge')).toMatch(/none: the product's own backup, through its steps$/);
  });
});
