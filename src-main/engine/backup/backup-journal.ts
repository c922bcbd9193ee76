import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import type { Profile } from '../profiles/schema.js';
import { crashPoint } from '../restore/crash-point.js';
import { defaultStateDir } from '../restore/journal.js';
import type { RunbookIO } from '../runbook/runner.js';
import { serviceFor } from '../service/index.js';
import type { ServiceState } from '../service/types.js';
import { writeFileAtomic } from '../util/atomic-fs.js';
import { holdsJobLock, withJobLock } from '../util/job-lock.js';

/**
 * The backup's own journal (`<state dir>/backup-journal.json`): what a killed backup leaves behind, so the
 * next run of any command (and the wizard's start) can put the product back. It says whether the backup
 * stopped the service (written *before* asking the manager to stop it) and which set folder it was writing.
 * A backup that ends (well or not) removes it; one that is killed leaves it.
 */
export const BACKUP_JOURNAL_NAME = 'backup-journal.json';

export interface BackupJournal {
  version: 1;
  pid: number;
  startedAt: string;
  updatedAt: string;
  profile: { id: string; productName: string; service: Profile['service'] };
  /** The service's state before the backup touched it (null: not looked yet). */
  serviceBefore: ServiceState | null;
  /** True from just before the backup asks the manager to stop the service. */
  stoppedByUs: boolean;
  /** Whether the technician asked to leave it stopped (then recovery does not start it). */
  leaveStopped: boolean;
  /** The set folder being written (null: not created yet). */
  setDir: string | null;
  /**
   * SHA-256 of the manifest.json written (from phase verified): a backup killed before it recorded its set
   * (backup/written-sets.ts) is recorded by the recovery, if the manifest on the medium is still that one.
   */
  manifestSha256?: string;
  phase: 'prechecks' | 'stopping' | 'archiving' | 'verifying' | 'verified' | 'starting' | 'started';
}

export function backupJournalPath(stateDir: string): string {
  return path.join(stateDir, BACKUP_JOURNAL_NAME);
}

export async function readBackupJournal(stateDir: string): Promise<BackupJournal | null> {
  try {
    return JSON.parse(await fsp.readFile(backupJournalPath(stateDir), 'utf8')) as BackupJournal;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (e instanceof SyntaxError) return null; // writeFileAtomic never leaves half a file; a broken one was edited
    throw e;
  }
}

/** Holds the backup journal in memory and writes it durably on every change. */
export class BackupJournalStore {
  constructor(
    readonly stateDir: string,
    public j: BackupJournal,
  ) {}

  static async create(stateDir: string, profile: Profile, leaveStopped: boolean): Promise<BackupJournalStore> {
    const now = new Date().toISOString();
    const s = new BackupJournalStore(stateDir, {
      version: 1,
      pid: process.pid,
      startedAt: now,
      updatedAt: now,
      profile: { id: profile.id, productName: profile.productName, service: profile.service },
      serviceBefore: null,
      stoppedByUs: false,
      leaveStopped,
      setDir: null,
      phase: 'prechecks',
    });
    await s.save('created');
    return s;
  }

  async save(label: string): Promise<void> {
    crashPoint(`backup:before-journal:${label}`);
    this.j.updatedAt = new Date().toISOString();
    await fsp.mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(backupJournalPath(this.stateDir), JSON.stringify(this.j, null, 2) + '\n', 0o600);
    crashPoint(`backup:after-journal:${label}`);
  }

  /** The backup ended (well, or failed and cleaned up after itself): nothing is left to recover. */
  async close(): Promise<void> {
    await fsp.rm(backupJournalPath(this.stateDir), { force: true });
  }
}

export interface BackupRecovery {
  /** What was found and done, in plain words (also logged as a warning). */
  message: string;
  /** The service was started again. */
  serviceStarted: boolean;
  /** The unfinished set folder, if the killed backup had created one without finishing it. */
  unfinishedSet: string | null;
}

async function hasManifest(setDir: string): Promise<boolean> {
  // Loaded here, not at the top: every CLI command checks for a killed backup, and manifest.ts loads zod.
  const { MANIFEST_NAME } = await import('./manifest.js');
  return fsp.stat(path.join(setDir, MANIFEST_NAME)).then(
    () => true,
    () => false,
  );
}

/**
 * A set that verified before the kill: recorded as this machine's (retention may count it) when its manifest.json
 * is still the one the journal says was written; otherwise it is left unrecorded (kept for good, never counted) and
 * its "started" record dropped, so that it is never taken for the debris of an interrupted backup either.
 */
async function recordCompleteSet(stateDir: string, j: BackupJournal, setDir: string): Promise<void> {
  const { readBackupSet } = await import('./manifest.js');
  const { forgetStarted, manifestSha256, recordSetVerified } = await import('./written-sets.js');
  const set = await readBackupSet(setDir).catch(() => null);
  if (set !== null && j.manifestSha256 !== undefined && manifestSha256(set.text) === j.manifestSha256) {
    await recordSetVerified(stateDir, setDir, j.profile.id, set.text, {
      createdAt: set.manifest.createdAt,
      class: set.manifest.class ?? 'manual',
    });
  } else {
    await forgetStarted(stateDir, setDir, j.profile.id);
  }
}

async function recoverHoldingLock(stateDir: string, io: Pick<RunbookIO, 'emit'>): Promise<BackupRecovery | null> {
  const j = await readBackupJournal(stateDir);
  if (j === null) return null;
  const lines: string[] = [
    `A backup of ${j.profile.productName} started at ${j.startedAt} (pid ${j.pid}) was interrupted.`,
  ];
  let serviceStarted = false;
  let keepJournal = false;
  const svc = serviceFor(j.profile.service);
  if (j.stoppedByUs && !j.leaveStopped && j.phase !== 'started') {
    if (j.profile.service.manager === 'none') {
      lines.push(
        `It had asked for ${j.profile.productName} to be stopped by hand: start ${j.profile.productName} again by hand now.`,
      );
    } else {
      try {
        const now = await svc.status();
        if (now.state === 'running' || now.state === 'starting') {
          lines.push(`It had stopped ${svc.label}, which runs again.`);
        } else {
          await svc.start();
          await svc.waitFor('running', j.profile.service.startTimeoutSeconds * 1000);
          serviceStarted = true;
          lines.push(`It had stopped ${svc.label}: the service was started again and runs.`);
        }
      } catch (e) {
        keepJournal = true;
        lines.push(
          `It had stopped ${svc.label}, and starting it again failed: ${toRecoveryError(e).message} Start it by hand; ` +
            'this check runs again with the next command until the service runs.',
        );
      }
    }
  } else if (j.serviceBefore !== null) {
    lines.push(
      j.leaveStopped && j.stoppedByUs
        ? `${svc.label} was to stay stopped after the backup, as asked.`
        : `It had not stopped the service.`,
    );
  }
  let unfinishedSet: string | null = null;
  if (j.setDir !== null) {
    const exists = await fsp.stat(j.setDir).then(
      () => true,
      () => false,
    );
    if (exists && (await hasManifest(j.setDir))) {
      lines.push(`Its backup ${j.setDir} had verified before the interruption and is complete.`);
      await recordCompleteSet(stateDir, j, j.setDir).catch(() => undefined);
    } else if (exists) {
      unfinishedSet = j.setDir;
      lines.push(
        `Its folder ${j.setDir} has no manifest.json: it is not a backup and is never offered for a restore; ` +
          'it is removed once a newer backup of this device has verified.',
      );
    }
  }
  if (!keepJournal) await fsp.rm(backupJournalPath(stateDir), { force: true });
  const message = lines.join(' ');
  io.emit({ type: 'log', level: 'warn', message });
  return { message, serviceStarted, unfinishedSet };
}

/**
 * Finds a backup that was killed (its journal is still there) and puts the product back: starts the service
 * again if that backup had stopped it, and says so. Runs under the job lock: called inside a job it uses the
 * job's lock; called on its own (the CLI before any command, the wizard's start) it takes the lock, and does
 * nothing when another job holds it (that job is alive, so its backup is not interrupted). Returns null when
 * there was nothing to recover.
 */
export async function recoverInterruptedBackup(
  opts: { stateDir?: string } = {},
  io: Pick<RunbookIO, 'emit'> = { emit: () => undefined },
): Promise<BackupRecovery | null> {
  const stateDir = defaultStateDir(opts.stateDir);
  if (holdsJobLock(stateDir)) return recoverHoldingLock(stateDir, io);
  const exists = await fsp.stat(backupJournalPath(stateDir)).then(
    () => true,
    () => false,
  );
  if (!exists) return null;
  try {
    return await withJobLock(stateDir, { command: 'recover' }, () => recoverHoldingLock(stateDir, io));
  } catch (e) {
    if (e instanceof RecoveryError && e.code === 'JOB_RUNNING') return null;
    throw e;
  }
}
