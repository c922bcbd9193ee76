import { useState } from 'react';
import type { ConfirmRequest } from '../../src-main/shared/contract.js';
import { useRevealedPrompt } from '../lib/reveal-prompt.js';
import { hasPaths } from '../lib/short-paths.js';
import { PathText } from './path-text.js';

/**
 * A step waits here: what will happen, what it affects, and the buttons. It stays in view (sticky at the bottom
 * of the window) and scrolls itself into view when it appears, so the question is never below the fold, without
 * covering the step's explanation above it (revealPrompt).
 */
export function ConfirmPrompt({ request, onAnswer }: { request: ConfirmRequest; onAnswer(ok: boolean): void }) {
  const [sent, setSent] = useState(false);
  const [full, setFull] = useState(false);
  const box = useRevealedPrompt<HTMLElement>();
  const answer = (ok: boolean) => {
    setSent(true);
    onAnswer(ok);
  };
  const details = request.details ?? [];
  const choice = request.decline !== undefined;
  return (
    <section ref={box} className="prompt confirm" aria-labelledby="confirm-title" data-testid="question">
      <h3 id="confirm-title">{request.title}</h3>
      <p>{request.ui?.message ?? request.message}</p>
      {details.length > 0 ? (
        <ul className="details" aria-label="What this affects">
          {details.map((d) => (
            <li key={d}>
              <code>
                <PathText text={d} full={full} />
              </code>
            </li>
          ))}
        </ul>
      ) : null}
      {details.some(hasPaths) ? (
        <button type="button" className="link" onClick={() => setFull((f) => !f)}>
          {full ? 'Show folder names only' : 'Show full paths'}
        </button>
      ) : null}
      <div className="actions">
        {choice ? (
          <>
            <button type="button" className="primary" disabled={sent} onClick={() => answer(false)}>
              {request.decline}
            </button>
            <button type="button" className="secondary danger" disabled={sent} onClick={() => answer(true)}>
              {request.action}
            </button>
          </>
        ) : (
          <>
            <button type="button" className="primary" disabled={sent} onClick={() => answer(true)}>
              {request.action}
            </button>
            <button type="button" className="secondary" disabled={sent} onClick={() => answer(false)}>
              Don’t do this — stop here
            </button>
          </>
        )}
      </div>
    </section>
  );
}
