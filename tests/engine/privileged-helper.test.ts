import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv } from '../../src-main/engine/util/child-env.js';
import { HELPER_FLAG } from '../../src-main/host/helper-channel.js';
import { HelperClient } from '../../src-main/host/helper-client.js';
import type { JobEventEnvelope, PracticeView } from '../../src-main/shared/contract.js';
import { helperCommand } from '../../src-main/main/elevate.js';
import { builtFile } from '../helpers/cli.js';

const HELPER = builtFile('helper.js');

describe('the privileged helper command line is fixed', () => {
  it('never carries the GUI process’s own switches to the root process', () => {
    const hostile = ['--inspect=9229', '--remote-debugging-port=9222', '--no-sandbox', '--js-flags=--x', 'evil'];
    const before = process.argv;
    process.argv = [before[0]!, ...hostile];
    try {
      expect(helperCommand({ platform: 'linux', exe: '/opt/Edge Recovery Wizard/edge-recovery-wizard' })).toEqual({
        file: 'pkexec',
        args: ['/opt/Edge Recovery Wizard/edge-recovery-wizard', '--no-sandbox', HELPER_FLAG],
      });
      expect(helperCommand({ platform: 'linux', exe: '/usr/bin/electron', appPath: '/src/app' }).args).toEqual([
        '/usr/bin/electron',
        '/src/app',
        '--no-sandbox',
        HELPER_FLAG,
      ]);
      const win = helperCommand({ platform: 'win32', exe: 'C:\\Apps\\ERW\\erw.exe', pipe: '\\\\.\\pipe\\erw-x' });
      expect(win.file).toBe('powershell.exe');
      expect(win.args.at(-1)).toBe(
        "Start-Process -FilePath 'C:\\Apps\\ERW\\erw.exe' -ArgumentList '--privileged-helper','--pipe=\\\\.\\pipe\\erw-x' -Verb RunAs -WindowStyle Hidden",
      );
      for (const c of [helperCommand({ platform: 'linux', exe: '/x' }), win]) {
        expect(c.args.join(' ')).not.toMatch(/inspect|remote-debugging|js-flags|evil/);
      }
    } finally {
      process.argv = before;
    }
  });
});

/**
 * The single-quoted literals of a PowerShell command line, read as PowerShell reads them: besides ' it takes the
 * typographic single quotes (U+2018 to U+201B) as quotes, and any two of them in a row inside a literal as one
 * (about_Quoting_Rules: "PowerShell treats smart quotation marks … as normal quotation marks for strings").
 */
function psLiterals(command: string): string[] {
  const quote = /['\u2018-\u201b]/;
  const out: string[] = [];
  for (let i = 0; i < command.length; i++) {
    if (!quote.test(command[i]!)) continue;
    let lit = '';
    for (i++; i < command.length; i++) {
      if (quote.test(command[i]!)) {
        if (quote.test(command[i + 1] ?? '')) {
          lit += command[i];
          i++;
          continue;
        }
        break;
      }
      lit += command[i];
    }
    out.push(lit);
  }
  return out;
}

describe('the elevation command on Windows', () => {
  it('passes the program and its arguments as written, typographic quotes included (a user folder O’Brien)', () => {
    // Before: only ' was doubled; the ’ of the user folder ended the literal, so PowerShell read "C:\Users\O" and
    // then the rest as its own code, and the elevation failed for that technician (or ran what the name spelled).
    for (const q of ["'", '\u2018', '\u2019', '\u201a', '\u201b']) {
      const exe = `C:\\Users\\O${q}Brien\\AppData\\Local\\Programs\\ERW\\erw.exe`;
      const appPath = `C:\\src\\it${q}s`;
      const pipe = '\\\\.\\pipe\\erw-x';
      const c = helperCommand({ platform: 'win32', exe, appPath, pipe });
      expect(psLiterals(c.args.at(-1)!), JSON.stringify(q)).toEqual([exe, appPath, HELPER_FLAG, `--pipe=${pipe}`]);
    }
  });
});

describe('the privileged helper serves the contract over stdio', () => {
  let base: string;
  let child: ChildProcess;
  let client: HelperClient;
  const events: JobEventEnvelope[] = [];

  beforeAll(async () => {
    if (!existsSync(HELPER)) throw new Error(`${HELPER} is missing: run "npm run build" first (npm test does)`);
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'helper-'));
    // As pkexec would start it: the fixed arguments, a clean environment (here root already; no pkexec).
    child = spawn(process.execPath, [HELPER, HELPER_FLAG], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: childEnv({ EDGE_RECOVERY_STATE_DIR: path.join(base, 'state'), TMPDIR: base }),
    });
    client = new HelperClient(child.stdout!, child.stdin!);
    client.subscribe((e) => events.push(e));
  });
  afterAll(async () => {
    client?.close();
    if (child && child.exitCode === null) await new Promise((r) => child.once('exit', r));
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('starts with exactly its fixed arguments and answers as the elevated side', async () => {
    const ready = await client.ready;
    expect(ready.pid).toBe(child.pid);
    const cmdline = (await fsp.readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    expect(cmdline).toEqual([process.execPath, HELPER, HELPER_FLAG]);
    const environ = await fsp.readFile(`/proc/${child.pid}/environ`, 'utf8');
    expect(environ).not.toMatch(/NODE_OPTIONS|VITEST/);
    const info = await client.dispatch('app.info', {});
    expect(info).toMatchObject({ ok: true, value: { elevated: process.getuid?.() === 0, shell: 'electron' } });
    // Inputs are validated by the same table as every transport.
    expect(await client.dispatch('fs.readAnything', {})).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    expect(await client.dispatch('profiles.plan', { profileRef: path.join(base, 'x.json') })).toMatchObject({
      ok: false,
      error: { code: 'PROFILE_UNTRUSTED' },
    });
  });

  it('runs a real job through the contract: practice backup with its prompt answered, events relayed', async () => {
    const setup = await client.dispatch('practice.setup', {});
    expect(setup.ok).toBe(true);
    const practice = (setup as { value: PracticeView }).value;
    const started = await client.dispatch('backup.start', {
      profileRef: practice.old.profileRef,
      to: practice.stickDir,
      root: practice.old.root,
    });
    expect(started.ok, JSON.stringify(started)).toBe(true);
    const jobId = (started as { value: { jobId: string } }).value.jobId;
    expect(client.busy || events.length >= 0).toBe(true);
    const answered = new Set<string>();
    const until = Date.now() + 240_000;
    for (;;) {
      const mine = events.filter((e) => e.jobId === jobId);
      const fin = mine.find((e) => e.event.type === 'finished');
      if (fin) {
        expect(fin.event).toMatchObject({ type: 'finished', ok: true });
        break;
      }
      for (const e of mine) {
        if (e.event.type === 'prompt' && !answered.has(e.event.promptId)) {
          answered.add(e.event.promptId);
          const r = await client.dispatch('job.respond', {
            jobId,
            promptId: e.event.promptId,
            answer: { kind: 'confirm', ok: true },
          });
          expect(r).toMatchObject({ ok: true, value: { accepted: true } });
        }
      }
      if (Date.now() > until) throw new Error(`the job did not finish: ${JSON.stringify(mine.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(answered.size).toBeGreaterThan(0);
    expect(events.some((e) => e.jobId === jobId && e.event.type === 'progress')).toBe(true);
    const sets = await fsp.readdir(path.join(practice.stickDir, 'EdgeRecovery'), { recursive: true });
    expect(sets.some((f) => String(f).endsWith('manifest.json'))).toBe(true);
  });
});

describe('the privileged helper takes no folder from the page beyond the profile’s, the sticks and practice', () => {
  let base: string;
  let child: ChildProcess;
  let client: HelperClient;

  beforeAll(async () => {
    if (!existsSync(HELPER)) throw new Error(`${HELPER} is missing: run "npm run build" first (npm test does)`);
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'helper-paths-'));
    child = spawn(process.execPath, [HELPER, HELPER_FLAG], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: childEnv({ EDGE_RECOVERY_STATE_DIR: path.join(base, 'state'), TMPDIR: base }),
    });
    client = new HelperClient(child.stdout!, child.stdin!);
    await client.ready;
  });
  afterAll(async () => {
    client?.close();
    if (child && child.exitCode === null) await new Promise((r) => child.once('exit', r));
    await fsp.rm(base, { recursive: true, force: true });
  });

  const refusedWith = async (name: string, input: unknown, what: RegExp): Promise<void> => {
    const r = await client.dispatch(name, input);
    expect(r, `${name} ${JSON.stringify(input)}`).toMatchObject({ ok: false, error: { code: 'PATH_REFUSED' } });
    expect((r as { error: { message: string } }).error.message).toMatch(what);
  };

  it('a hostile page: root never copies, lists, reads or restores a folder of its choosing, and nothing is written', async () => {
    // What a desktop user could ask root for: /root onto a folder it can read, /etc listed, a set of its own
    // restored into a folder of its choosing.
    const out = path.join(base, 'readable-by-me');
    const planted = path.join(base, 'planted', 'EdgeRecovery', 'dev', 'Backup_eds-linux_20260101_0000Z');
    await fsp.mkdir(out, { recursive: true });
    await fsp.mkdir(planted, { recursive: true });
    await fsp.symlink('/root', path.join(base, 'link-to-root'));
    const ticket = { number: 'INC-1', site: 'S', technician: 'T' };
    await refusedWith(
      'backup.start',
      { profileRef: 'eds-linux', to: out, folders: { Configuration: '/root' }, ticket },
      /does not back up "\/root" as Configuration: the folder "\/root" is a folder where what a restore writes would run with the system's rights/,
    );
    // A backup's folder from the page must be the product account's own (eds-linux: edgedatastore, which this
    // machine does not have): a folder of root's outside the system folders is refused too, through this channel.
    await fsp.mkdir(path.join(base, 'roots-data'));
    await refusedWith(
      'backup.start',
      { profileRef: 'eds-linux', to: out, folders: { Storage: path.join(base, 'roots-data') }, ticket },
      /the product's account "edgedatastore" .* does not exist on this machine.*Nothing was read or changed\.$/,
    );
    await refusedWith(
      'profiles.plan',
      { profileRef: 'eds-linux', folders: { Storage: path.join(base, 'roots-data') } },
      /does not back up .*roots-data" as Storage/,
    );
    await refusedWith(
      'backup.start',
      { profileRef: 'eds-linux', to: out, ticket },
      /writes backups only to a USB stick/,
    );
    await refusedWith('backup.start', { profileRef: 'eds-linux', to: '/etc', root: '/' }, /profile's own folders/);
    await refusedWith(
      'profiles.plan',
      { profileRef: 'eds-linux', folders: { Storage: path.join(base, 'link-to-root') } },
      /\(it leads to \/root\)/,
    );
    await refusedWith('profiles.plan', { profileRef: 'eds-linux', root: '/etc' }, /profile's own folders/);
    await refusedWith('backups.list', { dir: '/etc' }, /reads backups only from a USB stick/);
    await refusedWith('backups.list', { dir: path.join(base, 'link-to-root') }, /it leads to \/root/);
    await refusedWith('verify.start', { backup: planted }, /the backup to verify/);
    await refusedWith(
      'restore.start',
      { profileRef: 'eds-linux', backup: planted, root: path.join(base, 'target'), allowOtherDevice: true, ticket },
      /profile's own folders/,
    );
    await refusedWith('restore.start', { profileRef: 'eds-linux', backup: planted }, /the backup to restore/);
    await refusedWith('mirror.start', { from: '/root', to: out }, /the place to copy backups from/);
    await refusedWith(
      'mirror.start',
      { from: path.dirname(path.dirname(planted)), to: out },
      /the place to copy backups from/,
    );
    // Nothing started, nothing written: no job, the folders as they were, no ticket remembered, no journal.
    expect(await client.dispatch('job.running', {})).toEqual({ ok: true, value: [] });
    expect(await fsp.readdir(out)).toEqual([]);
    expect(existsSync(path.join(base, 'target'))).toBe(false);
    expect(await fsp.readdir(path.join(base, 'planted', 'EdgeRecovery', 'dev'))).toEqual([path.basename(planted)]);
    expect(await fsp.readdir(path.join(base, 'state')).catch(() => [])).toEqual([]);
  });

  it('in practice: only the sandbox’s folders and its stick', async () => {
    const setup = await client.dispatch('practice.setup', {});
    expect(setup.ok).toBe(true);
    const practice = (setup as { value: PracticeView }).value;
    // The practice machine from outside its sandbox, or a "stick" beside it: refused before any job starts.
    await refusedWith(
      'backup.start',
      { profileRef: practice.old.profileRef, to: practice.stickDir, root: base },
      /is not in the practice sandbox/,
    );
    await refusedWith(
      'backup.start',
      { profileRef: practice.old.profileRef, to: path.dirname(practice.stickDir), root: practice.old.root },
      /writes backups only to a USB stick it lists \(or the practice stick\)/,
    );
    expect(await client.dispatch('backups.list', { dir: practice.stickDir })).toEqual({ ok: true, value: [] });
    const plan = await client.dispatch('profiles.plan', {
      profileRef: practice.old.profileRef,
      root: practice.old.root,
    });
    expect(plan.ok).toBe(true);
    expect(await client.dispatch('job.running', {})).toEqual({ ok: true, value: [] });
    expect(await fsp.readdir(practice.stickDir)).toEqual([]);
  });
});

describe('the privileged helper refuses to start with anything beyond its fixed arguments', () => {
  const run = (node: string[], args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const c = spawn(process.execPath, [...node, HELPER, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: childEnv(env),
      });
      let stderr = '';
      let stdout = '';
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.once('exit', (code) => resolve({ code, stderr, stdout }));
    });

  it('an inspector switch, a debugging port, an extra argument or NODE_OPTIONS: exit 2, nothing served', async () => {
    for (const [node, args, env] of [
      [['--inspect=127.0.0.1:0'], [HELPER_FLAG], {}],
      [[], [HELPER_FLAG, '--remote-debugging-port=9222'], {}],
      [[], [HELPER_FLAG, '--inspect-brk'], {}],
      [[], [], {}],
      [[], [HELPER_FLAG], { NODE_OPTIONS: '--max-old-space-size=100' }],
    ] as [string[], string[], Record<string, string>][]) {
      const r = await run(node, args, env);
      expect(r.code, `${node.join(' ')} ${args.join(' ')} ${JSON.stringify(env)}`).toBe(2);
      expect(r.stderr).toMatch(/edge-recovery helper: refused to start: /);
      expect(r.stdout).toBe(''); // never said "ready"
    }
  });
});
