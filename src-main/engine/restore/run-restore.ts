import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isHandMadeArchive } from '../backup/hand-made.js';
import { readBackupSet } from '../backup/manifest.js';
import { RecoveryError } from '../errors.js';
import { resolveItems } from '../profiles/load.js';
import type { Profile } from '../profiles/schema.js';
import { executeRunbook, type RunbookDef, type RunbookIO, type RunHooks } from '../runbook/runner.js';
import type { StepInfo } from '../runbook/types.js';
import { productRunbookSteps, removeWork } from '../runbook/product/product-steps.js';
import { makeCtx, needManifest, type RestoreCtx, type RestoreTuning } from './context.js';
import { recoverInterruptedBackup } from '../backup/backup-journal.js';
import { releaseAgeKey, type AgeKey } from '../archive/age-key.js';
import { cleanTicket, hasTicket, type TicketFields } from '../report/ticket.js';
import { savedPlaces } from '../report/saved-at.js';
import { withJobLock } from '../util/job-lock.js';
import { refuseRealProductInPractice } from '../util/practice-only.js';
import { linkedFolder, refuseOverlap } from '../util/linked-folder.js';
import { crashPoint } from './crash-point.js';
import {
  defaultStateDir,
  JOURNAL_VERSION,
  journalPath,
  JournalStore,
  readJournal,
  restoreDir,
  type CredentialUpdate,
  type ItemPlan,
  type RestoreJournal,
  refuseMissingStateDir,
} from './journal.js';
import { describeMachineState, machineTouched } from './status.js';
import { compatibilityStep, precheckStep, verifyStep } from './steps-prepare.js';
import { credentialsStep, finishStep, reportStep, restartStep, startStep } from './steps-finish.js';
import {
  extractStep,
  ownershipStep,
  removeWorkDirs,
  reconcileThroughWorkDirs,
  setAsideName,
  stagingPath,
  stopStep,
  swapStep,
} from './steps-swap.js';
import { refuseOtherPlace, type PlaceIdentity } from '../util/same-place.js';

export interface RestoreOptions {
  /** The backup set folder (…/Backup_<profile>_<time>), or a hand-made .tar / .tar.gz / .tgz / .zip. */
  backup: string;
  /** The backup as the wizard's host judged it: refused if `backup` leads elsewhere when the job starts. */
  backupIdentity?: PlaceIdentity;
  profile: Profile;
  root?: string;
  passphrase?: string;
  /** The key the caller derived for this backup already (jobKeyFor, the CLI's passphrase check): no second scrypt. */
  ageKey?: AgeKey;
  allowOtherDevice?: boolean;
  allowVersionMismatch?: boolean;
  /** Keep the set-aside folders after a successful restore. */
  keepDefaults?: boolean;
  /**
   * Delete the set-aside folders after a successful restore without asking at the end: the technician's explicit
   * choice, made when the restore is started (CLI --delete-old). Otherwise the end asks (a blanket --yes keeps them).
   */
  deleteOld?: boolean;
  stateDir?: string;
  reportDirs?: string[];
  /** Ticket number, site and technician for the report (validated by the caller: parseTicket). */
  ticket?: TicketFields;
  tuning?: RestoreTuning;
}

export interface RestoreResult {
  id: string;
  steps: StepInfo[];
  reports: string[];
  credentialsUpdated: CredentialUpdate[];
  /** Entries that still need their secret (names only). */
  credentialsPending: string[];
  warnings: string[];
  /** Plain words: the state the machine is in. */
  state: string;
}

export const RESTORE_RUNBOOK: RunbookDef<RestoreCtx> = {
  kind: 'restore',
  title: 'Restore from backup',
  cancel: 'The restore stops before anything on this machine changed.',
  steps: [
    verifyStep,
    compatibilityStep,
    precheckStep,
    extractStep,
    stopStep,
    swapStep,
    ownershipStep,
    startStep,
    credentialsStep,
    restartStep,
    reportStep,
    finishStep,
  ],
};

/** The restore runbook for a profile: its own steps, with the product's steps at their points. */
export function restoreRunbook(profile: Profile): RunbookDef<RestoreCtx> {
  const at = (point: Parameters<typeof productRunbookSteps>[1]) =>
    productRunbookSteps<RestoreCtx>(profile, point, (c) => c.product);
  if ((profile.steps ?? []).length === 0) return RESTORE_RUNBOOK;
  return {
    ...RESTORE_RUNBOOK,
    steps: [
      verifyStep,
      compatibilityStep,
      precheckStep,
      extractStep,
      ...at('restore.before-stop'),
      stopStep,
      ...at('restore.after-stop'),
      swapStep,
      ownershipStep,
      ...at('restore.import'),
      ...at('restore.before-start'),
      startStep,
      ...at('restore.after-start'),
      credentialsStep,
      restartStep,
      reportStep,
      finishStep,
    ],
  };
}

function hooksFor(store: JournalStore, done?: Map<string, string>): RunHooks {
  const hooks: RunHooks = {
    async beforeStep(id) {
      store.j.steps[id] = { state: 'running', startedAt: new Date().toISOString() };
      await store.save(`step-start:${id}`);
    },
    async afterStep(info) {
      const prev = store.j.steps[info.id];
      store.j.steps[info.id] = {
        state: info.state,
        ...(info.summary !== undefined ? { summary: info.summary } : {}),
        ...(info.error !== undefined ? { error: info.error } : {}),
        ...(prev?.startedAt !== undefined ? { startedAt: prev.startedAt } : {}),
        finishedAt: new Date().toISOString(),
      };
      // Past the point of no return (the set-aside folders are being deleted) a failure keeps the journal
      // 'committing': only resume may follow, never a rollback to a half-deleted original.
      if (info.state === 'failed' && store.j.status !== 'committing') store.j.status = 'failed';
      await store.save(`step-end:${info.id}`);
    },
  };
  if (done) hooks.done = done;
  return hooks;
}

async function execute(store: JournalStore, ctx: RestoreCtx, io: RunbookIO): Promise<RestoreResult> {
  const done = new Map<string, string>();
  for (const [id, r] of Object.entries(store.j.steps)) {
    if (r.state === 'done' || r.state === 'skipped') done.set(id, r.summary ?? '');
  }
  if (store.j.status === 'failed') {
    store.j.status = 'running';
    await store.save();
  }
  // Product steps hand the backup's artifacts over: the manifest is read before any of them runs.
  if ((store.j.profile.steps ?? []).length > 0) await needManifest(ctx);
  let steps: StepInfo[];
  try {
    steps = await executeRunbook(restoreRunbook(store.j.profile), ctx, io, hooksFor(store, done));
  } finally {
    releaseAgeKey(ctx.ageKey);
    ctx.ageKey = null;
  }
  store.j.status = 'finished';
  await store.save('finished');
  const j = store.j;
  const result: RestoreResult = {
    id: j.id,
    steps,
    reports: j.reports,
    credentialsUpdated: j.credentials.updated,
    credentialsPending: j.credentials.pending,
    warnings: j.warnings,
    state: describeMachineState(j),
  };
  const { reports, credentialsPending, warnings, state } = result;
  const saved = await savedPlaces(reports, path.join(store.stateDir, 'reports')).catch(() => []);
  io.emit({
    type: 'finished',
    ok: true,
    result: { kind: 'restore', id: j.id, reports, saved, credentialsPending, warnings, state },
  });
  return result;
}

/** Keeps an earlier, ended journal in its restore's folder so a new restore starts with a fresh one. */
async function archiveEndedJournal(stateDir: string, j: RestoreJournal): Promise<void> {
  const dir = restoreDir(stateDir, j.id);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.rename(journalPath(stateDir), path.join(dir, 'journal.json'));
}

/**
 * Restores a backup set onto this machine, two-phase and reversible: verify, check, stop, unpack beside,
 * swap by renames, repair owners, start, credentials, restart, report, clean up. Journaled before and
 * after every step. If a step that changes the machine fails, the error is thrown and the journal kept,
 * so the caller can offer resume or rollback; before that, the journal is removed (nothing changed).
 */
export async function runRestore(opts: RestoreOptions, io: RunbookIO): Promise<RestoreResult> {
  const stateDir = defaultStateDir(opts.stateDir);
  refuseRealProductInPractice(stateDir, opts.profile, () =>
    resolveItems(opts.profile, {
      ...(opts.root === undefined ? {} : { root: path.resolve(opts.root) }),
      here: process.platform,
    }).map((i) => i.path),
  );
  return withJobLock(stateDir, { command: 'restore' }, () => startRestore(stateDir, opts, io));
}

async function startRestore(stateDir: string, opts: RestoreOptions, io: RunbookIO): Promise<RestoreResult> {
  await recoverInterruptedBackup({ stateDir }, io);
  const existing = await readJournal(stateDir);
  if (existing !== null) {
    if (existing.status !== 'finished' && existing.status !== 'rolled-back') {
      throw new RecoveryError(
        'RESTORE_IN_PROGRESS',
        `An unfinished restore (${existing.id}, from ${existing.backup}) exists: ${describeMachineState(existing)}`,
        {
          hint: 'Finish it first: "edge-recovery resume" or "edge-recovery rollback" (see "edge-recovery status").',
          ui: { hint: 'Finish it first: go back to the start, then resume it or roll it back.' },
        },
      );
    }
    await archiveEndedJournal(stateDir, existing);
  }
  const backup = path.resolve(opts.backup);
  await refuseOtherPlace(backup, opts.backupIdentity, 'The backup');
  // A backup that is not there (or not a backup) is refused before any journal exists. A hand-made archive
  // is read through in the verify step (with progress), into a set of its own in this restore's folder.
  const handMade = await isHandMadeArchive(backup);
  const set = handMade ? null : await readBackupSet(backup);
  const id = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
  const now = new Date().toISOString();
  const root = opts.root === undefined ? null : path.resolve(opts.root);
  const inBackup = set === null ? null : new Set(set.manifest.items.map((i) => i.id));
  const items: ItemPlan[] = [];
  // `*` items (each OPC UA adapter's certificates) resolve to what the backup holds, existing here or not.
  for (const i of resolveItems(opts.profile, {
    ...(root === null ? {} : { root }),
    here: process.platform,
    fromBackup: inBackup === null ? [] : [...inBackup],
  })) {
    if (inBackup !== null && !inBackup.has(i.id)) continue;
    // A folder that is a link to another disk is restored into the link's target; the link stays as it is.
    const real = await linkedFolder(i.path);
    const target = real ?? i.path;
    items.push({
      id: i.id,
      target,
      staging: stagingPath(target, i.id, id),
      setAside: setAsideName(target, id),
      hadOriginal: null,
      ...(real !== null ? { link: i.path } : {}),
    });
  }
  // Refused here, before anything is unpacked or stopped (the swap would fail after the stop).
  refuseOverlap(
    items.map((i) => ({ id: i.id, path: i.target })),
    items.some((i) => i.link !== undefined),
    ', so one cannot be set aside without the other',
  );
  const j: RestoreJournal = {
    version: JOURNAL_VERSION,
    id,
    status: 'running',
    startedAt: now,
    updatedAt: now,
    backup: handMade ? path.join(restoreDir(stateDir, id), 'adopted') : backup,
    ...(handMade ? { handMade: { file: backup } } : {}),
    profile: opts.profile,
    root,
    options: {
      allowOtherDevice: opts.allowOtherDevice ?? false,
      allowVersionMismatch: opts.allowVersionMismatch ?? false,
      keepDefaults: opts.keepDefaults ?? false,
      ...(opts.deleteOld === true && opts.keepDefaults !== true ? { deleteOld: true } : {}),
      reportDirs: opts.reportDirs ?? [],
      ...(opts.ticket && hasTicket(cleanTicket(opts.ticket)) ? { ticket: cleanTicket(opts.ticket) } : {}),
      encrypted: set !== null && set.manifest.archive.encryption !== null,
    },
    backupFacts: null,
    innerManifestFile: path.join(restoreDir(stateDir, id), 'files.jsonl'),
    serviceBefore: null,
    items,
    renames: [],
    steps: {},
    credentials: { updated: [], pending: [] },
    facts: { files: 0, contentBytes: 0, checked: 0, installedVersion: null, installedAfter: null },
    warnings: [],
    reports: [],
  };
  const store = new JournalStore(stateDir, j);
  await store.save('created');
  const ctx = makeCtx(store, opts.passphrase, opts.tuning ?? {}, io.signal, io.interaction);
  ctx.manifest = set?.manifest ?? null;
  if (opts.ageKey) ctx.ageKey = opts.ageKey;
  try {
    return await execute(store, ctx, io);
  } catch (e) {
    if (!machineTouched(store.j)) {
      // Nothing changed: leave no journal that would make the next restore ask about this one, nor a work folder
      // (the product's, and ours beside each folder: a refused or cancelled unpacking runs before the stop).
      await removeWork(ctx.product).catch(() => undefined);
      try {
        removeWorkDirs(store.j.items);
      } catch {
        /* reported by status as a leftover */
      }
      await fsp.rm(journalPath(stateDir), { force: true });
      await fsp.rm(restoreDir(stateDir, id), { recursive: true, force: true });
    }
    throw e;
  }
}

/** Continues an interrupted or failed restore from its journal (the profile comes from the journal too). */
export async function resumeRestore(
  opts: { stateDir?: string; passphrase?: string; tuning?: RestoreTuning },
  io: RunbookIO,
): Promise<RestoreResult> {
  const stateDir = defaultStateDir(opts.stateDir);
  await refuseMissingStateDir(stateDir);
  return withJobLock(stateDir, { command: 'resume' }, () => continueRestore(stateDir, opts, io));
}

async function continueRestore(
  stateDir: string,
  opts: { passphrase?: string; tuning?: RestoreTuning },
  io: RunbookIO,
): Promise<RestoreResult> {
  await recoverInterruptedBackup({ stateDir }, io);
  const j = await readJournal(stateDir);
  if (j === null || j.status === 'finished' || j.status === 'rolled-back') {
    throw new RecoveryError(
      'NO_UNFINISHED_RESTORE',
      j === null
        ? 'There is no restore to resume on this machine.'
        : `The last restore (${j.id}) has ${j.status === 'finished' ? 'finished' : 'been rolled back'}: there is nothing to resume.`,
    );
  }
  if (j.status === 'rolling-back') {
    throw new RecoveryError(
      'RESTORE_IN_PROGRESS',
      'A rollback of this restore was interrupted; it cannot be resumed.',
      {
        hint: 'Run the rollback again to finish putting the machine back as it was.',
      },
    );
  }
  const store = new JournalStore(stateDir, j);
  const odd = await reconcileThroughWorkDirs(store);
  if (odd.length > 0) {
    throw new RecoveryError('INTERNAL', `The folders do not match the journal: ${odd.join('; ')}.`, {
      hint: 'Someone moved folders by hand. Compare them with the journal before going on.',
    });
  }
  crashPoint('resume:reconciled');
  const ctx = makeCtx(store, opts.passphrase, opts.tuning ?? {}, io.signal, io.interaction);
  return execute(store, ctx, io);
}

// The CLI and the host import every restore entry point from here.
export { isUnfinished, restoreStatus, unfinishedRestore } from './status.js';
export { rollbackRestore } from './rollback.js';
