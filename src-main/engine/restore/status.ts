import type { RestoreStatusView } from '../../shared/contract.js';
import type { StepInfo } from '../runbook/types.js';
import { exists } from '../util/atomic-fs.js';
import {
  defaultStateDir,
  discardName,
  readJournal,
  renameDone,
  type RenameRecord,
  type RestoreJournal,
} from './journal.js';
import { changesMachine } from '../runbook/product/product-steps.js';
import { FIRST_CHANGING_STEP, STEP_TITLES, restoreStepTitles, stepIndex } from './step-titles.js';

/** True once a step that changes the machine has started: from then on, failure leaves a journal to resume or roll back. */
export function machineTouched(j: RestoreJournal): boolean {
  // The stop step records the service's state before it touches the service: until then (a declined or
  // refused stop, a kill before it) nothing has changed.
  const after = stepIndex(FIRST_CHANGING_STEP) + 1;
  return (
    j.serviceBefore !== null ||
    STEP_TITLES.some((s, i) => i >= after && j.steps[s.id] !== undefined && j.steps[s.id]!.state !== 'todo') ||
    // The product's own steps that change something (a reset, an import, a second service).
    (j.profile.steps ?? []).some(
      (s) => s.at.startsWith('restore.') && changesMachine(s) && (j.steps[s.id]?.state ?? 'todo') !== 'todo',
    )
  );
}

/**
 * What is on disk at each path the journal names (target, set-aside, staging, discard). Rename records the
 * process wrote as 'intended' before it was killed are judged by these facts, as reconcileRenames would.
 */
export type DiskFacts = ReadonlyMap<string, boolean>;

export async function diskFacts(j: RestoreJournal): Promise<DiskFacts> {
  const paths = j.items.flatMap((i) => [i.target, i.setAside, i.staging, discardName(i)]);
  const out = new Map<string, boolean>();
  await Promise.all(paths.map(async (p) => out.set(p, await exists(p).catch(() => false))));
  return out;
}

function happened(
  j: RestoreJournal,
  disk: DiskFacts | undefined,
  itemId: string,
  purpose: RenameRecord['purpose'],
): boolean {
  if (renameDone(j, itemId, purpose)) return true;
  if (disk === undefined) return false;
  return j.renames.some(
    (r) =>
      r.itemId === itemId &&
      r.purpose === purpose &&
      r.state === 'intended' &&
      disk.get(r.from) === false &&
      disk.get(r.to) === true,
  );
}

function itemWords(j: RestoreJournal, disk: DiskFacts | undefined): string[] {
  // Without disk facts (the finished result), the journal alone speaks; with them, no path is named that is not there.
  const there = (p: string) => disk === undefined || disk.get(p) === true;
  return j.items.map((i) => {
    const name = i.link !== undefined ? `${i.target} (reached through the link ${i.link})` : i.target;
    const aside = happened(j, disk, i.id, 'set-aside');
    const movedIn = happened(j, disk, i.id, 'move-in');
    const discarded = happened(j, disk, i.id, 'discard');
    const putBack = happened(j, disk, i.id, 'put-back');
    const discard = discardName(i);
    const leftovers = [
      ...(disk !== undefined && there(i.staging) ? [`the staging copy ${i.staging}`] : []),
      ...(disk !== undefined && there(discard) ? [`the restored copy ${discard}`] : []),
    ];
    const toDelete = leftovers.length > 0 ? ` (${leftovers.join(' and ')} is still to be deleted)` : '';
    if (putBack) return `${name} holds its earlier folder again${toDelete}.`;
    if (movedIn && !discarded) {
      return `${name} holds the restored data${aside && there(i.setAside) ? ` (the earlier folder is at ${i.setAside})` : ''}.`;
    }
    if (discarded) {
      return `${name} is not there right now: the restored copy was moved to ${discard} to be deleted${aside && there(i.setAside) ? `, and the earlier folder waits at ${i.setAside}` : ''}.`;
    }
    if (aside) {
      const staged = there(i.staging) ? ` and the restored copy waits at ${i.staging}` : '';
      return `${name} is not there right now: its earlier folder is at ${i.setAside}${staged}.`;
    }
    if (disk !== undefined && !there(i.target)) return `${name} does not exist (there was none before)${toDelete}.`;
    return `${name} is unchanged${toDelete}.`;
  });
}

/** Where a restore stands, in plain words a technician can act on. */
export function describeMachineState(j: RestoreJournal, disk?: DiskFacts): string {
  switch (j.status) {
    case 'finished':
      // What the journal knows, in the past tense: the service may have been stopped since (a kept practice is).
      return `The restore finished at ${stampOf(j.updatedAt)}: the restored folders were put in place and the service was started.`;
    case 'rolled-back':
      return 'The restore was rolled back: the folders and the service are as they were before it.';
    case 'rolling-back':
      return `A rollback was interrupted. ${itemWords(j, disk).join(' ')} Run the rollback again to finish putting things back.`;
    case 'committing': {
      const fin = j.steps['finish'];
      const why =
        fin?.state === 'failed' && fin.error !== undefined
          ? `The clean-up failed: ${fin.error.message}`
          : 'The restore was cleaning up (deleting the set-aside folders) when it stopped.';
      return `${why} The restored folders are in place; resume to finish the clean-up. It can no longer be rolled back: the earlier folders are partly deleted.`;
    }
    case 'running':
    case 'failed': {
      const at = restoreStepTitles(j.profile).find((s) => {
        const st = j.steps[s.id]?.state;
        return st === 'running' || st === 'failed';
      });
      const rec = at ? j.steps[at.id] : undefined;
      const where = at
        ? rec?.state === 'failed'
          ? rec.error?.code === 'DECLINED'
            ? // The runner's message names the step again ("\"<title>\" was not confirmed, …"): said once.
              `The restore stopped at "${at.title}": it was not confirmed, so it was not done.`
            : `The restore stopped at "${at.title}": ${(rec.error?.message ?? rec.summary ?? 'it failed').replace(/\.$/, '')}.`
          : `The restore was interrupted during "${at.title}".`
        : 'The restore was interrupted between two steps.';
      if (!machineTouched(j)) {
        // The extraction runs before the service is stopped: its staging copy is the only trace, root-only.
        const staged = disk === undefined ? [] : j.items.filter((i) => disk.get(i.staging) === true);
        const left =
          staged.length === 0
            ? ''
            : ` Only a partly unpacked copy is left (${staged.map((i) => i.staging).join(', ')}, root-only, beside the folders in use): resume unpacks it again from the start, roll back deletes it.`;
        return `${where} Nothing on this machine was changed yet: the service and its folders are as they were.${left}`;
      }
      return `${where}${serviceWords(j)} ${itemWords(j, disk).join(' ')} Resume to finish the restore, or roll back to put everything back as it was.`;
    }
  }
}

/**
 * The service's state in words: before the restore, and that it is down now when the restore stopped it and had not
 * started it again (the product is out of service until the technician resumes or rolls back; "The service was
 * running before the restore." alone read as if it still ran). "unknown" is a service stopped by hand.
 */
function serviceWords(j: RestoreJournal): string {
  const before = j.serviceBefore;
  if (before === null) return '';
  const start = j.steps['start-service'];
  const down = j.steps['stop-service']?.state === 'done' && (start === undefined || start.state === 'todo');
  if (before === 'unknown')
    return ` The service was stopped by hand for the restore${down ? ' and is not running now: resume or roll back to bring it back' : ''}.`;
  if (before === 'stopped') return ' The service was stopped before the restore.';
  return ` The service was ${before} before the restore${down ? '; the restore stopped it and it is not running now: resume or roll back to start it again' : ''}.`;
}

export function statusView(j: RestoreJournal, disk?: DiskFacts): RestoreStatusView {
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
    where: describeMachineState(j, disk),
    steps,
    canResume: j.status === 'running' || j.status === 'failed' || j.status === 'committing',
    canRollback: j.status === 'running' || j.status === 'failed' || j.status === 'rolling-back',
    encrypted: j.options.encrypted,
  };
}

/** The journal as the wizard shows it, or null when no restore was ever started here. */
/** The last restore's journal as a view, whatever its state (finished and rolled-back ones included). */
export async function restoreStatus(opts: { stateDir?: string } = {}): Promise<RestoreStatusView | null> {
  const j = await readJournal(defaultStateDir(opts.stateDir));
  return j === null ? null : statusView(j, await diskFacts(j));
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

/** `2026-12-01 09:38:54 UTC`, as the reports write times. */
export function stampOf(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC` : iso;
}
