import path from 'node:path';
import { ApplianceClient } from '../appliance/client.js';
import { runBackup, type BackupResult } from '../backup/run-backup.js';
import type { RetentionPolicy } from '../backup/retention.js';
import { RecoveryError, toRecoveryError } from '../errors.js';
import type { Profile } from '../profiles/schema.js';
import type { RunbookIO } from '../runbook/runner.js';
import { withJobLock } from '../util/job-lock.js';
import { recordVerifiedBackup } from './backup-record.js';
import { formatDuration } from './interval.js';
import { logScheduledRun, runLogLine, type RunLogDeps, type RunLogEntry } from './run-log.js';

export interface ScheduledRunOptions {
  profile: Profile;
  to: string;
  root?: string;
  deviceId?: string;
  passphrase?: string;
  /**
   * Reads the passphrase (the schedule's root-only file), first thing in the run: a file that cannot be read safely
   * is a failed run, logged like any other (the journal and `schedule status`), not only an exit code nobody sees.
   */
  readPassphrase?: () => Promise<string>;
  retention: RetentionPolicy;
  /** Wait this long after a failing pre-check before trying again. */
  retryEveryMs: number;
  /** Give up (a missed run) when the pre-checks still fail this long after the start. */
  giveUpAfterMs: number;
  /** Sleep a random part of this before starting (cron has no randomized delay of its own). */
  randomDelayMs?: number;
  stateDir: string;
}

export interface ScheduledRunDeps extends RunLogDeps {
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface ScheduledRunResult {
  outcome: RunLogEntry['outcome'];
  postponed: number;
  detail: string;
  backup?: BackupResult;
  error?: RecoveryError;
  /** The line written to the journal / event log. */
  logLine: string;
  loggedTo: string;
}

const sleepFor = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new RecoveryError('CANCELLED'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new RecoveryError('CANCELLED'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The product's pre-checks that an API answers (the same ones the backup runbook runs first). Returns the
 * first failure, or null. An API that does not answer is not a failed check (the runbook warns about it).
 */
async function failingPrecheck(profile: Profile): Promise<RecoveryError | null> {
  if (!profile.api) return null;
  const api = new ApplianceClient(profile.api);
  for (const pc of profile.prechecks.filter((p) => p.when.includes('backup'))) {
    try {
      const r = await api.runPrecheck(pc);
      if (!r.ok) return new RecoveryError('PRECHECK_FAILED', `${pc.title}: ${r.message}`, { hint: pc.failMessage });
    } catch (e) {
      if (e instanceof RecoveryError && e.code === 'APPLIANCE_UNREACHABLE') continue;
      return toRecoveryError(e);
    }
  }
  return null;
}

/**
 * A scheduled (automatic) backup: while a pre-check fails (transactions running …) it postpones and retries
 * every `retryEveryMs`, never stopping the service, until `giveUpAfterMs` — then the run is missed. When the
 * checks pass it runs the same backup runbook as a technician (class "automatic"), and retention by class
 * runs only after the new backup verified. One line per run goes to the journal / event log.
 */
/**
 * A failed run's line, as `schedule status` and the journal show it: the error and what to do about it (the run had
 * nobody to tell; the technician reads this line days later).
 */
export function withHint(e: RecoveryError): string {
  return e.hint ? `${e.message} What to do: ${e.hint}` : e.message;
}

export async function runScheduledBackup(
  o: ScheduledRunOptions,
  io: RunbookIO,
  deps: ScheduledRunDeps = {},
): Promise<ScheduledRunResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? sleepFor;
  const log = (message: string, level: 'info' | 'warn' = 'info') => io.emit({ type: 'log', level, message });
  if (o.randomDelayMs && o.randomDelayMs > 0) {
    const wait = Math.floor((deps.random ?? Math.random)() * o.randomDelayMs);
    log(`Waiting ${formatDuration(wait)} (random delay) before the scheduled backup.`);
    await sleep(wait, io.signal);
  }
  const deadline = now() + o.giveUpAfterMs;
  let postponed = 0;
  let outcome: ScheduledRunResult['outcome'] = 'failed';
  let detail = '';
  let backup: BackupResult | undefined;
  let error: RecoveryError | undefined;
  let passphrase = o.passphrase;
  if (o.readPassphrase) {
    try {
      passphrase = await o.readPassphrase();
    } catch (e) {
      error = toRecoveryError(e);
      detail = withHint(error);
    }
  }
  while (error === undefined) {
    // Each attempt holds the machine's job lock (runBackup takes it again, re-entrantly); the waits between
    // attempts do not, so a technician can restore while a scheduled run waits. A lock held by another job
    // postpones the run like a failing pre-check.
    let failed: RecoveryError | null = null;
    try {
      backup = await withJobLock(o.stateDir, { command: 'schedule run' }, async () => {
        failed = await failingPrecheck(o.profile);
        if (failed !== null) return undefined;
        return runBackup(
          {
            profile: o.profile,
            to: o.to,
            ...(o.root !== undefined ? { root: o.root } : {}),
            ...(o.deviceId !== undefined ? { deviceId: o.deviceId } : {}),
            ...(passphrase !== undefined ? { passphrase } : {}),
            backupClass: 'automatic',
            retention: o.retention,
            stateDir: o.stateDir,
          },
          io,
        );
      });
    } catch (e) {
      const err = toRecoveryError(e);
      // A check that failed inside the runbook (it runs them again, before the service stops), or another
      // job holding the lock: postpone. Anything else is a failed run.
      if (err.code !== 'PRECHECK_FAILED' && err.code !== 'JOB_RUNNING') {
        error = err;
        outcome = 'failed';
        detail = withHint(err);
        break;
      }
      failed = err;
    }
    if (backup) {
      outcome = 'verified';
      const removed = backup.removed.map((r) => `${path.basename(r.dir)} (${r.reason})`);
      detail = `${backup.setDir}${removed.length > 0 ? `; removed ${removed.length}: ${removed.join(', ')}` : '; nothing removed'}`;
      break;
    }
    if (failed === null) throw new RecoveryError('INTERNAL', 'The scheduled run neither backed up nor failed.');
    if (now() + o.retryEveryMs > deadline) {
      error = failed;
      outcome = 'missed';
      detail = `the pre-check still failed after ${formatDuration(o.giveUpAfterMs)}: ${failed.message}`;
      break;
    }
    postponed++;
    log(
      `Postponed (${postponed}): ${failed.message} The service was not stopped. Next try in ${formatDuration(o.retryEveryMs)}.`,
      'warn',
    );
    await sleep(o.retryEveryMs, io.signal);
  }
  if (backup) {
    await recordVerifiedBackup(o.stateDir, {
      profileId: o.profile.id,
      deviceId: backup.manifest.deviceId,
      setDir: backup.setDir,
      to: o.to,
      createdAt: backup.manifest.createdAt,
      class: 'automatic',
      encrypted: backup.manifest.archive.encryption !== null,
    });
  }
  const entry: RunLogEntry = { at: new Date(now()).toISOString(), profileId: o.profile.id, outcome, detail, postponed };
  const logged = await logScheduledRun(o.stateDir, entry, deps);
  if (logged.problem) log(`The run's log line was not written everywhere: ${logged.problem}`, 'warn');
  return {
    outcome,
    postponed,
    detail,
    ...(backup ? { backup } : {}),
    ...(error ? { error } : {}),
    logLine: runLogLine(entry),
    loggedTo: logged.sentTo,
  };
}
