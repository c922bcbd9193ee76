import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { execFileResult, firstLine } from '../service/exec.js';
import type { ExecFn } from '../service/types.js';
import { writeFileAtomic } from '../util/atomic-fs.js';
import { OWN_FILESYSTEMS_ENV } from '../util/own-filesystem.js';
import { cronFile, shellQuote } from './cron-entry.js';
import { scheduleName, type ScheduleSpec } from './spec.js';
import { systemdQuote, systemdUnits } from './systemd-units.js';
import { taskPath, utf16le, windowsTaskXml } from './windows-task.js';

export type SchedulerKind = 'systemd' | 'cron' | 'windows';

export interface SchedulerDeps {
  /** Filesystem root the unit/cron files go under ('/' for real; a temp folder in tests). */
  root?: string;
  exec?: ExecFn;
  platform?: NodeJS.Platform;
  /** Windows: %ProgramData% (the task XML is kept there for `schedule status`). */
  programData?: string;
}

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
  /** Windows task XML is written as UTF-16LE. */
  encoding: 'utf8' | 'utf16le';
}

export interface SchedulePlan {
  kind: SchedulerKind;
  files: PlannedFile[];
  /** Commands run after the files are written (as argv). */
  commands: string[][];
  /** Why a command is not run (a test root, no systemd as PID 1). */
  notes: string[];
}

/** systemd is the init when /run/systemd/system exists (sd_booted()); otherwise cron; Windows has its scheduler. */
export function detectScheduler(deps: SchedulerDeps = {}): SchedulerKind {
  if ((deps.platform ?? process.platform) === 'win32') return 'windows';
  return existsSync('/run/systemd/system') ? 'systemd' : 'cron';
}

function under(root: string, p: string): string {
  return path.join(root, p);
}

function programDataDir(deps: SchedulerDeps): string {
  return path.join(deps.programData ?? process.env['ProgramData'] ?? 'C:\\ProgramData', 'EdgeRecovery');
}

// C0 controls, DEL, C1 controls, line/paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Every text that goes into a cron line, a unit file or a task is one line: a line break in a folder (a stick's
 * folder comes from its volume label) or in a profile's product name would end the line and start another that
 * root runs (`* * * * * root …`, `ExecStartPre=…`). Refused (exit 2) before anything is written.
 */
function refuseControlCharacters(spec: ScheduleSpec): void {
  const fields: Array<[string, string | undefined]> = [
    ['--to', spec.to],
    ['--profile', spec.profileRef],
    ["the profile's productName", spec.productName],
    ['--root', spec.root],
    ['--device-id', spec.deviceId],
    ['--passphrase-file', spec.passphraseFile],
    ['--state-dir', spec.stateDir],
    [OWN_FILESYSTEMS_ENV, spec.ownFilesystems],
    ...spec.command.map((c): [string, string] => ['the command', c]),
  ];
  for (const [what, v] of fields) {
    if (v !== undefined && CONTROL.test(v)) {
      throw new RecoveryError(
        'BAD_INPUT',
        `${what} (${JSON.stringify(v)}) holds a line break or another control character: it cannot go into a scheduler's file, where it would start a line of its own. Nothing was installed.`,
        {
          hint:
            what === OWN_FILESYSTEMS_ENV
              ? `Set ${OWN_FILESYSTEMS_ENV} to folders on this machine's own data disks only, colon-separated, with no line breaks or control characters (e.g. /data), or leave it unset.`
              : 'Use a folder (or profile) whose name has no line breaks or control characters, e.g. rename the stick.',
        },
      );
    }
  }
}

/** What `schedule install` writes and runs, without doing it (`--dry-run` prints this). */
export function planInstall(spec: ScheduleSpec, kind: SchedulerKind, deps: SchedulerDeps = {}): SchedulePlan {
  refuseControlCharacters(spec);
  const root = deps.root ?? '/';
  const realRoot = path.resolve(root) === '/';
  const name = scheduleName(spec.profileId);
  switch (kind) {
    case 'systemd': {
      const u = systemdUnits(spec);
      const dir = under(root, '/etc/systemd/system');
      return {
        kind,
        files: [
          { path: path.join(dir, u.names[0]), content: u.service, mode: 0o644, encoding: 'utf8' },
          { path: path.join(dir, u.names[1]), content: u.timer, mode: 0o644, encoding: 'utf8' },
        ],
        commands: realRoot
          ? [
              ['systemctl', 'daemon-reload'],
              ['systemctl', 'enable', '--now', u.names[1]],
            ]
          : [],
        notes: realRoot ? [] : [`Installed under ${root}: systemctl is not called.`],
      };
    }
    case 'cron': {
      const c = cronFile(spec);
      return {
        kind,
        files: [{ path: under(root, `/etc/cron.d/${c.name}`), content: c.text, mode: 0o644, encoding: 'utf8' }],
        commands: [],
        notes: ['cron reads /etc/cron.d by itself (within a minute); nothing to reload.'],
      };
    }
    case 'windows': {
      const file = path.join(programDataDir(deps), `${name}.xml`);
      return {
        kind,
        files: [{ path: file, content: windowsTaskXml(spec), mode: 0o600, encoding: 'utf16le' }],
        commands: [['schtasks', '/Create', '/TN', taskPath(spec.profileId), '/XML', file, '/F']],
        notes: [],
      };
    }
  }
}

async function run(exec: ExecFn, argv: string[]): Promise<string> {
  const r = await exec(argv[0]!, argv.slice(1), { timeoutMs: 60_000 });
  if (r.code !== 0) {
    throw new RecoveryError(
      'SERVICE_FAILED',
      `${argv.slice(0, 2).join(' ')} failed: ${firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.code}`}`,
      { hint: 'Run it as root (Linux) or as Administrator (Windows). Nothing else was changed.' },
    );
  }
  return r.stdout;
}

/** Writes the unit/cron/task files and runs the scheduler's commands. Returns the plan that was carried out. */
export async function installSchedule(
  spec: ScheduleSpec,
  kind: SchedulerKind,
  deps: SchedulerDeps = {},
): Promise<SchedulePlan> {
  const plan = planInstall(spec, kind, deps);
  for (const f of plan.files) {
    await fsp.mkdir(path.dirname(f.path), { recursive: true });
    await writeFileAtomic(f.path, f.encoding === 'utf16le' ? utf16le(f.content) : f.content, f.mode);
  }
  const exec = deps.exec ?? execFileResult;
  for (const c of plan.commands) await run(exec, c);
  return plan;
}

export interface InstalledSchedule {
  kind: SchedulerKind;
  files: string[];
  /** OnCalendar= of the timer, the cron line's time fields, or the task's trigger. */
  when: string;
  /** The arguments the scheduler passes to `edge-recovery` (to read back --to, --keep …). */
  command: string;
}

/** The schedule installed for a profile, if any. */
export async function findInstalled(
  profileId: string,
  kind: SchedulerKind,
  deps: SchedulerDeps = {},
): Promise<InstalledSchedule | null> {
  const root = deps.root ?? '/';
  const name = scheduleName(profileId);
  if (kind === 'systemd') {
    const timer = under(root, `/etc/systemd/system/${name}.timer`);
    const service = under(root, `/etc/systemd/system/${name}.service`);
    const t = await fsp.readFile(timer, 'utf8').catch(() => null);
    const s = await fsp.readFile(service, 'utf8').catch(() => null);
    if (t === null && s === null) return null;
    return {
      kind,
      files: [service, timer],
      when: /^OnCalendar=(.*)$/m.exec(t ?? '')?.[1] ?? '?',
      command: /^ExecStart=(.*)$/m.exec(s ?? '')?.[1] ?? '?',
    };
  }
  if (kind === 'cron') {
    const file = under(root, `/etc/cron.d/${name}`);
    const text = await fsp.readFile(file, 'utf8').catch(() => null);
    if (text === null) return null;
    const line = text.split('\n').find((l) => /^\S+ \S+ \S+ \S+ \S+ root /.test(l)) ?? '';
    const m = /^(\S+ \S+ \S+ \S+ \S+) root (.*)$/.exec(line);
    // As /bin/sh gets it: cron's escape of a % (written between quotes, 'a'\%'b', see shellQuote) undone.
    return { kind, files: [file], when: m?.[1] ?? '?', command: m?.[2]?.replace(/'\\%'/g, '%') ?? '?' };
  }
  const exec = deps.exec ?? execFileResult;
  const r = await exec('schtasks', ['/Query', '/TN', taskPath(profileId), '/XML'], { timeoutMs: 30_000 });
  if (r.code !== 0) {
    if (/cannot find/i.test(r.stderr + r.stdout)) return null;
    throw new RecoveryError('SERVICE_FAILED', `schtasks /Query failed: ${firstLine(r.stderr) || firstLine(r.stdout)}`);
  }
  const start = /<StartBoundary>([^<]*)<\/StartBoundary>/.exec(r.stdout)?.[1] ?? '?';
  const by = /<(ScheduleBy\w+)>/.exec(r.stdout)?.[1] ?? '';
  const rep = /<Interval>([^<]*)<\/Interval>/.exec(r.stdout)?.[1];
  return {
    kind,
    files: [path.join(programDataDir(deps), `${name}.xml`)],
    when: `${by} from ${start}${rep ? ` every ${rep}` : ''}`,
    command: /<Arguments>([^<]*)<\/Arguments>/.exec(r.stdout)?.[1] ?? '?',
  };
}

/**
 * The profile id of the schedule installed for `ref` when the profile itself cannot be loaded any more (its file
 * was deleted or moved after the install, a custom profile's id): the schedule whose file names that id, or whose
 * command runs `--profile` with that file. Null when none does (Windows: not looked for).
 */
export async function installedProfileIdFor(
  ref: string,
  kind: SchedulerKind,
  deps: SchedulerDeps = {},
): Promise<string | null> {
  if (kind === 'windows') return null;
  const root = deps.root ?? '/';
  const dir = under(root, kind === 'systemd' ? '/etc/systemd/system' : '/etc/cron.d');
  const pattern =
    kind === 'systemd' ? /^edge-recovery-backup-([a-z0-9-]+)\.service$/ : /^edge-recovery-backup-([a-z0-9-]+)$/;
  const quote = kind === 'systemd' ? systemdQuote : shellQuote;
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names.sort()) {
    const id = pattern.exec(n)?.[1];
    if (id === undefined) continue;
    if (id === ref) return id;
    const text = await fsp.readFile(path.join(dir, n), 'utf8').catch(() => '');
    if (text.includes(` --profile ${quote(path.resolve(ref))} `)) return id;
  }
  return null;
}

/** Removes the schedule (timer disabled first); says what it removed. Nothing installed is not an error. */
export async function removeSchedule(
  profileId: string,
  kind: SchedulerKind,
  deps: SchedulerDeps = {},
): Promise<string[]> {
  const root = deps.root ?? '/';
  const realRoot = path.resolve(root) === '/';
  const exec = deps.exec ?? execFileResult;
  const name = scheduleName(profileId);
  const removed: string[] = [];
  const rm = async (p: string) => {
    if (
      await fsp.rm(p).then(
        () => true,
        () => false,
      )
    )
      removed.push(p);
  };
  if (kind === 'systemd') {
    if (realRoot && (await findInstalled(profileId, kind, deps)) !== null) {
      await run(exec, ['systemctl', 'disable', '--now', `${name}.timer`]);
    }
    await rm(under(root, `/etc/systemd/system/${name}.timer`));
    await rm(under(root, `/etc/systemd/system/${name}.service`));
    if (realRoot && removed.length > 0) await run(exec, ['systemctl', 'daemon-reload']);
  } else if (kind === 'cron') {
    await rm(under(root, `/etc/cron.d/${name}`));
  } else {
    const r = await exec('schtasks', ['/Delete', '/TN', taskPath(profileId), '/F'], { timeoutMs: 30_000 });
    if (r.code === 0) removed.push(taskPath(profileId));
    else if (!/cannot find/i.test(r.stderr + r.stdout)) {
      throw new RecoveryError(
        'SERVICE_FAILED',
        `schtasks /Delete failed: ${firstLine(r.stderr) || firstLine(r.stdout)}`,
      );
    }
    await rm(path.join(programDataDir(deps), `${name}.xml`));
  }
  return removed;
}
