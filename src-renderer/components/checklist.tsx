import type { StepInfo } from '../../src-main/shared/contract.js';
import { assertNever, isDeclined } from '../lib/runbook-view.js';
import { PathText } from './path-text.js';

type State = StepInfo['state'];

export function stateLabel(state: State): string {
  switch (state) {
    case 'todo':
      return 'To do';
    case 'running':
      return 'Running';
    case 'done':
      return 'Done';
    case 'failed':
      return 'Failed';
    case 'skipped':
      return 'Skipped';
    default:
      return assertNever(state);
  }
}

// A symbol beside the words, so the state never depends on colour alone.
const MARK: Record<State, string> = { todo: '○', running: '◐', done: '✓', failed: '✕', skipped: '–' };

/** The whole runbook beside every step: each step's title and state, as the engine last reported it. */
export function Checklist({ steps, currentId }: { steps: readonly StepInfo[]; currentId: string | null }) {
  if (steps.length === 0) return <p className="muted">Waiting for the plan…</p>;
  return (
    <ol className="checklist" aria-label="Steps of this job">
      {steps.map((s) => {
        // Declining (or cancelling) a step is the technician's choice, not a failure: grey, not red.
        const declined = isDeclined(s);
        // Done, but with items left (credentials not entered): never a plain "Done".
        const open = s.state === 'done' && (s.open?.length ?? 0) > 0 ? s.open! : null;
        const look = declined ? 'declined' : open ? 'open' : s.state;
        const summary = s.error?.ui?.message ?? s.summary;
        return (
          <li
            key={s.id}
            className={`checklist-item state-${look}`}
            data-step-id={s.id}
            data-state={look}
            aria-current={s.id === currentId ? 'step' : undefined}
          >
            <span className="mark" aria-hidden="true">
              {declined ? '–' : open ? '!' : MARK[s.state]}
            </span>
            <span className="title">{s.title}</span>
            <span className="state">
              {declined
                ? 'Not done'
                : open
                  ? `${open.length} open item${open.length === 1 ? '' : 's'}`
                  : stateLabel(s.state)}
            </span>
            {summary && s.state !== 'running' ? (
              <span className="summary">
                <PathText text={summary} />
              </span>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}
