import { promises as fsp } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import path from 'node:path';
import type { AgeKey } from '../engine/archive/age-key.js';
import type { BackupSet } from '../engine/backup/manifest.js';
import type { BackupResult } from '../engine/backup/run-backup.js';
import { EXIT_CODES, exitCodeFor, RecoveryError, toRecoveryError } from '../engine/errors.js';
import { cleanText } from '../engine/util/clean-text.js';
import { countOf, formatBytes } from '../engine/progress.js';
import type { Profile } from '../engine/profiles/schema.js';
import { defaultStateDir } from '../engine/restore/journal.js';
import type { RunbookIO } from '../engine/runbook/runner.js';
import { checkStateDir, describeHolder, jobLockHolder, withJobLock } from '../engine/util/job-lock.js';
import { TOOL_VERSION } from '../engine/version.js';
import {
  collectFolder,
  envPassphraseGiven,
  getPassphrase,
  takeEnvSecrets,
  parseKeep,
  parseSize,
  readCredentialsFile,
} from './options.js';
import { configurePdf, REPORT_COMMANDS, savedLines, ticketFor } from './report-options.js';
import { registerScheduleCommands } from './schedule-commands.js';
import { rememberedStateDir, rememberStateDir } from './state-dir.js';
import { table, terminalInteraction, terminalSink } from './terminal.js';

// Each command loads the engine parts it needs when it runs (dynamic import): `--help` and `profiles`
// must not pay for the schema library, the WebSocket server, age or the drive listing
// (tests/engine/cli-startup.test.ts checks which packages a command loads).
const engine = {
  backup: () => import('../engine/backup/run-backup.js'),
  handMade: () => import('../engine/backup/hand-made.js'),
  backupJournal: () => import('../engine/backup/backup-journal.js'),
  verify: () => import('../engine/backup/verify-backup.js'),
  list: () => import('../engine/backup/list-backups.js'),
  set: () => import('../engine/backup/manifest.js'),
  device: () => import('../engine/media/device-id.js'),
  drives: () => import('../engine/media/drives.js'),
  profiles: () => import('../engine/profiles/load.js'),
  restore: () => import('../engine/restore/run-restore.js'),
};

/**
 * The backup set at `dir`. A folder that is not one backup but holds some (the stick's mount point, its
 * EdgeRecovery folder) is answered with the list of backups found there, to pick one from.
 */
async function backupSetAt(dir: string): Promise<BackupSet> {
  const abs = path.resolve(dir);
  const { readBackupSet } = await engine.set();
  try {
    return await readBackupSet(abs);
  } catch (e) {
    const err = toRecoveryError(e);
    if (err.code !== 'BACKUP_INCOMPLETE' && err.code !== 'BACKUP_NOT_FOUND') throw err;
    // A set folder itself (its archive parts are there) keeps its own answer: interrupted, exit 3.
    const names = await fsp.readdir(abs).catch(() => [] as string[]);
    if (names.some((n) => n.startsWith('data.tar'))) throw err;
    const { listBackups } = await engine.list();
    const groups = await listBackups(abs).catch(() => []);
    const found = groups.flatMap((g) => g.backups).filter((b) => b.complete && b.path !== abs);
    if (found.length === 0) throw err;
    throw new RecoveryError(
      'BAD_INPUT',
      `${dir} is not one backup; it holds ${found.length} backup${found.length === 1 ? '' : 's'}:\n` +
        found
          .map(
            (b) =>
              `  ${b.path}  (${[b.productName, b.productVersion].filter(Boolean).join(' ')}, ${b.createdAt.replace('T', ' ').slice(0, 16)} UTC, device ${b.deviceId})`,
          )
          .join('\n'),
      { hint: 'Run the command again with one of these backups (a folder, or a hand-made archive file).' },
    );
  }
}

/**
 * The passphrase a backup needs: asked (or read) only when its manifest says it is encrypted, and checked
 * against the backup's encryption header before anything starts. Typed at the prompt, a wrong one is asked
 * again (three tries); from a file or the environment it fails at once. For an encrypted archive the key derived
 * for that check is the job's key (one scrypt per command, not one here and one in the job).
 */
async function passphraseFor(
  backup: string,
  file: string | undefined,
): Promise<{ passphrase?: string; ageKey?: AgeKey }> {
  const { isHandMadeArchive } = await engine.handMade();
  if (await isHandMadeArchive(path.resolve(backup))) return {};
  const set = await backupSetAt(backup);
  // The product's own encrypted backups (OpenCRVS .tar.gz.enc) are opened with its passphrase too.
  const productEncrypted = set.manifest.artifacts.some((a) => a.format === 'openssl-enc-tar-gz');
  if (set.manifest.archive.encryption === null && !productEncrypted) return {};
  const typed = file === undefined && !envPassphraseGiven();
  for (let attempt = 1; ; attempt++) {
    const p = (await getPassphrase({ ...(file ? { file } : {}), create: false, required: true }))!;
    try {
      if (set.manifest.archive.encryption !== null) {
        const { jobKeyFor } = await import('../engine/backup/manifest-integrity.js');
        return { passphrase: p, ageKey: await jobKeyFor(set, p) };
      }
      const { checkPassphrase } = await import('../engine/backup/check-passphrase.js');
      await checkPassphrase(set.dir, set.manifest, p);
      return { passphrase: p };
    } catch (e) {
      const err = toRecoveryError(e);
      if (err.code !== 'WRONG_PASSPHRASE' || !typed || attempt >= 3) throw err;
      process.stderr.write(
        `That passphrase does not open this backup (it is case-sensitive). Try ${attempt + 1} of 3.\n`,
      );
    }
  }
}

/** Remembers a verified manual backup for `status` and the start screen; a failure here never fails the backup. */
async function recordManualBackup(stateDir: string | undefined, to: string, r: BackupResult): Promise<void> {
  const { recordVerifiedBackup } = await import('../engine/schedule/backup-record.js');
  await recordVerifiedBackup(defaultStateDir(stateDir ? path.resolve(stateDir) : undefined), {
    profileId: r.manifest.profile.id,
    deviceId: r.manifest.deviceId,
    setDir: r.setDir,
    to,
    createdAt: r.manifest.createdAt,
    class: r.manifest.class ?? 'manual',
    encrypted: r.manifest.archive.encryption !== null,
  }).catch((e: unknown) => {
    process.stderr.write(`Warning: could not record the backup for "status": ${toRecoveryError(e).message}\n`);
  });
}

/** "Last verified backup of this device: …" for `status` (warns past a week). */
async function lastBackupLine(stateDir: string | undefined): Promise<string> {
  const { lastBackup, describeAge } = await import('../engine/schedule/backup-record.js');
  const last = await lastBackup(defaultStateDir(stateDir ? path.resolve(stateDir) : undefined)).catch(() => null);
  if (last === null) return 'No verified backup of this device is recorded on this machine.\n';
  return (
    `Last verified backup of this device: ${last.createdAt.replace('T', ' ').slice(0, 16)} UTC (${describeAge(last.ageMs)}, ` +
    `${last.class}, ${last.profileId}) at ${last.setDir}${last.present ? '' : ' (not reachable now)'}\n` +
    (last.stale
      ? `WARNING: it is older than ${Math.round(last.thresholdMs / 86_400_000)} days. Make a backup now, or check the schedule (edge-recovery schedule status).\n`
      : '')
  );
}

/** --state-dir (or EDGE_RECOVERY_STATE_DIR) as an engine option. */
function stateDirOpt(o: { stateDir?: string }): { stateDir?: string } {
  return o.stateDir ? { stateDir: path.resolve(o.stateDir) } : {};
}

/**
 * --profile: a built-in id, or a file. A file that is not root-only on this machine's own disk is untrusted input (a
 * stick's): a backup or restore with it needs --allow-profile-commands, as the folders it reads onto the stick or
 * replaces, the service it stops and starts and any command it runs are its writer's choice (the wizard offers only
 * trusted profiles); with the flag, a warning still says so.
 */
async function cliProfile(
  ref: string,
  o: { allowProfileCommands?: boolean },
  job: 'backup' | 'restore',
): Promise<Profile> {
  const { assertCommandsAllowed, loadJudgedProfile, untrustedWarning } = await import('../engine/profiles/trust.js');
  // Read and judged as one file: a link someone else can flip cannot be judged as one file and read as another.
  const { profile, trust } = await loadJudgedProfile(ref);
  if (trust.origin === 'untrusted') {
    assertCommandsAllowed(ref, profile, trust, o.allowProfileCommands === true, undefined, job);
    process.stderr.write(untrustedWarning(ref, trust.reason) + '\n');
  }
  return profile;
}

/** Nobody can answer a question: no terminal to ask on, or --json (which never asks). */
function nobodyToAsk(o: { json?: boolean }): boolean {
  return o.json === true || !process.stdin.isTTY;
}

/**
 * A job whose questions nobody can answer, refused before it starts (exit 2, nothing locked, written or touched):
 * every question would be answered "no", so it would run up to its first one (for a backup: with the pre-checks
 * done; for a rollback: with the service stopped) and stop there.
 */
function refuseNobodyToAsk(o: { json?: boolean }, would: string, hint: string, missing = '--yes'): never {
  throw new RecoveryError(
    'BAD_INPUT',
    `${o.json === true ? 'With --json nobody is asked' : 'There is no terminal to ask on'} and ${missing} was not given: ${would}`,
    { hint },
  );
}

/** The journal of a finished restore in that state folder, or null (none, unfinished, or not readable here). */
/** Whether every job refuses this state folder (checkStateDir): not root-only, or not on this machine's own disk. */
function refusesStateDir(dir: string): boolean {
  try {
    checkStateDir(dir);
    return false;
  } catch {
    return true;
  }
}

async function finishedRestore(dirOpt: { stateDir?: string }) {
  const { readJournal, stateDirMissing } = await import('../engine/restore/journal.js');
  // A missing folder is said by the command itself (and never made by a look here).
  if (dirOpt.stateDir !== undefined && (await stateDirMissing(dirOpt.stateDir))) return null;
  const j = await readJournal(defaultStateDir(dirOpt.stateDir)).catch(() => null);
  return j?.status === 'finished' ? j : null;
}

const ALLOW_COMMANDS_HELP =
  'use an untrusted profile file (not root-only on this machine\'s own disk, e.g. on the stick): root reads its folders onto the stick or replaces them, stops and starts its service, and runs its commands (a "process" service, a command step) or reads files as root to copy onto the stick or show (an artifact or follow-log step); read it first';

function out(json: boolean, value: unknown, human: () => string): void {
  // Names and paths in the text may come from a stick: no control character reaches the terminal.
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : cleanText(human()));
}

function io(o: { json?: boolean; yes?: boolean; credentials?: Record<string, Record<string, string>> }): RunbookIO {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  // The terminal going away (an SSH session dropped: SIGHUP) or a plain `kill` (SIGTERM) cancels like Ctrl-C, so a
  // backup starts the service it stopped before the process ends, instead of dying with the product down.
  process.once('SIGTERM', () => ac.abort());
  process.once('SIGHUP', () => {
    // Nobody reads the terminal any more: writing to it fails (EIO), which must not end the job mid-way.
    for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
    ac.abort();
  });
  return {
    emit: terminalSink({ json: o.json === true }),
    interaction: terminalInteraction({
      yes: o.yes === true,
      json: o.json === true,
      ...(o.credentials ? { credentials: o.credentials } : {}),
    }),
    signal: ac.signal,
  };
}

/** `profiles` without --json: the table of what every shipped profile states (no schema library needed). */
async function profilesTable(): Promise<() => string> {
  const ps = Object.values((await import('../engine/profiles/builtin-sources.js')).BUILTIN_SOURCES);
  return () =>
    table([
      ['ID', 'PRODUCT', 'PLATFORM', 'SERVICE', 'FOLDERS'],
      ...ps.map((p) => [
        p.id,
        p.productName,
        p.platform,
        `${p.service.manager}:${p.service.name}`,
        // Optional folders marked (Logs read as always backed up), and a profile without folders says what it
        // backs up instead of an empty column.
        (p.items ?? [])
          .map(
            (i) =>
              `${i.path}${i.required === false ? (i.selected === false ? ' (optional, off unless --include)' : ' (optional)') : ''}`,
          )
          .join(', ') || "none: the product's own backup, through its steps",
      ]),
    ]) + 'A profile can also be a JSON file: --profile ./my-product.json (see the README).\n';
}

/**
 * What `--help`, `--version` and `profiles` print, exactly as the program prints them without a terminal (80
 * columns, no colours): written to dist/cli-quick.json at build time, so bin/edge-recovery.js answers these
 * without loading the program (start-up CPU, issue 9). tests/engine/cli-help.test.ts compares the two.
 */
export async function quickAnswers(): Promise<Record<string, string>> {
  const answers: Record<string, string> = {};
  for (const [key, args] of [
    ['--help', ['--help']],
    ['--version', ['--version']],
  ] as const) {
    let text = '';
    const program = buildProgram().configureOutput({
      writeOut: (str) => (text += str),
      writeErr: (str) => (text += str),
      getOutHelpWidth: () => 80,
      getErrHelpWidth: () => 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    });
    await program.parseAsync(['node', 'edge-recovery', ...args]).catch((e: unknown) => {
      if (!(e instanceof CommanderError) || e.exitCode !== 0) throw e;
    });
    answers[key] = text;
  }
  answers['profiles'] = cleanText((await profilesTable())());
  return answers;
}

export function buildProgram(): Command {
  const program = new Command('edge-recovery')
    .description('Back up and restore edge appliances (AVEVA Edge Data Store first) with a USB stick, offline.')
    .version(TOOL_VERSION)
    .exitOverride();

  program
    .command('profiles')
    .description('List the built-in product profiles.')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      // The table needs only what every shipped profile states; --json prints them parsed (defaults filled in).
      if (!o.json) {
        out(false, null, await profilesTable());
        return;
      }
      out(true, (await engine.profiles()).builtinProfiles(), () => '');
    });

  program
    .command('drives')
    .description('List USB sticks and other removable drives; system drives are hidden unless --all.')
    .option('--all', 'also show hidden drives, with the reason they are hidden')
    .option('--json', 'machine-readable output')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const { listDrives } = await engine.drives();
      const drives = await listDrives({ all: !!o.all });
      out(!!o.json, drives, () => {
        if (drives.length === 0) return 'No removable drive found. Plug in a USB stick (and mount it), or use --all.\n';
        return table([
          ['DEVICE', 'LABEL', 'SIZE', 'FREE', 'FS', 'MOUNTED AT', 'STATUS'],
          ...drives.map((d) => {
            const m = d.mountpoints[0];
            return [
              d.device,
              d.label ?? '',
              d.sizeBytes !== null ? formatBytes(d.sizeBytes) : '?',
              m?.freeBytes != null ? formatBytes(m.freeBytes) : '',
              m?.fsType ?? '',
              d.mountpoints.map((x) => x.path).join(', '),
              d.status === 'ok' ? 'ok' : `${d.status}: ${d.reasons.map((r) => r.message).join('; ')}`,
            ];
          }),
        ]);
      });
    });

  program
    .command('list <dir>')
    .description('List the backups on a stick (its mount point) or in a folder, grouped by device, newest first.')
    .option('--device <id>', 'only this device')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, o: { device?: string; json?: boolean }) => {
      const [{ localDeviceId }, { listBackups }] = await Promise.all([engine.device(), engine.list()]);
      const me = await localDeviceId();
      const groups = await listBackups(dir, { ...(o.device ? { device: o.device } : {}), thisDeviceId: me.id });
      out(!!o.json, groups, () => {
        if (groups.length === 0) return `No backups under ${dir}.\n`;
        return groups
          .map(
            (g) =>
              `Device ${g.deviceId}${g.hostname ? ` (${g.hostname})` : ''}${g.thisDevice ? ' — this machine' : ''}\n` +
              // A header names the columns (the times are UTC; "?" for a version read as a glitch).
              table([
                ['  MADE (UTC)', 'PROFILE', 'VERSION', 'SIZE', 'DATA', 'CLASS', 'FOLDER'],
                ...g.backups.map((b) => [
                  '  ' + b.createdAt.replace('T', ' ').slice(0, 16),
                  b.profileId,
                  b.productVersion ?? 'not recorded',
                  formatBytes(b.sizeBytes),
                  b.encrypted ? 'encrypted' : 'plain',
                  b.complete ? b.class : '',
                  b.complete ? path.basename(b.path) : `INCOMPLETE (${b.problem ?? ''}) ${path.basename(b.path)}`,
                ]),
              ]),
          )
          .join('\n');
      });
    });

  program
    .command('backup')
    .description('Back up the product folders to a stick: stop the service, archive, verify, start it again.')
    .usage('--profile <id|file> --to <dir> [options]')
    .option('--profile <id|file>', 'built-in profile id or profile JSON file (required)')
    .option('--to <dir>', "the stick's mount point (or any folder) (required)")
    .option('--root <dir>', "resolve the profile's folders under this folder")
    .option(
      '--folder <id=path>',
      "back up this folder instead of the profile's for one item (repeatable), e.g. Storage=/data/eds/Storage",
      collectFolder,
    )
    .option(
      '--include <id>',
      'also back up an optional folder that is off by default, e.g. Logs (repeatable)',
      (v: string, acc: string[] = []) => [...acc, v],
    )
    .option(
      '--exclude <id>',
      'leave out an optional folder that is on by default, e.g. Certificates (repeatable)',
      (v: string, acc: string[] = []) => [...acc, v],
    )
    .option('--device-id <id>', 'device id to file the backup under (default: hostname + machine id)')
    .option('--label <name>', "the backup's name, where the product names its backups (EVC-net Edge's manual backups)")
    .option('--encrypt', 'encrypt with a passphrase (age format)')
    .option('--passphrase-file <file>', 'read the passphrase from a file (else EDGE_RECOVERY_PASSPHRASE or a prompt)')
    .option(
      '--keep <n>',
      'keep the newest n backups of this device and profile: once this one is verified, older ones beyond n that this machine wrote are deleted',
      parseKeep,
    )
    .option('--split-size <size>', 'split the archive into parts (e.g. 4G); automatic on FAT32', parseSize)
    .option('--leave-stopped', 'leave the service stopped afterwards')
    .option('--allow-profile-commands', ALLOW_COMMANDS_HELP)
    .option('--strict', 'fail (instead of warn) when a file changes while it is backed up')
    .option(
      '--yes',
      'do not ask before stopping the service (with service manager "none": it was stopped by hand); needed without a terminal or with --json',
    )
    .option('--ticket <number>', 'service ticket number for the report (remembered for the next job)')
    .option('--site <name>', 'site for the report (remembered)')
    .option('--technician <name>', 'technician for the report (remembered)')
    .addOption(new Option('--state-dir <dir>', 'where the job lock and journals live').env('EDGE_RECOVERY_STATE_DIR'))
    .option('--json', 'print progress and results as JSON lines')
    .action(
      async (o: {
        profile: string;
        to: string;
        root?: string;
        // No defaults given to commander: its help printed them as "(default: {})" and "(default: [])".
        folder?: Record<string, string>;
        include?: string[];
        exclude?: string[];
        deviceId?: string;
        label?: string;
        encrypt?: boolean;
        passphraseFile?: string;
        keep?: number;
        splitSize?: number;
        leaveStopped?: boolean;
        strict?: boolean;
        yes?: boolean;
        stateDir?: string;
        json?: boolean;
        allowProfileCommands?: boolean;
        ticket?: string;
        site?: string;
        technician?: string;
      }) => {
        const { runBackup, checkBackupTarget } = await engine.backup();
        const profile = await cliProfile(o.profile, o, 'backup');
        await checkBackupTarget(path.resolve(o.to)); // before the ticket is remembered: bad input changes nothing
        // A product that backs itself up while it runs is never stopped, so its backup asks nothing.
        if (o.yes !== true && nobodyToAsk(o) && profile.stopService.includes('backup')) {
          refuseNobodyToAsk(
            o,
            'this backup would stop at its first question ("stop the service?"), after its pre-checks, before anything is copied.',
            (profile.service.manager === 'none'
              ? `Stop ${profile.productName} by hand, then add --yes (it says the service was stopped by hand)`
              : `Add --yes to go ahead without questions (${profile.productName} stops while its folders are copied${o.leaveStopped === true ? ' and stays stopped' : ', then starts again'})`) +
              ', or run the command in a terminal to answer each question. Nothing was changed. (Scheduled backups, "edge-recovery schedule", never ask.)',
          );
        }
        // The ticket is remembered in the state folder: only in one that passed the check (UNSAFE_PATH, exit 4).
        checkStateDir(defaultStateDir(stateDirOpt(o).stateDir));
        const wantsEncryption = o.encrypt === true || o.passphraseFile !== undefined;
        const askPassphrase = () =>
          getPassphrase({ ...(o.passphraseFile ? { file: o.passphraseFile } : {}), create: true, required: true });
        // A passphrase file is read before the ticket is remembered (a bad one changes nothing); a prompt comes after.
        const fromFile = o.passphraseFile !== undefined ? await askPassphrase() : undefined;
        const ticket = await ticketFor(o, defaultStateDir(stateDirOpt(o).stateDir));
        const passphrase = fromFile ?? (wantsEncryption ? await askPassphrase() : undefined);
        const r = await runBackup(
          {
            profile,
            to: path.resolve(o.to),
            ...(o.root ? { root: path.resolve(o.root) } : {}),
            ...(o.folder && Object.keys(o.folder).length > 0 ? { folders: o.folder } : {}),
            ...(o.include && o.include.length > 0 ? { include: o.include } : {}),
            ...(o.exclude && o.exclude.length > 0 ? { exclude: o.exclude } : {}),
            ...(o.deviceId ? { deviceId: o.deviceId } : {}),
            ...(o.label !== undefined ? { label: o.label } : {}),
            ...(passphrase !== undefined ? { passphrase } : {}),
            ...(o.keep !== undefined ? { keep: o.keep } : {}),
            ...(o.splitSize !== undefined ? { splitSize: o.splitSize } : {}),
            leaveStopped: o.leaveStopped === true,
            strict: o.strict === true,
            ticket,
            ...stateDirOpt(o),
          },
          io(o),
        );
        await recordManualBackup(o.stateDir, path.resolve(o.to), r);
        if (!o.json) {
          process.stdout.write(
            `\nBackup complete and verified: ${r.setDir}\n` +
              `  device ${r.manifest.deviceId}, ${countOf(r.manifest.files, 'file')}, ${formatBytes(r.manifest.contentBytes)}, ` +
              `${countOf(r.manifest.archive.parts.length, 'part')}${r.manifest.archive.encryption ? ', encrypted' : ''}\n` +
              `  How to restore by hand: ${path.join(r.setDir, 'RESTORE.txt')}\n`,
          );
          for (const w of r.warnings) process.stdout.write(`  Warning: ${w}\n`);
          process.stdout.write(cleanText(await savedLines(r.reports, defaultStateDir(stateDirOpt(o).stateDir))));
        }
      },
    );

  program
    .command('verify <backup>')
    .description(
      'Read a backup completely and check every part and every file against its checksum; a hand-made .tar, .tar.gz/.tgz or .zip is read through and judged (it has no checksums).',
    )
    .option('--passphrase-file <file>', 'passphrase of an encrypted backup')
    .option(
      '--profile <id|file>',
      "a hand-made archive's product profile (finds its folders by name; default eds-linux)",
    )
    .option('--json', 'print progress and results as JSON lines')
    .action(async (backup: string, o: { passphraseFile?: string; profile?: string; json?: boolean }) => {
      const { passphrase, ageKey } = await passphraseFor(backup, o.passphraseFile);
      const [{ runVerify }, { loadProfile }] = await Promise.all([engine.verify(), engine.profiles()]);
      const r = await runVerify(
        path.resolve(backup),
        {
          ...(passphrase !== undefined ? { passphrase } : {}),
          ...(ageKey ? { ageKey } : {}),
          ...(o.profile ? { profile: await loadProfile(o.profile) } : {}),
        },
        io(o),
      );
      if (o.json) return;
      if ('handMade' in r) {
        process.stdout.write(
          `\nRead through: ${r.files} files of ${backup}, every entry acceptable.\n  ${r.note}\n  ${r.mapping}\n` +
            `  To make a backup set that is checked file by file from now on: edge-recovery adopt ${backup} --to <stick>\n`,
        );
      } else {
        const own = r.set.manifest.artifacts.length;
        process.stdout.write(
          `\nOK: all ${r.files} files${own > 0 ? ` and the product's own ${countOf(own, 'file')}` : ''} of ${backup} match their checksums.\n`,
        );
      }
    });

  program
    .command('adopt <archive>')
    .description(
      'Make a proper backup set (manifest, checksums of every file, RESTORE.txt) of a hand-made .tar, .tar.gz/.tgz or .zip, then verify it.',
    )
    .requiredOption('--to <dir>', "the stick's mount point (or any folder)")
    .option('--profile <id|file>', 'the product profile (finds the folders by name)', 'eds-linux')
    .option('--device-id <id>', 'the device the archive comes from (default: hand-made)')
    .option('--split-size <size>', 'split the archive into parts (e.g. 4G); automatic on FAT32', parseSize)
    .option('--json', 'print progress and results as JSON lines')
    .action(async (archive: string, o: AdoptCliOptions) => {
      const [{ loadProfile }, { runAdopt }] = await Promise.all([engine.profiles(), engine.handMade()]);
      const profile = await loadProfile(o.profile);
      const r = await runAdopt(
        {
          source: path.resolve(archive),
          profile,
          to: path.resolve(o.to),
          ...(o.deviceId ? { deviceId: o.deviceId } : {}),
          ...(o.splitSize !== undefined ? { splitSize: o.splitSize } : {}),
        },
        io(o),
      );
      if (!o.json) {
        process.stdout.write(
          `\nBackup set written and verified: ${r.setDir}\n  ${r.manifest.files} files, ${formatBytes(r.manifest.contentBytes)}\n  ${r.mapping}\n` +
            `  How to restore by hand: ${path.join(r.setDir, 'RESTORE.txt')}\n`,
        );
      }
    });

  program
    .command('restore <backup>')
    .description(
      'Restore a backup (a set made by this tool, or a hand-made .tar, .tar.gz/.tgz or .zip) onto this machine: verify, check compatibility, swap folders reversibly, repair owners, re-enter credentials.',
    )
    .usage('<backup> --profile <id|file> [options]')
    .option('--profile <id|file>', 'built-in profile id or profile JSON file (required)')
    .option('--root <dir>', "resolve the profile's folders under this folder")
    .option('--passphrase-file <file>', 'passphrase of an encrypted backup')
    .option('--credentials-file <file>', 'JSON with the secrets to re-enter (else asked, hidden)')
    .option(
      '--yes',
      'do not ask before destructive steps (needed without a terminal or with --json); roll back by itself on failure',
    )
    .option('--allow-version-mismatch', 'restore even if the installed version does not fit the version policy')
    .option('--allow-other-device', 'restore a backup made on another device (the normal case on replacement hardware)')
    .option('--keep-defaults', 'keep the set-aside default folders after a successful restore (also what --yes does)')
    .option(
      '--delete-old',
      'delete the set-aside default folders after a successful restore, without asking (--yes alone keeps them)',
    )
    .option('--allow-profile-commands', ALLOW_COMMANDS_HELP)
    .option('--ticket <number>', 'service ticket number for the report (remembered for the next job)')
    .option('--site <name>', 'site for the report (remembered)')
    .option('--technician <name>', 'technician for the report (remembered)')
    .addOption(new Option('--state-dir <dir>', 'where the restore journal lives').env('EDGE_RECOVERY_STATE_DIR'))
    .option('--json', 'print progress and results as JSON lines')
    .action(async (backup: string, o: RestoreCliOptions) => {
      if (o.keepDefaults === true && o.deleteOld === true) {
        throw new RecoveryError('BAD_INPUT', '--keep-defaults and --delete-old say opposite things.', {
          hint: 'Give one of them: --keep-defaults keeps the old folders, --delete-old deletes them at the end.',
        });
      }
      const { runRestore } = await engine.restore();
      const profile = await cliProfile(o.profile, o, 'restore');
      if (o.yes !== true && nobodyToAsk(o)) {
        // Refused before anything happens (no lock, no journal, nothing unpacked): without anyone to ask, every
        // question is answered no, so the restore checked and unpacked the whole backup (an hour for a big one)
        // and only then stopped at "Stop the service". A wrong backup path is still said first.
        if (!(await (await engine.handMade()).isHandMadeArchive(path.resolve(backup)))) await backupSetAt(backup);
        refuseNobodyToAsk(
          o,
          'this restore would stop at its first question (such as "stop the service?"), after checking and unpacking the whole backup.',
          'Add --yes to go ahead without questions (the old folders are kept; --delete-old deletes them), or run the command in a terminal to answer each question. Nothing was changed.',
        );
      }
      const { passphrase, ageKey } = await passphraseFor(backup, o.passphraseFile);
      const credentials = o.credentialsFile ? await readCredentialsFile(o.credentialsFile) : undefined;
      checkStateDir(defaultStateDir(stateDirOpt(o).stateDir));
      const ticket = await ticketFor(o, defaultStateDir(stateDirOpt(o).stateDir));
      const runIo = io({ ...o, ...(credentials ? { credentials } : {}) });
      // One lock for the restore and the rollback offered after it fails: no other job can slip in between.
      await withJobLock(defaultStateDir(stateDirOpt(o).stateDir), { command: 'restore' }, async () => {
        // Only now, with the folder checked and the job locked: a refused folder is never one that `status`,
        // `finish` or `rollback` follow later.
        if (o.stateDir) await rememberStateDir(o.stateDir);
        try {
          const r = await runRestore(
            {
              backup: path.resolve(backup),
              profile,
              ...(o.root ? { root: path.resolve(o.root) } : {}),
              ...(passphrase !== undefined ? { passphrase } : {}),
              ...(ageKey ? { ageKey } : {}),
              allowOtherDevice: o.allowOtherDevice === true,
              allowVersionMismatch: o.allowVersionMismatch === true,
              keepDefaults: o.keepDefaults === true,
              deleteOld: o.deleteOld === true,
              ticket,
              ...stateDirOpt(o),
            },
            runIo,
          );
          if (!o.json) {
            process.stdout.write(
              '\nRestore complete.\n' +
                cleanText(await savedLines(r.reports, defaultStateDir(stateDirOpt(o).stateDir))),
            );
          }
        } catch (e) {
          await offerRollback(e, o, runIo);
        }
      });
    });

  program
    .command('status')
    .description('Show an unfinished restore and where it stopped.')
    .addOption(new Option('--state-dir <dir>', 'where the restore journal lives').env('EDGE_RECOVERY_STATE_DIR'))
    .option('--json', 'machine-readable output')
    .action(async (o: { stateDir?: string; json?: boolean }) => {
      const { restoreStatus, isUnfinished } = await engine.restore();
      const { stampOf } = await import('../engine/restore/status.js');
      const dirOpt = await rememberedStateDir(o);
      const found = await restoreStatus(dirOpt);
      const s = isUnfinished(found) ? found : null;
      // The commands to type next carry the state folder when it is not the default one.
      const suffix = dirOpt.stateDir ? ` --state-dir ${dirOpt.stateDir}` : '';
      const { leftToDo } = await import('../engine/restore/after-restore.js');
      const { readJournal, stateDirMissing, noStateDirWords } = await import('../engine/restore/journal.js');
      const last = s === null && found ? await readJournal(defaultStateDir(dirOpt.stateDir)).catch(() => null) : null;
      const { keptPractice, keptPracticeWords } = await import('../engine/restore/practice-kept.js');
      const practice = found ? await keptPractice(defaultStateDir(dirOpt.stateDir)) : null;
      // A kept sandbox off this machine's own disk (practice --dir on a stick, a tmpfs /tmp): finish refuses its
      // state folder, so it is not offered there.
      const finishRefused = practice !== null && refusesStateDir(defaultStateDir(dirOpt.stateDir));
      const todo =
        last && last.status === 'finished'
          ? leftToDo(last, suffix, { practiceStopped: practice !== null, finishRefused })
          : [];
      const running = jobLockHolder(defaultStateDir(dirOpt.stateDir));
      // A mistyped --state-dir said only "No unfinished restore.", as if the machine had none.
      const missingDir = dirOpt.stateDir !== undefined && (await stateDirMissing(dirOpt.stateDir));
      if (running !== null && !o.json) process.stdout.write(`Running now: ${describeHolder(running)}.\n`);
      out(!!o.json, s, () =>
        s === null
          ? `No unfinished restore.${found ? ` The last one (${found.id}) ended: ${found.where}` : missingDir ? ` ${noStateDirWords(dirOpt.stateDir!)} If the restore was started with --state-dir, give the same one.` : ''}\n` +
            (todo.length > 0 ? `Left to do:\n${todo.map((t) => `  - ${t}`).join('\n')}\n` : '')
          : `Unfinished restore ${s.id} of ${s.backup} (profile ${s.profileId}), started ${stampOf(s.startedAt)}.\n` +
            `It stopped: ${s.where}\n` +
            s.steps.map((x) => `  [${x.state}] ${x.title}${x.summary ? `: ${x.summary}` : ''}`).join('\n') +
            `\n\nNext: ${[s.canResume ? `edge-recovery resume${suffix}` : '', s.canRollback ? `edge-recovery rollback${suffix}` : ''].filter(Boolean).join('  or  ')}\n`,
      );
      if (practice !== null && !o.json) process.stdout.write(cleanText(keptPracticeWords(practice)));
      if (!o.json) process.stdout.write(await lastBackupLine(o.stateDir));
      if (s !== null) process.exitCode = EXIT_CODES.REFUSED;
    });

  program
    .command('resume')
    .description('Continue an unfinished restore from where it stopped.')
    .option('--passphrase-file <file>', 'passphrase of an encrypted backup')
    .option('--credentials-file <file>', 'JSON with the secrets to re-enter')
    .option('--yes', 'do not ask before destructive steps (needed without a terminal or with --json)')
    .addOption(
      new Option('--state-dir <dir>', 'where the restore journal lives (the one the restore was started with)').env(
        'EDGE_RECOVERY_STATE_DIR',
      ),
    )
    .option('--json', 'print progress and results as JSON lines')
    .action(async (o: RestoreCliOptions) => {
      const credentials = o.credentialsFile ? await readCredentialsFile(o.credentialsFile) : undefined;
      const passphrase = await getPassphrase({
        ...(o.passphraseFile ? { file: o.passphraseFile } : {}),
        create: false,
        required: false,
      });
      const runIo = io({ ...o, ...(credentials ? { credentials } : {}) });
      const { resumeRestore } = await engine.restore();
      const dirOpt = await rememberedStateDir(o);
      // Said before the lock, which would make a mistyped state folder.
      const { refuseMissingStateDir } = await import('../engine/restore/journal.js');
      await refuseMissingStateDir(defaultStateDir(dirOpt.stateDir));
      if (o.yes !== true && nobodyToAsk(o)) {
        // Only a restore it can resume: "nothing to resume" is said by the resume itself, as with a terminal.
        const st = await (await engine.restore()).restoreStatus(dirOpt).catch(() => null);
        if (st?.canResume === true)
          refuseNobodyToAsk(
            o,
            'this resume would stop at its next question (such as "stop the service?" or "replace the folders?").',
            'Add --yes to go ahead without questions (the old folders are kept), or run the command in a terminal to answer each question. Nothing was changed: "edge-recovery status" says where the restore stopped.',
          );
      }
      await withJobLock(defaultStateDir(dirOpt.stateDir), { command: 'resume' }, async () => {
        try {
          const r = await resumeRestore({ ...dirOpt, ...(passphrase !== undefined ? { passphrase } : {}) }, runIo);
          if (!o.json) {
            process.stdout.write(
              '\nRestore complete.\n' + cleanText(await savedLines(r.reports, defaultStateDir(dirOpt.stateDir))),
            );
          }
        } catch (e) {
          await offerRollback(e, o, runIo);
        }
      });
    });

  program
    .command('rollback')
    .description('Undo an unfinished restore: put the set-aside folders back and the service as it was.')
    .option('--yes', 'do not ask (needed without a terminal or with --json)')
    .addOption(
      new Option('--state-dir <dir>', 'where the restore journal lives (the one the restore was started with)').env(
        'EDGE_RECOVERY_STATE_DIR',
      ),
    )
    .option('--json', 'print progress and results as JSON lines')
    .action(async (o: { yes?: boolean; json?: boolean; stateDir?: string }) => {
      const { rollbackRestore, restoreStatus } = await engine.restore();
      const dirOpt = await rememberedStateDir(o);
      if (o.yes !== true && nobodyToAsk(o)) {
        // It stops the service and undoes the product's own steps before its question: refused before any of it.
        const st = await restoreStatus(dirOpt).catch(() => null);
        if (st?.canRollback === true)
          refuseNobodyToAsk(
            o,
            'this rollback would stop at its question ("roll back?") with nothing put back, after stopping the service if the restore had touched it.',
            'Add --yes to roll back without questions (the folders found before the restore go back into place, the service as it was), or run the command in a terminal to answer. Nothing was changed: "edge-recovery status" says where the restore stopped.',
          );
      }
      await rollbackRestore(dirOpt, io(o));
      if (!o.json) process.stdout.write('\nRolled back: the machine is as it was before the restore.\n');
    });

  registerScheduleCommands(program);

  program
    .command('practice [profile-id]')
    .description(
      'Rehearse a whole backup and restore on practice stand-ins (a sandbox folder, a folder as the stick) and say where everything is: eds-practice (default; an "old" and a "replacement" Edge Data Store), opencrvs, stackstate-linux, evc-edge, deviceon-linux.',
    )
    .option('--yes', 'do not ask before destructive steps (needed without a terminal or with --json)')
    .option('--keep', 'keep the sandbox folder afterwards (to look at the stick and the report)')
    .option('--dir <folder>', 'make the sandbox in this folder (default: the system temp folder)')
    .option('--json', 'print progress and results as JSON lines')
    .action(
      async (profileId: string | undefined, o: { yes?: boolean; keep?: boolean; dir?: string; json?: boolean }) => {
        const { practiceCommand, PRACTICE_STAND_INS } = await import('./practice-command.js');
        if (o.dir) {
          // A file or a device given as the folder: said so (it said "EEXIST: file already exists, mkdir …").
          const { refuseSpecialPath } = await import('../engine/util/given-path.js');
          await refuseSpecialPath(
            path.resolve(o.dir),
            'a folder to make the practice sandbox in',
            'Give a folder (it is made if it does not exist), or leave --dir out to use the system temp folder.',
            {
              folderOnly: true,
            },
          );
        }
        const { practiceProfileIds } = await import('../practice/product-practice.js');
        const known =
          profileId === undefined || profileId in PRACTICE_STAND_INS || practiceProfileIds().includes(profileId);
        if (known && o.yes !== true && nobodyToAsk(o)) {
          // As for restore: nobody can answer its questions, so it would set up both appliances and stop at the first.
          refuseNobodyToAsk(
            o,
            'the practice would stop at its first question (such as "stop the service?").',
            'Add --yes to go ahead without questions, or run the command in a terminal to answer each question as on a real machine. Nothing was set up.',
          );
        }
        // Edge Data Store's stand-in has two appliances (old and replacement); other products' stand-ins are theirs.
        if (profileId === undefined || profileId in PRACTICE_STAND_INS) {
          await practiceCommand(profileId, { ...o, ...(o.dir ? { baseDir: path.resolve(o.dir) } : {}) }, () => io(o));
          return;
        }
        const { runProductPractice } = await import('../practice/product-practice.js');
        const r = await runProductPractice(profileId, io(o), {
          keep: o.keep === true,
          ...(o.dir ? { baseDir: path.resolve(o.dir) } : {}),
        });
        if (!o.json) {
          // Without --keep the sandbox (its stick, the backup, the report) is gone by now: no paths to dead files.
          const { reportFilesText } = await import('../engine/report/saved-at.js');
          process.stdout.write(
            `\nPractice of ${r.profileId} complete.\n  ${r.check}\n` +
              (o.keep
                ? `  Backup: ${r.setDir}\n  Report written ${reportFilesText(r.reports, path.join(r.sandbox, 'state', 'reports'))}.\n` +
                  `  Sandbox kept: ${r.sandbox}\n`
                : '  The practice sandbox (its stick, the backup and the report) was removed; --keep keeps it to look at.\n'),
          );
        }
      },
    );

  program
    .command('finish')
    .description('Delete the old folders a finished restore kept (asks first unless --yes).')
    .option('--yes', 'do not ask (needed without a terminal or with --json)')
    .addOption(new Option('--state-dir <dir>', 'where the restore journal lives').env('EDGE_RECOVERY_STATE_DIR'))
    .option('--json', 'print progress and results as JSON lines')
    .action(async (o: { yes?: boolean; json?: boolean; stateDir?: string }) => {
      const { deleteKeptFolders } = await import('../engine/restore/after-restore.js');
      const dirOpt = await rememberedStateDir(o);
      if (o.yes !== true && nobodyToAsk(o) && (await finishedRestore(dirOpt))?.oldFolders?.decision === 'kept')
        refuseNobodyToAsk(
          o,
          'finish would only ask "delete the old folders?" and, with nobody to answer, keep them.',
          'Add --yes to delete the old folders the restore kept (they are gone for good), or run the command in a terminal to be asked. Nothing was changed.',
        );
      const r = await deleteKeptFolders(dirOpt, io(o));
      if (!o.json)
        process.stdout.write(
          r.removed.length > 0 ? `\nDeleted: ${r.removed.join(', ')}\n` : '\nNothing was deleted.\n',
        );
    });

  program
    .command('credentials')
    .description('Enter the credentials a finished restore left open, through the running product, then restart it.')
    .option('--credentials-file <file>', 'JSON with the secrets to enter (else asked, hidden)')
    .addOption(new Option('--state-dir <dir>', 'where the restore journal lives').env('EDGE_RECOVERY_STATE_DIR'))
    .option('--json', 'print progress and results as JSON lines')
    .action(async (o: { credentialsFile?: string; json?: boolean; stateDir?: string }) => {
      const { enterOpenCredentials } = await import('../engine/restore/after-restore.js');
      const credentials = o.credentialsFile ? await readCredentialsFile(o.credentialsFile) : undefined;
      const dirOpt = await rememberedStateDir(o);
      // Nobody to type the secrets: every open entry would stay open (it also restarted the product for nothing).
      // A profile that lists no credentials (or has no API to send them through) asks nothing: not refused.
      const finished = credentials === undefined && nobodyToAsk(o) ? await finishedRestore(dirOpt) : null;
      if (finished !== null && finished.profile.credentials.length > 0 && finished.profile.api !== undefined)
        refuseNobodyToAsk(
          o,
          'nobody can type the secrets, so the open credentials would stay open.',
          'Give the secrets in a file with --credentials-file <file> (JSON: {"<resource>/<entry id>" or "<entry name>": {"Password": "…"}}), or run the command in a terminal to type them (hidden). Nothing was changed.',
          '--credentials-file',
        );
      const r = await enterOpenCredentials(dirOpt, io({ ...o, ...(credentials ? { credentials } : {}) }));
      if (!o.json)
        process.stdout.write(
          r.noneListed
            ? `\nThere are no credentials to enter: the profile of ${r.productName} lists none. Nothing was restarted.\n`
            : r.pending.length > 0
              ? `\nStill open: ${r.pending.join(', ')}\n`
              : r.restarted
                ? '\nAll credentials are entered; the product was restarted.\n'
                : `\nNo credential needs to be entered: ${r.productName} was not restarted.\n`,
        );
      if (r.pending.length > 0) process.exitCode = EXIT_CODES.FAILED;
    });

  program
    .command('serve')
    .description(
      'Serve the wizard to a browser on this machine only (127.0.0.1 or a Unix socket), e.g. through an SSH tunnel.',
    )
    .option('--practice', 'practice mode: two practice appliances in a sandbox, a folder as the stick')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', (s) => Number(s))
    .option('--socket <path>', 'listen on this Unix socket instead (0600 in a 0700 folder), for ssh -L 8080:<path>')
    .option('--new-link', 'ask the running serve for a fresh one-time sign-in link (e.g. after closing the tab)')
    .addOption(
      new Option('--state-dir <dir>', 'where the job lock and the sign-in link live').env('EDGE_RECOVERY_STATE_DIR'),
    )
    .action(async (o: { practice?: boolean; port?: number; socket?: string; newLink?: boolean; stateDir?: string }) => {
      const { serveCommand } = await import('./serve-command.js');
      await serveCommand(o);
    });

  // A mistake shows the one usage line of its command, not the whole help; required options are checked after
  // commander has looked for unknown ones, so a typo says "unknown option".
  program.showHelpAfterError(`Usage: edge-recovery <command> [options]  (edge-recovery --help lists the commands)`);
  for (const c of program.commands) {
    c.exitOverride();
    c.showHelpAfterError(
      `Usage: edge-recovery ${c.name()} ${c.usage()}\nAll options: edge-recovery ${c.name()} --help`,
    );
  }
  program.hook('preAction', async (_program, action) => {
    for (const flag of REQUIRED[action.name()] ?? []) {
      const key = flag.replace(/^--/, '').replace(/-([a-z])/g, (_m: string, ch: string) => ch.toUpperCase());
      if (action.getOptionValue(key) === undefined) {
        const opt = action.options.find((x) => x.long === flag);
        action.error(`error: required option '${opt?.flags ?? flag}' not specified`, {
          code: 'commander.missingMandatoryOptionValue',
        });
      }
    }
    if (REPORT_COMMANDS.has(action.name())) await configurePdf();
    // Before any command: a backup that was killed may have left the product stopped; put it back and say so.
    const o = action.opts<{ stateDir?: string; json?: boolean }>();
    const emit = terminalSink({ json: o.json === true });
    const { recoverInterruptedBackup } = await engine.backupJournal();
    await recoverInterruptedBackup(stateDirOpt(o), {
      emit: (e) => (e.type === 'log' && !o.json ? process.stderr.write(`Note: ${e.message}\n`) : emit(e)),
    }).catch((e: unknown) => process.stderr.write(`Note: ${toRecoveryError(e).message}\n`));
  });

  return program;
}

/** Options a command cannot run without. */
const REQUIRED: Record<string, string[]> = { backup: ['--profile', '--to'], restore: ['--profile'] };

interface AdoptCliOptions {
  to: string;
  profile: string;
  deviceId?: string;
  splitSize?: number;
  json?: boolean;
}

interface RestoreCliOptions {
  profile: string;
  ticket?: string;
  site?: string;
  technician?: string;
  root?: string;
  passphraseFile?: string;
  credentialsFile?: string;
  yes?: boolean;
  allowVersionMismatch?: boolean;
  allowOtherDevice?: boolean;
  keepDefaults?: boolean;
  deleteOld?: boolean;
  stateDir?: string;
  json?: boolean;
  allowProfileCommands?: boolean;
}

/** After a failed restore: say what state the machine is in and roll back (asked, or at once with --yes). */
async function offerRollback(e: unknown, o: RestoreCliOptions, runIo: RunbookIO): Promise<never> {
  const err = toRecoveryError(e);
  const { restoreStatus, rollbackRestore } = await engine.restore();
  const dirOpt = await rememberedStateDir(o);
  const status = await restoreStatus(dirOpt).catch(() => null);
  if (status === null || !status.canRollback) throw err;
  process.stderr.write(`\nThe restore stopped: ${err.message}\nState of the machine: ${status.where}\n`);
  const go =
    o.yes === true ||
    (await runIo.interaction.confirm({
      stepId: 'rollback',
      title: 'Roll back',
      message:
        'Put the machine back exactly as it was before the restore (the set-aside folders return, the service as it was).',
      action: 'Roll back now',
    }));
  if (!go) {
    process.stderr.write('Not rolled back. Later: "edge-recovery resume" or "edge-recovery rollback".\n');
    throw err;
  }
  await rollbackRestore(dirOpt, runIo);
  process.stderr.write('Rolled back: the machine is as it was before the restore.\n');
  process.exitCode = EXIT_CODES.ROLLED_BACK;
  throw Object.assign(err, { rolledBack: true });
}

export async function main(argv: string[]): Promise<number> {
  takeEnvSecrets();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_CODES.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT_CODES.OK : EXIT_CODES.USAGE;
    }
    const err = toRecoveryError(e);
    const rolledBack = (e as { rolledBack?: boolean }).rolledBack === true;
    if (argv.includes('--json')) {
      process.stdout.write(JSON.stringify({ type: 'error', error: err.toJSON() }) + '\n');
    } else {
      process.stderr.write(`\nError: ${err.message}\n`);
      if (err.hint) process.stderr.write(`What to do: ${err.hint}\n`);
    }
    return rolledBack ? EXIT_CODES.ROLLED_BACK : exitCodeFor(err.code);
  }
}
