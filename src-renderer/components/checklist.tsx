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
        return (
          <li
            key={s.id}
            className={`checklist-item state-${declined ? 'declined' : s.state}`}
            data-step-id={s.id}
            data-state={declined ? 'declined' : s.state}
            aria-current={s.id === currentId ? 'step' : undefined}
          >
            <span className="mark" aria-hidden="true">
              {declined ? '–' : MARK[s.state]}
            </span>
            <span className="title">{s.title}</span>
            <span className="state">{declined ? 'Not done' : stateLabel(s.state)}</span>
            {s.summary && s.state !== 'running' ? (
              <span className="summary">
                <PathText text={s.summary} />
              </span>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}
