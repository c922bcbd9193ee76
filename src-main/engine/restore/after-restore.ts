import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { reportFilesText, savedPlaces } from '../report/saved-at.js';
import { withJobLock } from '../util/job-lock.js';
import { executeRunbook, type RunbookIO, type Step } from '../runbook/runner.js';
import { makeCtx, type RestoreCtx, type RestoreTuning } from './context.js';
import { defaultStateDir, JournalStore, readJournal, refuseMissingStateDir, type RestoreJournal } from './journal.js';
import { rewriteRestoreReport } from './restore-report.js';
import { keptPractice, keptPracticeWords } from './practice-kept.js';
import { credentialsStep, deleteSetAside, oldFoldersWords, restartStep, setAsideFolders } from './steps-finish.js';
import { describeMachineState } from './status.js';

/**
 * What a finished restore may still need: the credentials that were skipped (`edge-recovery credentials`, the
 * wizard's "Enter them now") and the deletion of the old folders the technician kept (`edge-recovery finish`).
 * Both work on the last restore's journal and against the running product; both rewrite its report.
 */

async function finishedJournal(stateDir: string): Promise<JournalStore> {
  const j = await readJournal(stateDir);
  if (j === null) {
    throw new RecoveryError('NO_UNFINISHED_RESTORE', `No restore was ever run with the state folder ${stateDir}.`, {
      hint: 'If the restore was started with --state-dir, pass the same --state-dir here.',
    });
  }
  if (j.status !== 'finished') {
    throw new RecoveryError(
      'RESTORE_IN_PROGRESS',
      `The last restore (${j.id}) has not finished: ${describeMachineState(j)}`,
      { hint: 'Resume it (edge-recovery resume) or roll it back (edge-recovery rollback) first.' },
    );
  }
  return new JournalStore(stateDir, j);
}

async function resultOf(store: JournalStore) {
  const j: RestoreJournal = store.j;
  return {
    kind: 'restore' as const,
    id: j.id,
    reports: j.reports,
    saved: await savedPlaces(j.reports, path.join(store.stateDir, 'reports')).catch(() => []),
    credentialsPending: j.credentials.pending,
    warnings: j.warnings,
    state: describeMachineState(j),
  };
}

const rewriteStep: Step<RestoreCtx> = {
  id: 'report',
  title: 'Update the recovery report',
  explain: () => 'Write the recovery report again, so it says what was done now.',
  async run(c) {
    const written = await rewriteRestoreReport(c.store);
    return written.length > 0
      ? `Report updated ${reportFilesText(written, path.join(c.store.stateDir, 'reports'))}.`
      : 'There was no report to update.';
  },
};

/**
 * What `credentials` left open; `noneListed` when the profile lists no credentials (nothing asked, no restart:
 * the restart step is skipped then).
 */
export interface CredentialsOutcome {
  pending: string[];
  noneListed: boolean;
  /** Whether the product was restarted (only when a credential was entered: the restart step is skipped else). */
  restarted: boolean;
  productName: string;
}

/** Credentials skipped during a finished restore: asked again, sent through the product's API, then a restart. */
export async function enterOpenCredentials(
  opts: { stateDir?: string; tuning?: RestoreTuning },
  io: RunbookIO,
): Promise<CredentialsOutcome> {
  const stateDir = defaultStateDir(opts.stateDir);
  // One job at a time: the kernel-held job lock, as every restore command takes it.
  await refuseMissingStateDir(stateDir);
  const practice = await keptPractice(stateDir);
  if (practice !== null) {
    // It asked for the secrets and then said "The appliance API … refused the connection".
    throw new RecoveryError('BAD_INPUT', keptPracticeWords(practice).trim(), {
      hint: 'To practise entering credentials, run edge-recovery practice again in a terminal (it asks for them during the restore). Nothing was changed.',
    });
  }
  return withJobLock(stateDir, { command: 'credentials' }, () => enterCredentialsLocked(stateDir, opts, io));
}

async function enterCredentialsLocked(
  stateDir: string,
  opts: { tuning?: RestoreTuning },
  io: RunbookIO,
): Promise<CredentialsOutcome> {
  const store = await finishedJournal(stateDir);
  const ctx = makeCtx(store, undefined, opts.tuning ?? {}, io.signal);
  let restarted = false;
  try {
    const steps = await executeRunbook(
      {
        kind: 'restore',
        title: 'Enter the open credentials',
        cancel: 'Entries not sent yet stay open; you can enter them later. Nothing else changes.',
        steps: [credentialsStep, restartStep, rewriteStep],
      },
      ctx,
      io,
      {
        // The journal's credentials step says what is true now (the report is built from it).
        async afterStep(info) {
          if (info.id !== 'credentials' || info.state !== 'done') return;
          const prev = store.j.steps['credentials'];
          store.j.steps['credentials'] = {
            ...prev,
            state: 'done',
            ...(info.summary !== undefined ? { summary: info.summary } : {}),
            finishedAt: new Date().toISOString(),
          };
          store.j.warnings = [...new Set(store.j.warnings)].filter(
            (w) => store.j.credentials.pending.length > 0 || !w.startsWith('These entries still need their secrets'),
          );
          await store.save();
        },
      },
    );
    restarted = steps.some((x) => x.id === 'restart' && x.state === 'done');
  } catch (e) {
    await store.save();
    throw e;
  }
  await store.save('credentials-entered');
  io.emit({ type: 'finished', ok: true, result: await resultOf(store) });
  return {
    pending: store.j.credentials.pending,
    noneListed: store.j.profile.credentials.length === 0,
    restarted,
    productName: store.j.profile.productName,
  };
}

/** Deletes the old folders a finished restore kept, after asking (or with --yes). */
export async function deleteKeptFolders(opts: { stateDir?: string }, io: RunbookIO): Promise<{ removed: string[] }> {
  const stateDir = defaultStateDir(opts.stateDir);
  await refuseMissingStateDir(stateDir);
  return withJobLock(stateDir, { command: 'finish' }, () => deleteKeptLocked(stateDir, io));
}

async function deleteKeptLocked(stateDir: string, io: RunbookIO): Promise<{ removed: string[] }> {
  const store = await finishedJournal(stateDir);
  const ctx = makeCtx(store, undefined, {}, io.signal);
  let removed: string[] = [];
  const step: Step<RestoreCtx> = {
    id: 'finish',
    title: 'Delete the old folders',
    explain: () => 'Delete the folders the restore set aside and kept. After this, they are gone for good.',
    async run(c, s) {
      const old = await setAsideFolders(c);
      if (old.paths.length === 0) return 'There are no kept folders left to delete.';
      const ok = await s.interaction.confirm({
        stepId: 'finish',
        title: 'Delete the old folders',
        message: `The folders the restore ${c.store.j.id} set aside are still here (${oldFoldersWords(old)}). Delete them for good?`,
        details: old.paths,
        action: `Delete the old folders (${oldFoldersWords(old)})`,
        decline: 'Keep them',
      });
      if (!ok) return `Kept the old folders (${oldFoldersWords(old)}).`;
      removed = await deleteSetAside(c);
      c.store.j.oldFolders = { decision: 'deleted', at: new Date().toISOString(), ...old, paths: removed };
      await c.store.save('old-folders-deleted');
      return `Deleted the old folders (${oldFoldersWords(old)}): ${removed.join(', ')}.`;
    },
  };
  await executeRunbook(
    {
      kind: 'restore',
      title: 'Delete the old folders',
      steps: [step, rewriteStep],
      cancel: 'Nothing is deleted; the old folders stay where they are.',
    },
    ctx,
    io,
  );
  io.emit({ type: 'finished', ok: true, result: await resultOf(store) });
  return { removed };
}

/**
 * What a finished restore left to do, for the status view: open credentials and kept folders, each with the whole
 * command to type (`args`, e.g. ` --state-dir X`, inside it: appended after the line it read
 * "(edge-recovery credentials) --state-dir X", once per credential).
 */
export function leftToDo(
  j: RestoreJournal,
  args = '',
  o: { practiceStopped?: boolean; finishRefused?: boolean } = {},
): string[] {
  const out: string[] = [];
  const pending = j.credentials.pending;
  if (pending.length > 0)
    out.push(
      `${pending.length === 1 ? 'Credential' : 'Credentials'} not entered: ${pending.join('; ')}: ` +
        // A kept practice's appliance was stopped at its end: `credentials` could only fail to reach its API.
        (o.practiceStopped === true
          ? `they are entered through the running product, and this practice appliance was stopped. To practise entering them, run edge-recovery practice again in a terminal (it asks for them during the restore).`
          : `enter ${pending.length === 1 ? 'it' : 'them'} with edge-recovery credentials${args}`),
    );
  if (j.oldFolders?.decision === 'kept')
    out.push(
      `Old folders kept (${oldFoldersWords(j.oldFolders)}): ` +
        // finish refuses a state folder off this machine's own disk; a kept practice's folders are in its sandbox.
        (o.finishRefused === true
          ? `they are in the practice sandbox, whose state folder is not on this machine's own disk (a stick, a tmpfs), so edge-recovery finish refuses it: deleting the sandbox folder deletes them too.`
          : `delete them with edge-recovery finish${args}`),
    );
  return out;
}
