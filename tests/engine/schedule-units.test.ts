import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CronExpressionParser } from 'cron-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cronFile } from '../../src-main/engine/schedule/cron-entry.js';
import { findInstalled, installSchedule, planInstall, removeSchedule } from '../../src-main/engine/schedule/install.js';
import { parseAt, parseDuration, parseEvery, type ScheduleTime } from '../../src-main/engine/schedule/interval.js';
import { logScheduledRun } from '../../src-main/engine/schedule/run-log.js';
import { runArgs, type ScheduleSpec } from '../../src-main/engine/schedule/spec.js';
import { systemdUnits } from '../../src-main/engine/schedule/systemd-units.js';
import { windowsQuote, windowsTaskXml } from '../../src-main/engine/schedule/windows-task.js';
import type { ExecFn } from '../../src-main/engine/service/types.js';
import { runCli } from '../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/schedule/windows/', import.meta.url));
// jsdom (already a dev dependency, untyped here) for its XML parser: the task XML is parsed as XML, not matched as text.
const { JSDOM } = (await import('jsdom' as string)) as {
  JSDOM: new (html: string) => { window: { DOMParser: typeof DOMParser } };
};
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function spec(over: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return {
    profileId: 'eds-linux',
    profileRef: 'eds-linux',
    productName: 'AVEVA Edge Data Store',
    to: '/media/backup disk/edge',
    time: { every: parseEvery('daily'), ...parseAt('02:30') },
    keep: 7,
    keepManual: 10,
    maxAgeMs: parseDuration('180d', 'x'),
    retryEveryMs: 600_000,
    giveUpAfterMs: 6 * 3_600_000,
    randomDelayMs: 900_000,
    command: [process.execPath, '/opt/Edge Recovery/bin/edge-recovery.js'],
    ...over,
  };
}

const times: Array<[string, ScheduleTime]> = [
  ['daily at 02:30', { every: parseEvery('daily'), ...parseAt('02:30') }],
  ['every 6h from 01:15', { every: parseEvery('6h'), ...parseAt('01:15') }],
  ['hourly at :05', { every: parseEvery('1h'), ...parseAt('00:05') }],
  ['weekly at 23:00', { every: parseEvery('weekly'), ...parseAt('23:00') }],
  ['monthly at 04:45', { every: parseEvery('monthly'), ...parseAt('04:45') }],
];

describe.skipIf(!hasAnalyze && !process.env.CI)('systemd units (systemd-analyze verify)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sched-units-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const verify = async (u: ReturnType<typeof systemdUnits>, sub: string) => {
    const d = path.join(dir, sub);
    await fsp.mkdir(d, { recursive: true });
    await fsp.writeFile(path.join(d, u.names[0]), u.service);
    await fsp.writeFile(path.join(d, u.names[1]), u.timer);
    return spawnSync('systemd-analyze', ['verify', path.join(d, u.names[0]), path.join(d, u.names[1])], {
      encoding: 'utf8',
    });
  };

  it.each(times)('writes a service and timer that systemd-analyze verify accepts: %s', async (name, time) => {
    const u = systemdUnits(spec({ time, passphraseFile: '/root/edge recovery/pass%1$' }));
    const r = await verify(u, name.replace(/\W+/g, '-'));
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
    expect(u.timer).toMatch(/^Persistent=true$/m);
    expect(u.timer).toMatch(/^RandomizedDelaySec=900s$/m);
    // systemd's own reading of OnCalendar= is the normalized form we wrote.
    const onCal = /^OnCalendar=(.*)$/m.exec(u.timer)![1]!;
    const cal = execFileSync('systemd-analyze', ['calendar', onCal], { encoding: 'utf8' });
    expect(cal).toMatch(/Next elapse:/);
  });

  it('takes a product name with % literally (no specifier in the Description systemd expands or drops)', async () => {
    // A profile's productName "Edge %Z (100%)" made systemd warn "Failed to resolve unit specifiers … ignoring" and
    // drop both Descriptions; "%H" would have shown this machine's host name instead.
    const u = systemdUnits(spec({ productName: 'Edge %Z %H (100%)' }));
    const r = await verify(u, 'percent-name');
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
    expect(u.service).toMatch(/^Description=.*Edge %%Z %%H \(100%%\)/m);
    expect(u.timer).toMatch(/^Description=.*Edge %%Z %%H \(100%%\)/m);
  });

  it('the same check fails on a broken unit (the check can fail)', async () => {
    const u = systemdUnits(spec());
    const broken = { ...u, service: u.service.replace(/^ExecStart=\S+/m, 'ExecStart=relative/edge-recovery') };
    const r = await verify(broken, 'broken');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ExecStart|absolute|executable/i);
  });

  it('quotes paths with spaces, % and $ so systemd passes them through literally', () => {
    const u = systemdUnits(spec({ passphraseFile: '/root/edge recovery/pass%1$' }));
    expect(u.service).toContain('"/media/backup disk/edge"');
    expect(u.service).toContain('"/root/edge recovery/pass%%1$$"');
  });
});

describe('cron fallback', () => {
  it.each(times)('fires at the same times as the systemd timer: %s', (_name, time) => {
    const c = cronFile(spec({ time }));
    const fields = c.line.split(' ').slice(0, 5).join(' ');
    expect(c.line.split(' ')[5]).toBe('root');
    const it = CronExpressionParser.parse(fields, { currentDate: new Date(), tz: 'UTC' });
    const cronNext = Array.from({ length: 4 }, () => it.next().toDate().toISOString());
    const onCal = /^OnCalendar=(.*)$/m.exec(systemdUnits(spec({ time })).timer)![1]!;
    if (!hasAnalyze) return;
    const out = execFileSync('systemd-analyze', ['calendar', '--iterations=4', onCal], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
    });
    const sysNext = [...out.matchAll(/(?:Next elapse|Iter\. #\d): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map(
      (m) => new Date(`${m[1]!.replace(' ', 'T')}Z`).toISOString(),
    );
    expect(sysNext).toHaveLength(4);
    expect(cronNext).toEqual(sysNext);
  });

  it('spreads the start itself (cron has no randomized delay) and escapes % for cron', () => {
    const c = cronFile(spec({ passphraseFile: "/root/it's 100%" }));
    expect(c.line).toContain('--random-delay 15min');
    expect(c.line).toContain(`'/root/it'\\''s 100'\\%''`);
    expect(c.name).toMatch(/^[A-Za-z0-9_-]+$/); // cron ignores /etc/cron.d files with dots
  });

  it('every argument reaches the program as written, through cron (%, \\%, quotes) and /bin/sh', () => {
    // A folder or file name with a backslash before a % ended the command there: cron took "\\%" as a kept backslash
    // and a % that starts the standard input, and /bin/sh was left an unterminated quote, so no backup ever ran.
    const tricky = ["/media/it's 100%", '/media/a\\%b', '/media/a\\\\%%b\\', "/x/'%'\\", '/x/50% off/\\'];
    const printer = ['/bin/sh', '-c', 'printf "%s\\0" "$@"', 'sh'];
    for (const to of tricky) {
      const s = spec({ to, passphraseFile: `${to}-pass`, command: printer });
      const line = cronFile(s).line;
      const r = spawnSync('/bin/sh', ['-c', cronCommand(line.split(' ').slice(6).join(' '))], { encoding: 'utf8' });
      expect(r.stdout.split('\0').slice(0, -1), `${to}: ${line}`).toEqual(runArgs(s, { randomDelayInProcess: true }));
    }
  });

  it('reads a folder with a % back as written (the emergency kit names it)', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sched-cron-'));
    try {
      await installSchedule(spec({ to: '/media/50% off' }), 'cron', { root });
      expect((await findInstalled('eds-linux', 'cron', { root }))?.command).toContain(`--to '/media/50% off'`);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });

  it('installs for real under a root, reads it back, and removes it', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sched-cron-'));
    try {
      const plan = await installSchedule(spec(), 'cron', { root });
      const file = path.join(root, 'etc/cron.d/edge-recovery-backup-eds-linux');
      expect(plan.files.map((f) => f.path)).toEqual([file]);
      const st = await fsp.stat(file);
      expect(st.mode & 0o777).toBe(0o644);
      const text = await fsp.readFile(file, 'utf8');
      expect(text).toMatch(/^30 2 \* \* \* root \S+node /m);
      const found = await findInstalled('eds-linux', 'cron', { root });
      expect(found?.when).toBe('30 2 * * *');
      expect(await removeSchedule('eds-linux', 'cron', { root })).toEqual([file]);
      expect(await findInstalled('eds-linux', 'cron', { root })).toBeNull();
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});

/**
 * The command line as cron hands it to /bin/sh (Vixie/ISC cron's do_command.c, Debian's cron): a backslash before a %
 * leaves the % (the backslash dropped); any other backslash stays and escapes nothing after it; the first other %
 * ends the command (the rest is its standard input).
 */
function cronCommand(cmd: string): string {
  let out = '';
  let escaped = false;
  for (const ch of cmd) {
    if (escaped) {
      escaped = false;
      out = ch === '%' ? out.slice(0, -1) + ch : out + ch;
      continue;
    }
    if (ch === '%') break;
    escaped = ch === '\\';
    out += ch;
  }
  return out;
}

/** Every element path of an XML document with the shape of its text ("true", "PT1H", "2023-10-17T14:55:00" …). */
function xmlShape(xml: string): Map<string, Set<string>> {
  const doc = new new JSDOM('').window.DOMParser().parseFromString(xml.replace(/^\uFEFF/, ''), 'application/xml');
  expect(doc.getElementsByTagName('parsererror')).toHaveLength(0);
  const out = new Map<string, Set<string>>();
  const shapeOf = (t: string) =>
    /^(true|false)$/.test(t)
      ? 'bool'
      : /^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$/.test(t)
        ? 'duration'
        : /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(t)
          ? 'datetime'
          : /^\d+$/.test(t)
            ? 'number'
            : 'text';
  const walk = (el: Element, p: string) => {
    // CalendarTrigger and TimeTrigger share the trigger base type (Repetition, Enabled …) and RandomDelay
    // (MS-TSCH 2.5.3): the recorded exports show RandomDelay and Repetition on a TimeTrigger.
    const name = /^(Calendar|Time)Trigger$/.test(el.localName) ? 'Calendar|TimeTrigger' : el.localName;
    const here = `${p}/${name}`;
    const kids = Array.from(el.children);
    if (!out.has(here)) out.set(here, new Set());
    if (kids.length === 0 && el.textContent!.trim()) out.get(here)!.add(shapeOf(el.textContent!.trim()));
    for (const k of kids) walk(k, here);
  };
  walk(doc.documentElement, '');
  return out;
}

describe('Windows Task Scheduler task (checked against recorded real exports)', () => {
  let exports: Map<string, Set<string>>;
  beforeAll(async () => {
    exports = new Map();
    for (const f of ['google-update-machine-core.xml', 'wer-queue-reporting.xml', 'gui-created-daily.xml']) {
      for (const [k, v] of xmlShape(await fsp.readFile(path.join(FIXTURES, f), 'utf8'))) {
        const s = exports.get(k) ?? new Set();
        for (const x of v) s.add(x);
        exports.set(k, s);
      }
    }
  });

  it.each(times.filter(([n]) => !/weekly|monthly/.test(n)))(
    'writes only elements that real exports have, with values of the same form: %s',
    (_n, time) => {
      const mine = xmlShape(windowsTaskXml(spec({ time })));
      // Not in the recorded exports but in the schema (MS-TSCH 2.5.3.1 repetitionType): a Repetition's Duration
      // (without it Windows never repeats) and StopAtDurationEnd.
      const fromSchema = new Map([
        ['/Task/Triggers/Calendar|TimeTrigger/Repetition/Duration', 'duration'],
        ['/Task/Triggers/Calendar|TimeTrigger/Repetition/StopAtDurationEnd', 'bool'],
      ]);
      for (const [p, shapes] of mine) {
        if (fromSchema.has(p)) {
          expect([...shapes]).toEqual([fromSchema.get(p)]);
          continue;
        }
        expect(exports.has(p), `${p} occurs in a real export`).toBe(true);
        for (const s of shapes) expect([...exports.get(p)!], `${p} value form`).toContain(s);
      }
    },
  );

  it('runs as SYSTEM exactly as Windows exports a SYSTEM task (no stored password, logged on or not)', async () => {
    const principal = (xml: string) => /<Principals>[\s\S]*<\/Principals>/.exec(xml)![0].replace(/\s+/g, '');
    const google = await fsp.readFile(path.join(FIXTURES, 'google-update-machine-core.xml'), 'utf8');
    const xml = windowsTaskXml(spec());
    expect(principal(xml)).toBe(principal(google));
    expect(xml).toContain('<StartWhenAvailable>true</StartWhenAvailable>'); // Persistent=true
    expect(xml).toContain('<RandomDelay>PT15M</RandomDelay>');
    // The trigger's children in the schema's sequence.
    const trigger = /<CalendarTrigger>([\s\S]*?)<\/CalendarTrigger>/.exec(
      windowsTaskXml(spec({ time: times[1]![1] })),
    )![1]!;
    const order = [...trigger.matchAll(/^\s{6}<(\w+)/gm)].map((m) => m[1]);
    expect(order).toEqual(['Enabled', 'StartBoundary', 'Repetition', 'RandomDelay', 'ScheduleByDay']);
    expect(xml).not.toContain('<LogonType>'); // S4U/Password apply to user accounts, not to SYSTEM
  });

  it('weekly and monthly triggers and every-N-hours repetition parse as XML', () => {
    expect(windowsTaskXml(spec({ time: times[3]![1] }))).toMatch(/<ScheduleByWeek>[\s\S]*<Sunday \/>/);
    expect(windowsTaskXml(spec({ time: times[4]![1] }))).toMatch(/<Day>1<\/Day>/);
    const six = windowsTaskXml(spec({ time: times[1]![1] }));
    expect(six).toMatch(/<StartBoundary>2026-01-01T01:15:00<\/StartBoundary>/);
    expect(six).toMatch(/<Interval>PT6H<\/Interval>/);
    for (const t of times) xmlShape(windowsTaskXml(spec({ time: t[1] })));
  });

  it('quotes arguments the way CommandLineToArgvW reads them back', () => {
    expect(windowsQuote('C:\\Program Files\\x')).toBe('"C:\\Program Files\\x"');
    expect(windowsQuote('C:\\dir with space\\')).toBe('"C:\\dir with space\\\\"');
    expect(windowsQuote('say "hi"')).toBe('"say \\"hi\\""');
    expect(windowsQuote('plain')).toBe('plain');
    const xml = windowsTaskXml(
      spec({ to: 'E:\\Edge Backups', command: ['C:\\Program Files\\Edge Recovery\\edge-recovery.exe'] }),
    );
    expect(xml).toContain('<Command>&quot;C:\\Program Files\\Edge Recovery\\edge-recovery.exe&quot;</Command>');
    expect(xml).toContain('--to &quot;E:\\Edge Backups&quot;');
  });

  it('registers with schtasks /Create /XML (UTF-16LE file), answers status and removes, against recorded outputs', async () => {
    const pd = await fsp.mkdtemp(path.join(os.tmpdir(), 'sched-win-'));
    const rec = (f: string) => fsp.readFile(path.join(FIXTURES, f), 'utf8');
    const calls: string[][] = [];
    let registered: string | null = null;
    const exec: ExecFn = async (file, args) => {
      calls.push([file, ...args]);
      if (args[0] === '/Create') {
        registered = (await fsp.readFile(args[4]!)).subarray(2).toString('utf16le');
        return {
          code: 0,
          stdout: (await rec('schtasks-create-success.txt')).replace('\\VerticalLive\\vl-autostart', args[2]!),
          stderr: '',
        };
      }
      if (args[0] === '/Query') {
        return registered === null
          ? { code: 1, stdout: '', stderr: await rec('schtasks-not-found.txt') }
          : { code: 0, stdout: registered, stderr: '' };
      }
      if (args[0] === '/Delete') {
        if (registered === null) return { code: 1, stdout: '', stderr: await rec('schtasks-not-found.txt') };
        registered = null;
        return { code: 0, stdout: await rec('schtasks-delete-success.txt'), stderr: '' };
      }
      return { code: 1, stdout: '', stderr: 'unexpected' };
    };
    try {
      // On Linux the Windows path is a plain file name under the temp ProgramData.
      const deps = { exec, programData: pd, platform: 'win32' as const };
      expect(await findInstalled('eds-windows', 'windows', deps)).toBeNull();
      const plan = planInstall(spec({ profileId: 'eds-windows' }), 'windows', deps);
      expect(plan.commands[0]).toEqual([
        'schtasks',
        '/Create',
        '/TN',
        '\\EdgeRecovery\\edge-recovery-backup-eds-windows',
        '/XML',
        plan.files[0]!.path,
        '/F',
      ]);
      await installSchedule(spec({ profileId: 'eds-windows' }), 'windows', deps);
      const raw = await fsp.readFile(plan.files[0]!.path);
      expect([...raw.subarray(0, 2)]).toEqual([0xff, 0xfe]);
      expect(registered).toContain('<UserId>S-1-5-18</UserId>');
      const st = await findInstalled('eds-windows', 'windows', deps);
      expect(st?.when).toBe('ScheduleByDay from 2026-01-01T02:30:00');
      expect(await removeSchedule('eds-windows', 'windows', deps)).toEqual([
        '\\EdgeRecovery\\edge-recovery-backup-eds-windows',
        plan.files[0]!.path,
      ]);
      const denied: ExecFn = async () => ({ code: 1, stdout: '', stderr: await rec('schtasks-access-denied.txt') });
      await expect(
        installSchedule(spec({ profileId: 'eds-windows' }), 'windows', { ...deps, exec: denied }),
      ).rejects.toThrow(/Access is denied/);
    } finally {
      await fsp.rm(pd, { recursive: true, force: true });
    }
  });

  it('logs a scheduled run to the Application event log with eventcreate (recorded output)', async () => {
    const state = await fsp.mkdtemp(path.join(os.tmpdir(), 'sched-evt-'));
    const ok = await fsp.readFile(path.join(FIXTURES, 'eventcreate-success.txt'), 'utf8');
    const calls: string[][] = [];
    const exec: ExecFn = async (file, args) => {
      calls.push([file, ...args]);
      return { code: 0, stdout: ok.replace('PurpleTeamLab', args[5]!).replace('INFORMATION', args[3]!), stderr: '' };
    };
    try {
      const r = await logScheduledRun(
        state,
        {
          at: new Date().toISOString(),
          profileId: 'eds-windows',
          outcome: 'missed',
          detail: 'transactions running',
          postponed: 36,
        },
        { exec, platform: 'win32' },
      );
      expect(r.problem).toBeUndefined();
      expect(calls[0]).toEqual([
        'eventcreate',
        '/L',
        'APPLICATION',
        '/T',
        'WARNING',
        '/SO',
        'EdgeRecovery',
        '/ID',
        '2',
        '/D',
        'scheduled backup eds-windows: missed after 36 postponements: transactions running',
      ]);
      const bad = await logScheduledRun(
        state,
        { at: new Date().toISOString(), profileId: 'x', outcome: 'failed', detail: 'd', postponed: 0 },
        {
          exec: async () => ({
            code: 1,
            stdout: '',
            stderr: 'ERROR: Access denied. You do not have sufficient privilege.',
          }),
          platform: 'win32',
        },
      );
      expect(bad.problem).toMatch(/Access denied/);
    } finally {
      await fsp.rm(state, { recursive: true, force: true });
    }
  });
});

describe('edge-recovery schedule install --dry-run', () => {
  it('prints the files it would write and changes nothing', { timeout: 400_000 }, async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sched-dry-'));
    try {
      const r = await runCli([
        'schedule',
        'install',
        '--profile',
        'eds-linux',
        '--to',
        '/media/backup',
        '--every',
        '6h',
        '--keep',
        '7',
        '--max-age',
        '180d',
        '--scheduler',
        'systemd',
        '--install-root',
        root,
        '--dry-run',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`==> ${root}/etc/systemd/system/edge-recovery-backup-eds-linux.timer`);
      expect(r.stdout).toContain('OnCalendar=*-*-* 02,08,14,20:30:00');
      expect(r.stdout).toMatch(
        /ExecStart=\S+node .*schedule run --profile eds-linux --to \/media\/backup --keep 7 --max-age 180d/,
      );
      expect(await fsp.readdir(root)).toEqual([]);
      const win = await runCli([
        'schedule',
        'install',
        '--profile',
        'eds-windows',
        '--to',
        'E:\\Backups',
        '--every',
        'daily',
        '--scheduler',
        'windows',
        '--dry-run',
      ]);
      expect(win.code, win.stderr).toBe(0);
      expect(win.stdout).toContain('<UserId>S-1-5-18</UserId>');
      expect(win.stdout).toContain('schtasks /Create /TN \\EdgeRecovery\\edge-recovery-backup-eds-windows /XML');
      const bad = await runCli([
        'schedule',
        'install',
        '--profile',
        'eds-linux',
        '--to',
        '/x',
        '--every',
        '5h',
        '--dry-run',
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--every "5h"/);
      const noPass = await runCli([
        'schedule',
        'install',
        '--profile',
        'eds-linux',
        '--to',
        '/x',
        '--every',
        'daily',
        '--encrypt',
        '--dry-run',
      ]);
      expect(noPass.code).toBe(2);
      expect(noPass.stderr).toMatch(/--passphrase-file/);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});
