import { useState, type ReactNode } from 'react';
import type { SerializedError } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { assertNever, cancelConsequence, failureOf, type RunbookView } from '../lib/runbook-view.js';
import { PathText } from './path-text.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useJobCatchUp, useJobView, type PromptAnswer } from '../store/use-job.js';
import { useWizard } from '../store/wizard-store.js';
import { Checklist, stateLabel } from './checklist.js';
import { ConfirmPrompt } from './confirm-prompt.js';
import { CredentialForm } from './credential-form.js';
import { ErrorPanel } from './error-panel.js';
import { OverallLine, ProgressView } from './progress-view.js';
import { jobEstimate, type WorkSize } from '../../src-main/shared/estimate.js';

/**
 * A running job, presented: the checklist of the whole runbook beside the current step, which says what will
 * happen (explain) and what happened (summary), shows its prompt or its progress, and finally the result.
 */
export function RunbookPanel({
  jobId,
  done,
  failed,
  work = null,
}: {
  jobId: string;
  /** The job's size when the screen knows it (from the plan): the whole job's time left from the first second. */
  work?: WorkSize | null;
  done(view: RunbookView): ReactNode;
  failed(view: RunbookView, error: SerializedError): ReactNode;
}) {
  useJobCatchUp(jobId);
  const view = useJobView(jobId);
  const api = useApi();
  const markAnswered = useWizard((s) => s.markAnswered);
  const [respondError, setRespondError] = useState<UiError | null>(null);

  const respond = async (promptId: string, answer: PromptAnswer) => {
    setRespondError(null);
    markAnswered(promptId);
    try {
      await api.invoke('job.respond', { jobId, promptId, answer });
    } catch (e) {
      setRespondError(toUiError(e));
    }
  };

  const cur = view.current;
  const failure = failureOf(view);
  const estimate = jobEstimate(view.kind, view.steps, view.progress, work);
  return (
    <div className="runbook" data-job-id={jobId}>
      <aside className="runbook-steps" aria-label="Checklist">
        <h2 className="aside-title">{view.title || 'Preparing…'}</h2>
        <Checklist steps={view.steps} currentId={cur?.id ?? null} />
        <p className="visually-hidden" role="status" aria-live="polite">
          {cur ? `${cur.title}: ${stateLabel(cur.state)}` : ''}
        </p>
      </aside>
      <div className="runbook-main">
        {cur ? (
          <section className="current-step" aria-labelledby="current-step-title" data-step-id={cur.id}>
            <h2 id="current-step-title">{cur.title}</h2>
            <p className="explain">
              <strong>
                {cur.state === 'todo' || cur.state === 'running'
                  ? // A job that ended (cancelled, failed) before this step: nothing happens now. It read "What happens
                    // now: Stop … the service" above "Cancelled, as you asked.".
                    view.finished
                    ? cur.state === 'todo'
                      ? 'Not done (the job ended before this step): '
                      : 'Stopped during this step: '
                    : 'What happens now: '
                  : 'What this step did: '}
              </strong>
              <PathText
                text={cur.state === 'todo' || cur.state === 'running' || !cur.summary ? cur.explain : cur.summary}
              />
            </p>
            {view.progress && view.progress.stepId === cur.id && !view.prompt ? (
              <ProgressView progress={view.progress.progress} overall={estimate} />
            ) : !view.finished && !view.prompt && estimate.remainingSeconds !== null ? (
              <OverallLine overall={estimate} />
            ) : null}
          </section>
        ) : (
          <p className="muted">Starting…</p>
        )}
        {view.prompt ? renderPrompt(view.prompt, respond) : null}
        {!view.finished && view.kind !== null ? <CancelJob jobId={jobId} view={view} pinned={!view.prompt} /> : null}
        {respondError ? <ErrorPanel error={respondError} /> : null}
        {view.logs.some((l) => l.level === 'warn') ? (
          <ul className="warnings" aria-label="Warnings">
            {view.logs
              .filter((l) => l.level === 'warn')
              .map((l, i) => (
                <li key={i}>{l.message}</li>
              ))}
          </ul>
        ) : null}
        {view.finished?.ok ? done(view) : null}
        {failure ? failed(view, failure) : null}
      </div>
    </div>
  );
}

function renderPrompt(
  p: NonNullable<RunbookView['prompt']>,
  respond: (promptId: string, a: PromptAnswer) => Promise<void>,
): ReactNode {
  const { promptId, prompt } = p;
  switch (prompt.kind) {
    case 'confirm':
      return (
        <ConfirmPrompt
          key={promptId}
          request={prompt.request}
          onAnswer={(ok) => void respond(promptId, { kind: 'confirm', ok })}
        />
      );
    case 'credentials':
      return (
        <CredentialForm
          key={promptId}
          request={prompt.request}
          onSubmit={(values) => void respond(promptId, { kind: 'credentials', values })}
        />
      );
    default:
      return assertNever(prompt);
  }
}

/**
 * Every running job can be cancelled; the button says first what cancelling will do. Pinned (no question on screen,
 * which has its own buttons and is pinned itself), it stays in view at 1366×768 however tall the progress above it.
 */
function CancelJob({ jobId, view, pinned }: { jobId: string; view: RunbookView; pinned: boolean }) {
  const api = useApi();
  const [asking, setAsking] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const what = view.kind === 'verify' ? 'check' : (view.kind ?? 'job');
  const cancel = async () => {
    setSent(true);
    setError(null);
    try {
      await api.invoke('job.cancel', { jobId });
    } catch (e) {
      setError(toUiError(e));
      setSent(false);
    }
  };
  return (
    <div className={pinned ? 'cancel-job pinned no-print' : 'cancel-job no-print'}>
      {sent ? (
        <p role="status">Cancelling… the {what} stops at the next safe point.</p>
      ) : asking ? (
        <div role="group" aria-labelledby="cancel-question" className="cancel-question">
          <p id="cancel-question">
            <strong>Cancel the {what}?</strong> {cancelConsequence(view)}
          </p>
          <div className="actions">
            <button type="button" className="secondary danger" onClick={() => void cancel()}>
              Yes, cancel the {what}
            </button>
            <button type="button" className="secondary" onClick={() => setAsking(false)}>
              No, keep going
            </button>
          </div>
        </div>
      ) : (
        <p>
          <button type="button" className="secondary" onClick={() => setAsking(true)}>
            Cancel the {what}…
          </button>{' '}
          <span className="muted small">{cancelConsequence(view)}</span>
        </p>
      )}
      {error ? <ErrorPanel error={error} /> : null}
    </div>
  );
}
