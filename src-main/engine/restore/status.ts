import type { RestoreStatusView } from '../../shared/contract.js';
import type { StepInfo } from '../runbook/types.js';
import { defaultStateDir, readJournal, renameDone, type RestoreJournal } from './journal.js';
import { changesMachine } from '../runbook/product/product-steps.js';
import { FIRST_CHANGING_STEP, STEP_TITLES, restoreStepTitles, stepIndex } from './step-titles.js';

/** True once a step that changes the machine has started: from then on, failure leaves a journal to resume or roll back. */
export function machineTouched(j: RestoreJournal): boolean {
  const first = stepIndex(FIRST_CHANGING_STEP);
  return (
    STEP_TITLES.some((s, i) => i >= first && j.steps[s.id] !== undefined && j.steps[s.id]!.state !== 'todo') ||
    j.serviceBefore !== null ||
    // The product's own steps that change something (a reset, an import, a second service).
    (j.profile.steps ?? []).some(
      (s) => s.at.startsWith('restore.') && changesMachine(s) && (j.steps[s.id]?.state ?? 'todo') !== 'todo',
    )
  );
}

function itemWords(j: RestoreJournal): string[] {
  return j.items.map((i) => {
    const asideDone = renameDone(j, i.id, 'set-aside');
    const inDone = renameDone(j, i.id, 'move-in');
    if (inDone)
      return `${i.target} holds the restored data${asideDone ? ` (the earlier folder is at ${i.setAside})` : ''}.`;
    if (asideDone)
      return `${i.target} is empty: its earlier folder is at ${i.setAside} and the restored copy waits at ${i.staging}.`;
    return `${i.target} is unchanged.`;
  });
}

/** Where a restore stands, in plain words a technician can act on. */
export function describeMachineState(j: RestoreJournal): string {
  switch (j.status) {
    case 'finished':
      return `The restore finished at ${j.updatedAt}: the restored folders are in place and the service runs.`;
    case 'rolled-back':
      return 'The restore was rolled back: the folders and the service are as they were before it.';
    case 'rolling-back':
      return `A rollback was interrupted. ${itemWords(j).join(' ')} Run the rollback again to finish putting things back.`;
    case 'committing':
      return 'The restore was cleaning up (deleting the set-aside folders) when it stopped. The restored folders are in place; resume to finish. It can no longer be rolled back.';
    case 'running':
    case 'failed': {
      const at = restoreStepTitles(j.profile).find((s) => {
        const st = j.steps[s.id]?.state;
        return st === 'running' || st === 'failed';
      });
      const rec = at ? j.steps[at.id] : undefined;
      const where = at
        ? rec?.state === 'failed'
          ? `The restore stopped at "${at.title}": ${rec.error?.message ?? rec.summary ?? 'it failed'}.`
          : `The restore was interrupted during "${at.title}".`
        : 'The restore was interrupted between two steps.';
      if (!machineTouched(j)) return `${where} Nothing on this machine was changed yet.`;
      const svc = j.serviceBefore === null ? '' : ` The service was ${j.serviceBefore} before the restore.`;
      return `${where}${svc} ${itemWords(j).join(' ')} Resume to finish the restore, or roll back to put everything back as it was.`;
    }
  }
}

export function statusView(j: RestoreJournal): RestoreStatusView {
  const steps: StepInfo[] = restoreStepTitles(j.profile).map((s) => {
    const r = j.steps[s.id];
    const info: StepInfo = {
      id: s.id,
      title: s.title,
      explain: s.explain,
      destructive: s.destructive,
      state: r?.state ?? 'todo',
    };
    if (r?.summary !== undefined) info.summary = r.summary;
    if (r?.error !== undefined) info.error = r.error;
    return info;
  });
  return {
    id: j.id,
    backup: j.handMade?.file ?? j.backup,
    profileId: j.profile.id,
    startedAt: j.startedAt,
    updatedAt: j.updatedAt,
    where: describeMachineState(j),
    steps,
    canResume: j.status === 'running' || j.status === 'failed' || j.status === 'committing',
    canRollback: j.status === 'running' || j.status === 'failed' || j.status === 'rolling-back',
  };
}

/** The journal as the wizard shows it, or null when no restore was ever started here. */
/** The last restore's journal as a view, whatever its state (finished and rolled-back ones included). */
export async function restoreStatus(opts: { stateDir?: string } = {}): Promise<RestoreStatusView | null> {
  const j = await readJournal(defaultStateDir(opts.stateDir));
  return j === null ? null : statusView(j);
}

/** A restore is unfinished while it can still be resumed or rolled back; an ended one is history. */
export function isUnfinished(v: RestoreStatusView | null): v is RestoreStatusView {
  return v !== null && (v.canResume || v.canRollback);
}

/** The restore a technician must finish or undo before anything else, or null. */
export async function unfinishedRestore(opts: { stateDir?: string } = {}): Promise<RestoreStatusView | null> {
  const v = await restoreStatus(opts);
  return isUnfinished(v) ? v : null;
}
