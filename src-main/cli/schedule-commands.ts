import { Option, type Command } from 'commander';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecoveryError } from '../engine/errors.js';
// Profiles load (with the schema library) only when a schedule command runs: see cli/main.ts.
import { builtinProfileIds } from '../engine/profiles/builtin-sources.js';
const loadProfile = async (ref: string) => (await import('../engine/profiles/load.js')).loadProfile(ref);

/**
 * The profile a schedule runs as root, unattended, every time: only a built-in one or a file only root can change on
 * one of this machine's own filesystems (rootOnlyProblem) is used. Any other file (in /tmp, a home folder, on a
 * stick) is refused outright, whether or not it runs commands: no one is there at 02:30 to read a warning, and the
 * file can change after the install, to name other folders (backed up onto the schedule's --to every night) or
 * another service to stop and start. `schedule run` judges it again each time (the file named may be a link that
 * another account can point elsewhere after the install).
 */
async function scheduleProfile(ref: string) {
  const { loadJudgedProfile, profileCommands, trustCopyHint } = await import('../engine/profiles/trust.js');
  // Read and judged as one file (a link flipped in between cannot lend a root-only file's trust).
  const { profile, trust } = await loadJudgedProfile(ref);
  if (trust.origin !== 'untrusted') return profile;
  const commands = profileCommands(profile);
  throw new RecoveryError(
    'PROFILE_UNTRUSTED',
    `The profile ${ref} is untrusted input: ${trust.reason ?? 'not only root can change it'}. A schedule runs it as root each time, unattended, and whoever can change the file could make it back up other folders to the schedule's destination or stop another service${commands.length > 0 ? `; it would also run commands (${commands.join('; ')})` : ''}. Nothing was run or installed.`,
    {
      hint:
        process.platform === 'win32'
          ? 'On Windows only the built-in profiles can be scheduled (file permissions are not judged there): name one of them (edge-recovery profiles lists them).'
          : `Read it, ${trustCopyHint(ref, 'linux')}. Built-in profiles need no copy.`,
      details: { ref, profileId: profile.id, commands },
    },
  );
}

import { defaultStateDir } from '../engine/restore/journal.js';
import { checkStateDir } from '../engine/util/job-lock.js';
import { OWN_FILESYSTEMS_ENV } from '../engine/util/own-filesystem.js';
import type { RunbookIO } from '../engine/runbook/runner.js';
import { parseKeep } from './options.js';
import { terminalInteraction, terminalSink } from './terminal.js';

function runIo(o: { json?: boolean }): RunbookIO {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  return {
    emit: terminalSink({ json: o.json === true }),
    interaction: terminalInteraction({ yes: true, json: o.json === true }),
    signal: ac.signal,
  };
}

/** How a scheduler starts this same edge-recovery: node + script (+ the loader when run from sources). */
function selfCommand(): string[] {
  let script = process.argv[1] ? path.resolve(process.argv[1]) : '';
  if (!script) return [process.execPath];
  // `npx edge-recovery` runs the bin through a link in npm's cache (~/.npm/_npx/<hash>/node_modules/.bin/…), which
  // npm prunes or rebuilds as it likes (npm cache clean): the timer starts the file it leads to instead.
  if (script.split(path.sep).includes('_npx')) {
    try {
      script = realpathSync(script);
    } catch {
      // as given
    }
  }
  // `--import tsx` (from sources) must resolve from any folder: the scheduler starts us in /.
  const resolved = (a: string): string => {
    if (path.isAbsolute(a) || a.startsWith('file:')) return a;
    try {
      return fileURLToPath(import.meta.resolve(a));
    } catch {
      return a;
    }
  };
  const args = process.execArgv.map((a, i, all) => {
    if (all[i - 1] === '--import') return resolved(a);
    const eq = /^--import=(.*)$/s.exec(a);
    return eq ? `--import=${resolved(eq[1]!)}` : a;
  });
  return [process.execPath, ...args, script];
}

/** The file one word of the command names: the word, or an option's value (`--require=/x.cjs`, `--import=file:…`). */
function fileNamedBy(part: string): string {
  const value = /^--?[A-Za-z][\w-]*=(.*)$/s.exec(part)?.[1] ?? part;
  if (!value.startsWith('file:')) return value;
  try {
    return fileURLToPath(value);
  } catch {
    return value;
  }
}

/**
 * What to do about a program others can change, offline: a root-owned copy of the checkout in /opt. (`npm install -g`
 * of a checkout only links to it, and the timer would start the same files; a registry may be out of reach.)
 */
function installElsewhereHint(): string {
  const script = process.argv[1] ? path.resolve(process.argv[1]) : '';
  let real = script;
  try {
    real = realpathSync(script);
  } catch {
    // as given
  }
  const m = /^(.*)\/(?:bin\/edge-recovery\.js|src-main\/cli\/bin\.ts)$/.exec(real);
  const checkout = m?.[1] !== undefined && m[1] !== '' ? shellWordLinux(m[1]) : '<the checkout>';
  return `Copy edge-recovery where only root can write, on this machine's own disk, as root: cp -a ${checkout} /opt/edge-recovery && chown -R root:root /opt/edge-recovery && chmod -R go-w /opt/edge-recovery; then install the schedule from there: node /opt/edge-recovery/bin/edge-recovery.js schedule install … (npm install -g of a checkout only links to it; or name another program with --command).`;
}

/** A path as one word for a POSIX shell (single-quoted unless plainly safe). */
function shellWordLinux(p: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/**
 * The program the scheduler starts as root every night (node, its loader, edge-recovery's script, or --command):
 * each file it names, and every folder on the way to it, must be root's and not writable by others (a sticky
 * folder only for root's entries), as the state folder must, and the file must lie on one of this machine's own
 * filesystems, as a trusted profile must (otherFilesystemProblem). A checkout in a home folder (`npm link` there,
 * or `node bin/edge-recovery.js`) would otherwise have its owner's code run as root by the timer; a checkout on a
 * stick shows whatever owner the machine that wrote it chose (uid 0 on an ext4 stick, root's for all on FAT).
 */
async function refuseCommandOthersCanChange(command: readonly string[]): Promise<void> {
  if (process.platform === 'win32') return;
  const { resolveTrusted } = await import('../engine/util/linked-folder.js');
  const { otherFilesystemProblem } = await import('../engine/util/own-filesystem.js');
  for (const part of command) {
    // Node's switches name files too, in either form (`--require /x.cjs`, `--require=/x.cjs`): each is loaded as root.
    const file = fileNamedBy(part);
    if (!path.isAbsolute(file) || !existsSync(file)) continue;
    const fail = (place: string, why: string) =>
      new RecoveryError(
        'UNSAFE_PATH',
        `The scheduler would run ${file} as root, and another account can change it (${why}). Nothing was installed.`,
        {
          hint: installElsewhereHint(),
          details: { file, place },
        },
      );
    const { place, st } = resolveTrusted(file, fail);
    const me = process.geteuid?.() ?? 0;
    if (st !== null && ((st.uid !== 0 && st.uid !== me) || (st.mode & 0o022) !== 0)) {
      throw fail(file, `${file} belongs to uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}`);
    }
    const foreign = st === null ? null : otherFilesystemProblem(place, st.dev);
    if (foreign !== null) throw fail(place, foreign);
    // The script loads the rest of its package (dist/, node_modules/): all of it, not only the script.
    const { programTreeProblem } = await import('../engine/util/program-tree.js');
    const tree = st === null ? null : programTreeProblem(place);
    if (tree !== null) throw fail(place, tree);
  }
}

/** A profile ref the scheduler can use later from any folder: an id stays, a file becomes absolute. */
function profileRefFor(ref: string): string {
  if (builtinProfileIds().includes(ref)) return ref;
  return existsSync(ref) ? path.resolve(ref) : ref;
}

interface ScheduleOpts {
  profile: string;
  to?: string;
  every?: string;
  at?: string;
  keep?: number;
  keepManual?: number;
  maxAge?: string;
  encrypt?: boolean;
  passphraseFile?: string;
  retryEvery: string;
  giveUpAfter?: string;
  randomDelay?: string;
  scheduler: string;
  installRoot?: string;
  stateDir?: string;
  root?: string;
  deviceId?: string;
  command?: string;
  dryRun?: boolean;
  json?: boolean;
}

const SCHEDULERS = ['auto', 'systemd', 'cron', 'windows'];

async function schedulerFor(o: ScheduleOpts) {
  const { detectScheduler } = await import('../engine/schedule/install.js');
  if (!SCHEDULERS.includes(o.scheduler)) {
    throw new RecoveryError('BAD_INPUT', `--scheduler takes ${SCHEDULERS.join(', ')}, not "${o.scheduler}".`);
  }
  return o.scheduler === 'auto' ? detectScheduler() : (o.scheduler as 'systemd' | 'cron' | 'windows');
}

async function buildSpec(o: ScheduleOpts, forRun: boolean) {
  const iv = await import('../engine/schedule/interval.js');
  const spec = await import('../engine/schedule/spec.js');
  const profile = await scheduleProfile(o.profile);
  if (!o.to)
    throw new RecoveryError('BAD_INPUT', '--to <dir> is needed: the folder (disk, share or stick) the backups go to.');
  if (!forRun && !o.every)
    throw new RecoveryError('BAD_INPUT', '--every <interval> is needed, e.g. --every daily or --every 6h.');
  if (o.encrypt && !o.passphraseFile) {
    throw new RecoveryError('BAD_INPUT', 'Unattended encrypted backups need --passphrase-file <root-only file>.', {
      hint: 'A scheduled run has nobody to ask. Create the file as root with mode 600 and keep a copy of the passphrase away from this machine.',
    });
  }
  const every = iv.parseEvery(o.every ?? 'daily');
  const ownFilesystems = process.env[OWN_FILESYSTEMS_ENV] ?? '';
  const at = iv.parseAt(o.at ?? '02:30');
  const s = {
    profileId: profile.id,
    profileRef: profileRefFor(o.profile),
    productName: profile.productName,
    to: path.resolve(o.to),
    time: { every, ...at },
    ...(o.keep !== undefined ? { keep: o.keep } : {}),
    ...(o.keepManual !== undefined ? { keepManual: o.keepManual } : {}),
    ...(o.maxAge !== undefined ? { maxAgeMs: iv.parseDuration(o.maxAge, '--max-age') } : {}),
    ...(o.passphraseFile !== undefined ? { passphraseFile: path.resolve(o.passphraseFile) } : {}),
    retryEveryMs: iv.parseDuration(o.retryEvery, '--retry-every'),
    giveUpAfterMs:
      o.giveUpAfter !== undefined
        ? iv.parseDuration(o.giveUpAfter, '--give-up-after')
        : Math.min(spec.DEFAULT_GIVE_UP_AFTER_MS, iv.periodMs(every) / 2),
    randomDelayMs:
      o.randomDelay !== undefined ? iv.parseDuration(o.randomDelay, '--random-delay') : spec.DEFAULT_RANDOM_DELAY_MS,
    ...(o.stateDir !== undefined ? { stateDir: path.resolve(o.stateDir) } : {}),
    ...(o.root !== undefined ? { root: path.resolve(o.root) } : {}),
    ...(o.deviceId !== undefined ? { deviceId: o.deviceId } : {}),
    command: o.command ? [o.command] : selfCommand(),
    // The runs judge the state folder, profile and passphrase file by the same disks as this install did.
    ...(ownFilesystems !== '' ? { ownFilesystems } : {}),
  };
  if (!forRun && s.giveUpAfterMs >= iv.periodMs(every)) {
    throw new RecoveryError(
      'BAD_INPUT',
      `--give-up-after ${o.giveUpAfter ?? ''} is not shorter than the interval (${o.every}): runs would overlap.`,
    );
  }
  return { spec: s, profile };
}

/**
 * A scheduled run whose profile is refused (untrusted) is a failed run like any other: its line goes to the journal
 * and to the state folder, so `schedule status` says why the backups stopped (a schedule installed before this check,
 * or whose profile file was changed or relinked since).
 */
async function logRefusedRun(o: ScheduleOpts, e: unknown): Promise<void> {
  if (!(e instanceof RecoveryError) || e.code !== 'PROFILE_UNTRUSTED') return;
  const profileId = e.details?.['profileId'];
  if (typeof profileId !== 'string') return;
  const { logScheduledRun } = await import('../engine/schedule/run-log.js');
  const { withHint } = await import('../engine/schedule/scheduled-run.js');
  const stateDir = defaultStateDir(o.stateDir !== undefined ? path.resolve(o.stateDir) : undefined);
  const entry = {
    at: new Date().toISOString(),
    profileId,
    outcome: 'failed' as const,
    detail: withHint(e),
    postponed: 0,
  };
  await logScheduledRun(stateDir, entry).catch(() => undefined);
}

function common(c: Command): Command {
  return c
    .requiredOption('--profile <id|file>', 'built-in profile id or profile JSON file')
    .addOption(
      new Option(
        '--scheduler <kind>',
        'auto (systemd if it is PID 1, else cron; Windows: Task Scheduler), systemd, cron, windows',
      ).default('auto'),
    )
    .addOption(
      new Option('--install-root <dir>', 'write unit/cron files under this folder instead of / (tests)').hideHelp(),
    )
    .addOption(
      new Option('--state-dir <dir>', 'where the last-backup record and run log live').env('EDGE_RECOVERY_STATE_DIR'),
    )
    .option('--json', 'machine-readable output');
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description(
      'Scheduled (automatic) backups: a systemd timer, a cron entry or a Windows task that runs "schedule run".',
    );

  const specOptions = (c: Command) =>
    common(c)
      .option('--to <dir>', 'where the backups go (a disk, share or stick that stays connected)')
      .option('--every <interval>', '1h, 2h, 3h, 4h, 6h, 8h, 12h, daily, weekly or monthly')
      .option('--at <HH:MM>', 'local time of day (default 02:30; every-N-hours schedules start from it)')
      .option('--keep <n>', 'keep the newest n automatic backups', parseKeep)
      .option('--keep-manual <n>', 'keep the newest n manual backups (default: all)', parseKeep)
      .option('--max-age <age>', 'delete automatic backups older than this, e.g. 180d or 6mo')
      .option('--encrypt', 'encrypt (needs --passphrase-file)')
      .option(
        '--passphrase-file <file>',
        'root-only file (mode 600, not a link, in root-only folders) holding the passphrase',
      )
      .option('--retry-every <duration>', 'when a pre-check fails, try again after this long', '10m')
      .option(
        '--give-up-after <duration>',
        'report the run as missed when pre-checks still fail after this long (default 6h, at most half the interval)',
      )
      .option('--random-delay <duration>', 'spread the start randomly over this long (default 15m)')
      .option('--root <dir>', "resolve the profile's folders under this folder")
      .option('--device-id <id>', 'device id to file the backups under')
      .addOption(
        new Option('--command <path>', 'the edge-recovery executable the scheduler starts (default: this one)'),
      );

  specOptions(schedule.command('install'))
    .description('Install the timer (or cron entry, or task). --dry-run prints exactly what would be installed.')
    .option('--dry-run', 'print the files and commands, change nothing')
    .action(async (o: ScheduleOpts) => {
      const { spec } = await buildSpec(o, false);
      const inst = await import('../engine/schedule/install.js');
      const kind = await schedulerFor(o);
      if (kind !== 'windows') {
        // --dry-run only says so: it installs nothing, and shows what would be refused.
        await refuseCommandOthersCanChange(spec.command).catch((e: unknown) => {
          if (!o.dryRun) throw e;
          process.stderr.write(`Warning: ${(e as Error).message.replace(/ Nothing was installed\.$/, '')}\n`);
        });
      }
      if (spec.passphraseFile) {
        const { readPassphraseFile } = await import('../engine/schedule/passphrase-file.js');
        await readPassphraseFile(spec.passphraseFile); // refuse a file others can read, now rather than at 02:30
      }
      // Every run would refuse a state folder that is not root-only on this machine's own disk: say so now.
      if (kind !== 'windows') checkStateDir(defaultStateDir(spec.stateDir));
      const deps = o.installRoot ? { root: path.resolve(o.installRoot) } : {};
      const plan = o.dryRun ? inst.planInstall(spec, kind, deps) : await inst.installSchedule(spec, kind, deps);
      if (o.json) {
        process.stdout.write(JSON.stringify({ dryRun: o.dryRun === true, ...plan }, null, 2) + '\n');
        return;
      }
      const head = o.dryRun ? 'Would install' : 'Installed';
      const out: string[] = [`${head} a ${kind} schedule for ${spec.profileId}:`];
      for (const f of plan.files)
        out.push(
          '',
          `==> ${f.path} (mode ${f.mode.toString(8)}${f.encoding === 'utf16le' ? ', UTF-16LE' : ''})`,
          f.content.replace(/\r\n/g, '\n').trimEnd(),
        );
      if (plan.commands.length > 0)
        out.push('', `${o.dryRun ? 'Would run' : 'Ran'}:`, ...plan.commands.map((c) => `  ${c.join(' ')}`));
      for (const n of plan.notes) out.push(`Note: ${n}`);
      if (spec.passphraseFile) {
        const { shellWord } = await import('../engine/backup/restore-txt.js');
        out.push(
          '',
          `The passphrase is read from ${spec.passphraseFile} at every run. Keep a copy of it away from this machine`,
          '(sealed envelope, password manager): without it the encrypted backups cannot be restored by anybody.',
          `Print the emergency kit: edge-recovery emergency-kit --profile ${shellWord(spec.profileRef, process.platform !== 'win32')} --out kit.html`,
        );
      }
      process.stdout.write(out.join('\n') + '\n');
    });

  common(schedule.command('remove'))
    .description('Remove the schedule (the backups already made stay).')
    .action(async (o: ScheduleOpts) => {
      const { installedProfileIdFor, removeSchedule } = await import('../engine/schedule/install.js');
      const kind = await schedulerFor(o);
      const deps = o.installRoot ? { root: path.resolve(o.installRoot) } : {};
      // A schedule outlives its profile file: once that is gone (or for a custom profile's id, which only the
      // schedule knows), the schedule that names it is still removed.
      const profileId = await loadProfile(o.profile).then(
        (p) => p.id,
        async (e: unknown) => {
          const id = await installedProfileIdFor(o.profile, kind, deps);
          if (id === null) throw e;
          if (!o.json) process.stderr.write(`Note: ${(e as Error).message}; removing the schedule that names it.\n`);
          return id;
        },
      );
      const removed = await removeSchedule(profileId, kind, deps);
      if (o.json) process.stdout.write(JSON.stringify({ removed }, null, 2) + '\n');
      else
        process.stdout.write(
          removed.length === 0 ? `No schedule for ${profileId} was installed.\n` : `Removed: ${removed.join(', ')}\n`,
        );
    });

  common(schedule.command('status'))
    .description('The installed schedule, the last verified backup of this device and its age, the last runs.')
    .option('--warn-after <age>', 'call the last backup too old after this long (default 7d)')
    .action(async (o: ScheduleOpts & { warnAfter?: string }) => {
      const profile = await loadProfile(o.profile);
      const { findInstalled } = await import('../engine/schedule/install.js');
      const { lastBackup, describeAge } = await import('../engine/schedule/backup-record.js');
      const { readRunLog } = await import('../engine/schedule/run-log.js');
      const { parseDuration } = await import('../engine/schedule/interval.js');
      const stateDir = defaultStateDir(o.stateDir ? path.resolve(o.stateDir) : undefined);
      const kind = await schedulerFor(o);
      const installed = await findInstalled(
        profile.id,
        kind,
        o.installRoot ? { root: path.resolve(o.installRoot) } : {},
      );
      const last = await lastBackup(stateDir, {
        profileId: profile.id,
        ...(o.warnAfter ? { thresholdMs: parseDuration(o.warnAfter, '--warn-after') } : {}),
      });
      const runs = (await readRunLog(stateDir, profile.id)).slice(-5);
      if (o.json) {
        process.stdout.write(JSON.stringify({ installed, lastBackup: last, lastRuns: runs }, null, 2) + '\n');
        return;
      }
      const lines = [
        installed
          ? `Schedule (${installed.kind}): ${installed.when}\n  ${installed.files.join('\n  ')}`
          : `No schedule installed for ${profile.id} (${kind}).`,
        last
          ? `Last verified backup: ${last.createdAt} (${describeAge(last.ageMs)}, ${last.class}) at ${last.setDir}` +
            (last.present ? '' : ' — not reachable now (stick unplugged or removed)') +
            (last.stale
              ? `\nWARNING: the last verified backup is older than ${Math.round(last.thresholdMs / 86_400_000)} days.`
              : '')
          : 'No verified backup of this device is recorded here.',
        ...(runs.length > 0 ? ['Last scheduled runs:', ...runs.map((r) => `  ${r.at} ${r.outcome}: ${r.detail}`)] : []),
      ];
      process.stdout.write(lines.join('\n') + '\n');
      if (last?.stale || !last) process.exitCode = 4;
    });

  specOptions(schedule.command('run'))
    .description(
      'What the scheduler starts: postpone while a pre-check fails, back up (automatic), verify, apply retention, log one line.',
    )
    .action(async (o: ScheduleOpts) => {
      const { spec, profile } = await buildSpec(o, true).catch(async (e: unknown) => {
        await logRefusedRun(o, e);
        throw e;
      });
      const { runScheduledBackup } = await import('../engine/schedule/scheduled-run.js');
      // Read inside the run, so that a file that cannot be read safely is a failed run in the logs too.
      const passphraseFile = spec.passphraseFile;
      const readPassphrase = passphraseFile
        ? async (): Promise<string> =>
            (await import('../engine/schedule/passphrase-file.js')).readPassphraseFile(passphraseFile)
        : undefined;
      const stateDir = defaultStateDir(spec.stateDir);
      const io = runIo(o);
      const r = await runScheduledBackup(
        {
          profile,
          to: spec.to,
          ...(spec.root !== undefined ? { root: spec.root } : {}),
          ...(spec.deviceId !== undefined ? { deviceId: spec.deviceId } : {}),
          ...(readPassphrase !== undefined ? { readPassphrase } : {}),
          retention: {
            ...(spec.keep !== undefined ? { keepAutomatic: spec.keep } : {}),
            ...(spec.keepManual !== undefined ? { keepManual: spec.keepManual } : {}),
            ...(spec.maxAgeMs !== undefined ? { maxAgeAutomaticMs: spec.maxAgeMs } : {}),
          },
          retryEveryMs: spec.retryEveryMs,
          giveUpAfterMs: spec.giveUpAfterMs,
          ...(o.randomDelay !== undefined ? { randomDelayMs: spec.randomDelayMs } : {}),
          stateDir,
        },
        io,
      );
      const summary = {
        type: 'scheduled-run',
        outcome: r.outcome,
        postponed: r.postponed,
        detail: r.detail,
        setDir: r.backup?.setDir ?? null,
        removed: r.backup?.removed ?? [],
        logLine: r.logLine,
        loggedTo: r.loggedTo,
      };
      if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else {
        process.stdout.write(`\n${r.logLine}\n(logged to ${r.loggedTo})\n`);
        for (const x of summary.removed) process.stdout.write(`  removed ${x.dir}: ${x.reason}\n`);
      }
      if (r.error) throw r.error;
    });

  program
    .command('mirror')
    .description('Copy the newest verified backups onto a stick, read each copy back from the stick, keep N there.')
    .requiredOption(
      '--from <dir>',
      "where the backups are (the schedule's --to), or a product's backup folder with --glob",
    )
    .requiredOption('--to <dir>', "the stick's mount point")
    .option('--keep <n>', 'how many of the newest to copy and keep on the stick (default 3)', parseKeep)
    .option('--glob <pattern>', "a product's own backup files instead of ours, e.g. '*.tar.gz.enc' (OpenCRVS)")
    .addOption(new Option('--state-dir <dir>', 'where the job lock lives').env('EDGE_RECOVERY_STATE_DIR'))
    .option('--json', 'print progress and results as JSON lines')
    .action(
      async (o: { from: string; to: string; keep?: number; glob?: string; stateDir?: string; json?: boolean }) => {
        const { runMirror } = await import('../engine/schedule/mirror.js');
        const r = await runMirror(
          {
            from: path.resolve(o.from),
            to: path.resolve(o.to),
            keep: o.keep ?? 3,
            ...(o.glob !== undefined ? { glob: o.glob } : {}),
            stateDir: defaultStateDir(o.stateDir ? path.resolve(o.stateDir) : undefined),
          },
          runIo(o),
        );
        if (!o.json) {
          const lines = [
            ...r.copied.map((p) => `  copied and read back: ${p}`),
            ...r.alreadyThere.map((p) => `  already on the stick, intact: ${p}`),
            ...r.removed.map((p) => `  removed (older than the ${o.keep ?? 3} newest): ${p}`),
          ];
          process.stdout.write(`\nMirror complete.\n${lines.join('\n')}\n`);
        }
      },
    );

  program
    .command('emergency-kit')
    .description(
      'Write the emergency kit: one page to print and keep away from the machine (where the backups are, how to restore, a box for the passphrase).',
    )
    .requiredOption('--profile <id|file>', 'built-in profile id or profile JSON file')
    .option('--out <file>', 'write the HTML here (default: standard output)')
    .option('--passphrase-file <file>', 'where scheduled runs read the passphrase (named on the page, never read)')
    .addOption(new Option('--scheduler <kind>').default('auto').hideHelp())
    .addOption(new Option('--install-root <dir>').hideHelp())
    .addOption(new Option('--state-dir <dir>', 'where the last-backup record lives').env('EDGE_RECOVERY_STATE_DIR'))
    .action(async (o: ScheduleOpts & { out?: string }) => {
      const profile = await loadProfile(o.profile);
      const { emergencyKitHtml } = await import('../engine/schedule/emergency-kit.js');
      const { lastBackup } = await import('../engine/schedule/backup-record.js');
      const { findInstalled } = await import('../engine/schedule/install.js');
      const { localDeviceId } = await import('../engine/media/device-id.js');
      const stateDir = defaultStateDir(o.stateDir ? path.resolve(o.stateDir) : undefined);
      const installed = await findInstalled(
        profile.id,
        await schedulerFor(o),
        o.installRoot ? { root: path.resolve(o.installRoot) } : {},
      ).catch(() => null);
      const last = await lastBackup(stateDir, { profileId: profile.id });
      const me = await localDeviceId();
      const passFromSchedule = installed
        ? /--passphrase-file\s+("[^"]+"|'[^']+'|\S+)/.exec(installed.command)?.[1]?.replace(/^["']|["']$/g, '')
        : undefined;
      const html = emergencyKitHtml({
        profile,
        deviceId: last?.deviceId ?? me.id,
        hostname: me.hostname,
        backupsAt:
          (installed
            ? /--to\s+("[^"]+"|'[^']+'|\S+)/.exec(installed.command)?.[1]?.replace(/^["']|["']$/g, '')
            : undefined) ??
          last?.to ??
          null,
        schedule: installed ? `${installed.kind}: ${installed.when}` : null,
        passphraseFile: o.passphraseFile ? path.resolve(o.passphraseFile) : (passFromSchedule ?? null),
        lastBackup: last,
      });
      if (o.out) {
        const { writeFileAtomic } = await import('../engine/util/atomic-fs.js');
        await writeFileAtomic(path.resolve(o.out), html, 0o644);
        process.stdout.write(
          `Emergency kit written to ${path.resolve(o.out)}: print it and keep it away from the machine.\n`,
        );
      } else process.stdout.write(html);
    });
}
