import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { applianceClientFor, type ApplianceClient } from '../appliance/client.js';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { serviceFor } from '../service/index.js';
import type { ServiceControl, ServiceState } from '../service/types.js';
import { executeRunbook, type RunbookDef, type RunbookIO } from '../runbook/runner.js';
import { recoverInterruptedBackup } from '../backup/backup-journal.js';
import { withJobLock } from '../util/job-lock.js';
import { byHand, serviceDeps } from './context.js';
import { crashPoint } from './crash-point.js';
import { removeWork, undoProductSteps, type ProductHost } from '../runbook/product/product-steps.js';
import { restoreProductHost } from './context.js';
import {
  defaultStateDir,
  discardName,
  JournalStore,
  readJournal,
  renameDone,
  type ItemPlan,
  type RestoreJournal,
  refuseMissingStateDir,
} from './journal.js';
import { journaledRename } from './renames.js';
import { oldFoldersWords } from './steps-finish.js';
import { describeMachineState } from './status.js';
import { isOtherFolder, notTheFolder, removeTreeNoFollow } from '../util/safe-delete.js';
import {
  besideWorkDir,
  holdWorkDirs,
  inWorkDir,
  parentStillThere,
  reconcileThroughWorkDirs,
  releaseWorkDirs,
  removeWorkDirs,
  workDirFd,
  workDirOf,
} from './steps-swap.js';

interface RollbackCtx {
  store: JournalStore;
  service: ServiceControl;
  product: ProductHost;
  api: ApplianceClient | null;
  pollMs: number;
}

/**
 * After starting the product again, waits until its API answers, as the restore's own start does; a product
 * that did not answer before the restore may not answer now either, so this reports instead of failing.
 */
async function apiAnswers(c: RollbackCtx, timeoutMs: number): Promise<string> {
  if (c.api === null) return '';
  const until = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const h = await c.api.health().catch((e: unknown) => ({ ok: false, detail: toRecoveryError(e).message }));
    if (h.ok) return ' Its API answers healthy.';
    last = h.detail;
    if (Date.now() >= until)
      return ` Its API did not answer healthy within ${Math.round(timeoutMs / 1000)} s (${last}).`;
    await new Promise((r) => setTimeout(r, c.pollMs));
  }
}

export { discardName };

/**
 * `p` (a target or its set-aside name) in the folder holding the work folder held for `i` (besideWorkDir: as the
 * kernel holds it, /proc/self/fd/<n>/..), never by the journal's path: an account that owns a folder above the targets
 * can move their folder aside and put a link by its name to a root-only folder, and root would rename inside that
 * folder. The work folder was opened through the targets' folder reached as the swap reached it and found to be the
 * one recorded (holdWorkDirs). Linux; elsewhere the path.
 */
function beside(held: Map<string, number>, i: ItemPlan, p: string): string {
  if (process.platform === 'linux' && workDirFd(held, workDirOf(i)) === undefined) {
    throw new RecoveryError(
      'UNSAFE_PATH',
      `${path.dirname(i.target)} does not exist any more, so ${i.target} cannot be put back. Nothing was renamed.`,
      {
        hint: `Something moved or removed ${path.dirname(i.target)} after the restore. Put it back where it was (the earlier folder is ${i.setAside} in it), then roll back again.`,
        details: { path: path.dirname(i.target) },
      },
    );
  }
  return besideWorkDir(held, i, p);
}

/** The rollback's renames and deletes, inside the work folders held open in `held` and the folders holding them. */
async function putBack(c: RollbackCtx, held: Map<string, number>): Promise<string> {
  const j = c.store.j;
  const lines: string[] = [];
  for (const i of [...j.items].reverse()) {
    const discard = discardName(i);
    const still = (): void => parentStillThere(j.profile.productName, j, held, i, 'rollback');
    still();
    if (renameDone(j, i.id, 'move-in') && !renameDone(j, i.id, 'discard')) {
      // Only the folder the restore moved in: an account that may write beside the target can rename another folder
      // there (root's own, which it could not delete itself) by the target's name.
      const target = beside(held, i, i.target);
      if (isOtherFolder(target, i.restoredId)) throw notTheFolder(i.target, 'the folder the restore moved in');
      await journaledRename(
        c.store,
        { from: i.target, to: discard, purpose: 'discard', itemId: i.id },
        target,
        inWorkDir(held, discard),
      );
      if (isOtherFolder(inWorkDir(held, discard), i.restoredId)) {
        // Swapped between the look and the rename: put back beside the target under a new name, never deleted.
        renameSync(
          inWorkDir(held, discard),
          beside(held, i, `${i.target}.not-deleted-${randomBytes(4).toString('hex')}`),
        );
        throw notTheFolder(i.target, 'the folder the restore moved in');
      }
    }
    if (renameDone(j, i.id, 'set-aside') && !renameDone(j, i.id, 'put-back')) {
      await journaledRename(
        c.store,
        { from: i.setAside, to: i.target, purpose: 'put-back', itemId: i.id },
        beside(held, i, i.setAside),
        beside(held, i, i.target),
      );
      lines.push(`${i.target} is back.`);
    } else lines.push(`${i.target} was never moved.`);
    // Moved aside while this item was renamed: what was put back is not where the target's path leads.
    still();
    crashPoint(`rollback:before-delete:${i.id}`);
    // Renames first, deletes last: if this is interrupted, only restored copies are left to delete. Both are
    // inside the root-only work folder, deleted through its descriptor without following links.
    const recorded = j.renames.find((r) => r.itemId === i.id && r.purpose === 'discard')?.to ?? discard;
    removeTreeNoFollow(held.has(path.dirname(recorded)) ? inWorkDir(held, recorded) : recorded);
    removeTreeNoFollow(inWorkDir(held, i.staging));
  }
  removeWorkDirs(j.items, held);
  return lines.join(' ');
}

/** No folder was ever set aside or moved in (not even a rename begun): the restore stopped before its swap. */
function neverSwapped(j: RestoreJournal): boolean {
  return !j.renames.some((r) => r.purpose === 'set-aside' || r.purpose === 'move-in');
}

/** The service ran before the restore ('unknown': stopped by hand at the restore's request, so it ran). */
function ranBefore(before: ServiceState | null): boolean {
  return before === 'running' || before === 'starting' || before === 'unknown';
}

const ROLLBACK_RUNBOOK: RunbookDef<RollbackCtx> = {
  kind: 'rollback',
  title: 'Roll back the restore',
  cancel: 'The rollback stops after what it is doing now; run it again later to finish putting the machine back.',
  steps: [
    {
      id: 'rollback-stop',
      title: 'Stop the service',
      explain: (c) => `Stop ${c.service.label} so its folders can be put back.`,
      skip: (c) => (c.store.j.serviceBefore === null ? 'The restore never touched the service.' : null),
      async run(c) {
        // A killed restore may have asked the manager to start the service a moment before it died, so a
        // 'stopped' now can still turn into 'running': with a manager, say stop anyway (it cancels a pending
        // start); by hand, ask only when it is not stopped.
        if (!byHand(c.store.j.profile) || (await c.service.status()).state !== 'stopped') {
          await c.service.stop().catch(async (e: unknown) => {
            // Some managers refuse to stop a stopped service (Windows SCM 1062): that is fine here.
            if ((await c.service.status()).state !== 'stopped') throw e;
          });
          await c.service.waitFor('stopped', c.store.j.profile.service.stopTimeoutSeconds * 1000);
        }
        return byHand(c.store.j.profile)
          ? `${c.store.j.profile.productName} was stopped by hand (confirmed by the technician).`
          : `${c.service.label} is stopped.`;
      },
    },
    {
      id: 'rollback-product',
      title: "Undo the product's own steps",
      explain: (c) =>
        `Undo, newest first, what the product's own steps did (${c.store.j.product?.done.join(', ') || 'nothing'}), and remove their work folder.`,
      skip: (c) =>
        (c.store.j.product?.done.length ?? 0) === 0 && c.store.j.product?.work === undefined
          ? "No step of the product's own ran."
          : null,
      async run(c, s) {
        const lines = await undoProductSteps(c.product, s.log);
        await removeWork(c.product);
        return lines.length > 0 ? lines.join(' ') : 'Nothing to undo.';
      },
    },
    {
      id: 'rollback-folders',
      title: 'Put the earlier folders back',
      // A restore stopped before its swap set nothing aside: saying "rename the set-aside folders back" (and
      // listing only "<staging> → deleted") read as if the folders in use were to go.
      explain: (c) =>
        neverSwapped(c.store.j)
          ? `The restore never set a folder aside: ${c.store.j.items.map((i) => i.target).join(', ')} stay as they are; only the staging copies it unpacked are deleted.`
          : `Remove what the restore put in place and rename the set-aside folders back: ${c.store.j.items.map((i) => i.target).join(', ')}.`,
      confirm: (c) => ({
        message: neverSwapped(c.store.j)
          ? 'The restore never set a folder aside: the folders in use stay as they are. Only the staging copies it unpacked are deleted.'
          : 'The restored folders are removed and the folders found before the restore are renamed back into place.',
        details: c.store.j.items.flatMap((i) => [
          ...(renameDone(c.store.j, i.id, 'move-in') ? [`${i.target} (restored) → deleted`] : []),
          ...(renameDone(c.store.j, i.id, 'set-aside') ? [`${i.setAside} → ${i.target}`] : []),
          ...[`${i.staging} → deleted (if present)`],
        ]),
        action: 'Roll back',
      }),
      async run(c) {
        const j = c.store.j;
        // Each work folder is opened and judged root's own (0700) on its descriptor once, before anything is
        // renamed, and used only through it: an account that may write beside the targets can rename it away and
        // put its own by that name, but the restored folders never go into its folder, nor is its folder deleted.
        const held = await holdWorkDirs(j.items);
        try {
          return await putBack(c, held);
        } finally {
          releaseWorkDirs(held);
        }
      },
    },
    {
      id: 'rollback-service',
      title: 'Put the service back as it was',
      // The same test as run's below: 'unknown' (stopped by hand at the restore's request) ran before and is started
      // again; the explanation said "Leave it stopped" and then the step asked for it to be started.
      explain: (c) =>
        ranBefore(c.store.j.serviceBefore)
          ? `Start ${c.service.label} again, as it ran before the restore.`
          : `Leave ${c.service.label} stopped, as it was before the restore.`,
      skip: (c) => (c.store.j.serviceBefore === null ? 'The restore never touched the service.' : null),
      async run(c) {
        if (ranBefore(c.store.j.serviceBefore)) {
          await c.service.start();
          const timeoutMs = c.store.j.profile.service.startTimeoutSeconds * 1000;
          await c.service.waitFor('running', timeoutMs);
          const api = await apiAnswers(c, timeoutMs);
          return byHand(c.store.j.profile)
            ? `${c.store.j.profile.productName} was started again by hand (confirmed by the technician), as before.${api}`
            : `${c.service.label} runs again, as before.${api}`;
        }
        return `${c.service.label} stays stopped, as it was before.`;
      },
    },
  ],
};

/** Undoes an unfinished restore from its journal: the folders and the service end as they were before it. */
export async function rollbackRestore(
  opts: { stateDir?: string; pollMs?: number },
  io: RunbookIO,
): Promise<{ id: string; state: string }> {
  const stateDir = defaultStateDir(opts.stateDir);
  await refuseMissingStateDir(stateDir);
  return withJobLock(stateDir, { command: 'rollback' }, () => undoRestore(stateDir, opts, io));
}

async function undoRestore(
  stateDir: string,
  opts: { pollMs?: number },
  io: RunbookIO,
): Promise<{ id: string; state: string }> {
  await recoverInterruptedBackup({ stateDir }, io);
  const j = await readJournal(stateDir);
  if (j === null || j.status === 'finished' || j.status === 'rolled-back') {
    // A finished restore may have kept the folders it replaced ("Keep them for now", --yes, --keep-defaults): they
    // were not cleaned up, and saying so sent a technician looking for folders that were gone.
    const kept = j?.status === 'finished' && j.oldFolders?.decision === 'kept' ? j.oldFolders : null;
    throw new RecoveryError(
      'NO_UNFINISHED_RESTORE',
      j === null
        ? 'There is no restore to roll back on this machine.'
        : j.status === 'rolled-back'
          ? `The last restore (${j.id}) has already been rolled back.`
          : kept !== null
            ? `The last restore (${j.id}) has finished, so it can no longer be rolled back. The folders it replaced were kept (${oldFoldersWords(kept)}): ${kept.paths.join(', ')}.`
            : `The last restore (${j.id}) has finished${j.oldFolders?.decision === 'deleted' ? ' and the folders it replaced were deleted' : ''}: it can no longer be rolled back.`,
      kept !== null
        ? {
            hint: 'They stay until "edge-recovery finish" deletes them; "edge-recovery status" says what is left to do.',
          }
        : undefined,
    );
  }
  if (j.status === 'committing') {
    throw new RecoveryError(
      'RESTORE_IN_PROGRESS',
      'The restore was already deleting the set-aside folders when it stopped, so it can no longer be rolled back.',
      {
        hint: 'Run "edge-recovery resume" to finish the clean-up (the restored folders are in place).',
        ui: { hint: 'Resume the restore to finish the clean-up (the restored folders are in place).' },
      },
    );
  }
  const store = new JournalStore(stateDir, j);
  // Judged before the rollback is recorded as begun: a refusal here (a link on the way) leaves resume possible.
  const odd = await reconcileThroughWorkDirs(store);
  if (j.status !== 'rolling-back') {
    j.status = 'rolling-back';
    j.rollback = { startedAt: new Date().toISOString(), steps: [] };
    await store.save('rollback-start');
  }
  if (odd.length > 0) {
    throw new RecoveryError('INTERNAL', `The folders do not match the journal: ${odd.join('; ')}.`, {
      hint: 'Someone moved folders by hand. Compare them with the journal before going on.',
    });
  }
  const service = serviceFor(j.profile.service, serviceDeps(opts.pollMs, io.interaction, 'rollback-stop'));
  const ctx: RollbackCtx = {
    store,
    service,
    product: restoreProductHost(store, opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
    api: applianceClientFor(j.profile, { root: j.root, service }),
    pollMs: opts.pollMs ?? 250,
  };
  try {
    const steps = await executeRunbook(ROLLBACK_RUNBOOK, ctx, io);
    j.rollback!.steps = steps.map((s) => `${s.title}: ${s.summary ?? s.state}`);
  } catch (e) {
    if (e instanceof RecoveryError) j.rollback!.error = e.toJSON();
    await store.save();
    throw e;
  }
  j.rollback!.finishedAt = new Date().toISOString();
  j.status = 'rolled-back';
  await store.save('rolled-back');
  const state = describeMachineState(j);
  io.emit({ type: 'finished', ok: true, result: { kind: 'rollback', id: j.id, state } });
  return { id: j.id, state };
}
