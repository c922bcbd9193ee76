import type {
  JobEventEnvelope,
  JobPrompt,
  Progress,
  RunbookEvent,
  RunbookResult,
  SavedReportView,
  SerializedError,
  StepInfo,
} from '../../src-main/shared/contract.js';

type RunbookKind = Extract<RunbookEvent, { type: 'plan' }>['runbook'];

/** Everything a screen shows about a job, derived from its events alone (the events are the truth). */
export interface RunbookView {
  kind: RunbookKind | null;
  title: string;
  steps: StepInfo[];
  /** The step running now, else the last one that changed. */
  current: StepInfo | null;
  progress: { stepId: string; progress: Progress } | null;
  prompt: { promptId: string; prompt: JobPrompt } | null;
  logs: { level: 'info' | 'warn'; message: string }[];
  finished: { ok: boolean; result?: RunbookResult; error?: SerializedError } | null;
  /** What cancelling the job means now, in the runbook's own words (the engine's; see cancelConsequence). */
  cancel: string | null;
}

export const EMPTY_VIEW: RunbookView = {
  kind: null,
  title: '',
  steps: [],
  current: null,
  progress: null,
  prompt: null,
  logs: [],
  finished: null,
  cancel: null,
};

/**
 * Folds a job's events (in seq order) into what the wizard shows. A prompt counts as open until a step changes or
 * the job ends after it (log lines and progress do not close it), or the wizard has answered it (`answered`
 * holds prompt ids).
 */
export function deriveRunbook(
  envelopes: readonly JobEventEnvelope[],
  answered: ReadonlySet<string> = new Set(),
): RunbookView {
  const sorted = [...envelopes].sort((a, b) => a.seq - b.seq);
  let kind: RunbookKind | null = null;
  let title = '';
  let steps: StepInfo[] = [];
  let lastChanged: string | null = null;
  let progress: RunbookView['progress'] = null;
  let prompt: RunbookView['prompt'] = null;
  const logs: RunbookView['logs'] = [];
  let finished: RunbookView['finished'] = null;
  let cancel: string | null = null;

  for (const { event } of sorted) {
    // A step waiting for the technician still beats (the runner repeats progress while a step runs): only a
    // step change or the end closes a question.
    if (event.type === 'step' || event.type === 'plan' || event.type === 'finished') prompt = null;
    switch (event.type) {
      case 'plan':
        kind = event.runbook;
        title = event.title;
        steps = event.steps.map((s) => ({ ...s }));
        cancel = event.cancel ?? null;
        break;
      case 'step': {
        const i = steps.findIndex((s) => s.id === event.step.id);
        if (i >= 0) steps[i] = { ...event.step };
        else steps.push({ ...event.step });
        lastChanged = event.step.id;
        if (event.cancel !== undefined) cancel = event.cancel;
        if (event.step.state !== 'running' && progress?.stepId === event.step.id) progress = null;
        break;
      }
      case 'progress':
        progress = { stepId: event.stepId, progress: event.progress };
        break;
      case 'log':
        logs.push({ level: event.level, message: event.message });
        break;
      case 'prompt':
        prompt = { promptId: event.promptId, prompt: event.prompt };
        lastChanged = event.prompt.request.stepId;
        break;
      case 'finished': {
        const f: NonNullable<RunbookView['finished']> = { ok: event.ok };
        if (event.result !== undefined) f.result = event.result;
        if (event.error !== undefined) f.error = event.error;
        finished = f;
        progress = null;
        break;
      }
      default:
        assertNever(event);
    }
  }
  if (prompt && answered.has(prompt.promptId)) prompt = null;
  const running = steps.find((s) => s.state === 'running');
  const current = running ?? steps.find((s) => s.id === lastChanged) ?? null;
  return { kind, title, steps, current, progress, prompt, logs, finished, cancel };
}

/** The error a failed job shows: the failing step's own error first, then the job's. */
export function failureOf(view: RunbookView): SerializedError | null {
  if (view.finished?.ok !== false) return null;
  const failedStep = view.steps.find((s) => s.state === 'failed' && s.error);
  return (
    view.finished.error ?? failedStep?.error ?? { code: 'INTERNAL', message: 'The job stopped without saying why.' }
  );
}

/** Where a finished backup was written, from its declared result. */
export function backupLocation(result: RunbookResult | undefined): string | null {
  return result?.kind === 'backup' ? result.setDir : null;
}

/** Where each copy of a finished backup's or restore's report went (the stick, this machine). */
export function reportSaved(result: RunbookResult | undefined): SavedReportView[] {
  return result?.kind === 'restore' || result?.kind === 'backup' ? (result.saved ?? []) : [];
}

/** The HTML report to show in the wizard: this machine's copy first (the stick may be pulled). */
export function reportToShow(saved: SavedReportView[]): string | null {
  return (saved.find((s) => s.where === 'machine' && s.html) ?? saved.find((s) => s.html))?.html ?? null;
}

/** The HTML report of a finished restore, from its declared result. */
export function restoreReport(result: RunbookResult | undefined): string | null {
  return result?.kind === 'restore' ? (result.reports.find((r) => r.endsWith('.html')) ?? null) : null;
}

export function assertNever(x: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(x)}`);
}

/**
 * What cancelling will do, said before the technician cancels: the runbook's own words for where the job is now
 * (the engine declares them per step, runner.ts Step.cancel); the screen knows no step.
 */
export function cancelConsequence(view: RunbookView): string {
  // Every runbook sends its words with its plan: none yet means the job has not begun.
  return view.cancel ?? 'The job stops before it begins.';
}

/** A step the technician chose not to do (or cancelled) is not a failure of the machine. */
export function isDeclined(step: StepInfo): boolean {
  return step.state === 'failed' && (step.error?.code === 'DECLINED' || step.error?.code === 'CANCELLED');
}
