import { RecoveryError, toRecoveryError } from '../errors.js';
import { PROGRESS_INTERVAL_MS, progressWithoutFigures, type Progress } from '../progress.js';
import type { ConfirmRequest, EventSink, Interaction, RunbookKind, StepInfo, StepState } from './types.js';

/** What a runbook gets from its host (CLI, wizard job, test). */
export interface RunbookIO {
  emit: EventSink;
  interaction: Interaction;
  signal?: AbortSignal;
}

/** What a running step can use. */
export interface StepContext {
  progress(p: Progress): void;
  log(message: string, level?: 'info' | 'warn'): void;
  interaction: Interaction;
  signal: AbortSignal | undefined;
}

export interface Step<C> {
  id: string;
  title: string;
  /** Plain words: what will happen. Evaluated when the plan is shown and again when the step starts. */
  explain(ctx: C): string;
  /** When set, the technician must confirm before the step runs (destructive steps). */
  confirm?(ctx: C): Omit<ConfirmRequest, 'stepId' | 'title'>;
  /** A reason to skip this step, or null to run it. */
  skip?(ctx: C): string | null;
  /**
   * Does the work; returns what happened, in plain words, or that and the items it left open (the step is
   * done, the technician has more to do).
   */
  run(ctx: C, step: StepContext): Promise<string | StepOutcome>;
  /**
   * What cancelling the job means once this step runs (`during`), and once it is done or skipped (`after`, else
   * `during`); until a step says otherwise, the runbook's `cancel`. Sent with the plan and every step change
   * (cancelNow), so a screen says it beside its Cancel button without knowing the steps. Words that depend on the
   * job (its options, what an earlier step found) are a function of the context, read at each of those moments.
   */
  cancel?: { during?: CancelWords<C>; after?: CancelWords<C> };
}

/** What cancelling means: fixed words, or words from the job's context (e.g. whether this job stopped the service). */
export type CancelWords<C> = string | ((ctx: C) => string);

/** A step's result with the items it left open (e.g. credentials the technician did not enter). */
export interface StepOutcome {
  summary: string;
  open: string[];
}

export interface RunbookDef<C> {
  kind: RunbookKind;
  title: string;
  steps: Step<C>[];
  /** What cancelling means before any step that says otherwise has run. */
  cancel: CancelWords<C>;
}

/** What cancelling the job means now, from the steps' states and the job's context (see Step.cancel). */
export function cancelNow<C>(def: RunbookDef<C>, states: ReadonlyMap<string, Pick<StepInfo, 'state'>>, ctx: C): string {
  let words: CancelWords<C> = def.cancel;
  for (const s of def.steps) {
    const state = states.get(s.id)?.state;
    if (state === 'running') words = s.cancel?.during ?? words;
    else if (state === 'done' || state === 'skipped') words = s.cancel?.after ?? s.cancel?.during ?? words;
  }
  return typeof words === 'string' ? words : words(ctx);
}

export interface RunHooks {
  /** Called before a step starts (after confirmation). The restore journal writes here. */
  beforeStep?(id: string): Promise<void>;
  /** Called after a step ended, whatever the outcome. */
  afterStep?(info: StepInfo): Promise<void>;
  /** Steps already done in an earlier run (resume): reported as done with their summary, not run again. */
  done?: Map<string, string>;
}

function info<C>(s: Step<C>, ctx: C, state: StepState, extra: Partial<StepInfo> = {}): StepInfo {
  let explain: string;
  try {
    explain = s.explain(ctx);
  } catch {
    explain = s.title;
  }
  return { id: s.id, title: s.title, explain, destructive: s.confirm !== undefined, state, ...extra };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RecoveryError('CANCELLED', 'The job was cancelled.');
}

/**
 * Runs a runbook's steps in order. Emits the plan, then each step's state changes, and throws the
 * first step's error (after emitting it) so the caller can decide about rollback.
 */
export async function executeRunbook<C>(
  def: RunbookDef<C>,
  ctx: C,
  io: RunbookIO,
  hooks: RunHooks = {},
): Promise<StepInfo[]> {
  const states = new Map<string, StepInfo>();
  for (const s of def.steps) {
    const prior = hooks.done?.get(s.id);
    states.set(s.id, prior !== undefined ? info(s, ctx, 'done', { summary: prior }) : info(s, ctx, 'todo'));
  }
  io.emit({
    type: 'plan',
    runbook: def.kind,
    title: def.title,
    steps: [...states.values()],
    cancel: cancelNow(def, states, ctx),
  });
  const emitStep = (step: StepInfo): void => io.emit({ type: 'step', step, cancel: cancelNow(def, states, ctx) });

  for (const s of def.steps) {
    if (hooks.done?.has(s.id)) continue;
    throwIfAborted(io.signal);
    const skipReason = s.skip?.(ctx) ?? null;
    if (skipReason !== null) {
      const i = info(s, ctx, 'skipped', { summary: skipReason });
      states.set(s.id, i);
      emitStep(i);
      await hooks.afterStep?.(i);
      continue;
    }
    if (s.confirm) {
      const req = s.confirm(ctx);
      const ok = await io.interaction.confirm({ stepId: s.id, title: s.title, ...req });
      if (!ok) {
        const err = new RecoveryError('DECLINED', `"${s.title}" was not confirmed, so it was not done.`, {
          hint: 'Nothing in this step changed the machine. Start again when ready.',
        });
        const i = info(s, ctx, 'failed', { summary: 'Not confirmed.', error: err.toJSON() });
        states.set(s.id, i);
        emitStep(i);
        await hooks.afterStep?.(i);
        throw err;
      }
    }
    await hooks.beforeStep?.(s.id);
    const running = info(s, ctx, 'running');
    states.set(s.id, running);
    emitStep(running);
    const beat = stepHeartbeat(s.id, io);
    const stepCtx: StepContext = {
      progress: (p) => {
        beat.saw(p);
        io.emit({ type: 'progress', stepId: s.id, progress: p });
      },
      log: (message, level = 'info') => io.emit({ type: 'log', level, message }),
      interaction: io.interaction,
      signal: io.signal,
    };
    try {
      const out = await s.run(ctx, stepCtx).finally(() => beat.stop());
      const done =
        typeof out === 'string'
          ? info(s, ctx, 'done', { summary: out })
          : info(s, ctx, 'done', { summary: out.summary, ...(out.open.length > 0 ? { open: out.open } : {}) });
      states.set(s.id, done);
      emitStep(done);
      await hooks.afterStep?.(done);
    } catch (e) {
      const err =
        io.signal?.aborted && !(e instanceof RecoveryError) ? new RecoveryError('CANCELLED') : toRecoveryError(e);
      const failed = info(s, ctx, 'failed', { summary: err.message, error: err.toJSON() });
      states.set(s.id, failed);
      emitStep(failed);
      await hooks.afterStep?.(failed);
      throw err;
    }
  }
  return [...states.values()];
}

/** How often the heartbeat looks: a silence never lasts longer than PROGRESS_INTERVAL_MS + this. */
export const HEARTBEAT_CHECK_MS = 50;

/**
 * Progress at least every PROGRESS_INTERVAL_MS from the start of every step, whatever the step does (a walk on
 * the main thread, a service stop, a worker inside one long call): when the step itself said nothing for that
 * long, its last progress is repeated with a fresh elapsed time, or, before its first, a "working" one.
 */
function stepHeartbeat(stepId: string, io: RunbookIO): { saw(p: Progress): void; stop(): void } {
  const started = Date.now();
  let last: Progress | null = null;
  let lastReal = started;
  let lastEmit = started;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastEmit < PROGRESS_INTERVAL_MS) return;
    lastEmit = now;
    const progress: Progress = last
      ? { ...last, elapsedMs: last.elapsedMs + (now - lastReal) }
      : progressWithoutFigures('working', now - started);
    io.emit({ type: 'progress', stepId, progress });
  }, HEARTBEAT_CHECK_MS);
  timer.unref?.();
  return {
    saw(p) {
      last = p;
      lastReal = lastEmit = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}

/** An Interaction that says yes to every confirmation and has no credentials (for --yes and tests). */
export const autoConfirm: Interaction = {
  confirm: async () => true,
  credentials: async () => null,
};
