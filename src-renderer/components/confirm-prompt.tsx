import { useState } from 'react';
import type { ConfirmRequest } from '../../src-main/shared/contract.js';

/** A destructive step waits here: what will happen, what it affects, and one button to go ahead. */
export function ConfirmPrompt({ request, onAnswer }: { request: ConfirmRequest; onAnswer(ok: boolean): void }) {
  const [sent, setSent] = useState(false);
  const answer = (ok: boolean) => {
    setSent(true);
    onAnswer(ok);
  };
  return (
    <section className="prompt confirm" aria-labelledby="confirm-title">
      <h3 id="confirm-title">{request.title}</h3>
      <p>{request.message}</p>
      {request.details && request.details.length > 0 ? (
        <ul className="details" aria-label="What this affects">
          {request.details.map((d) => (
            <li key={d}>
              <code>{d}</code>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="actions">
        <button type="button" className="primary" disabled={sent} onClick={() => answer(true)}>
          {request.action}
        </button>
        <button type="button" className="secondary" disabled={sent} onClick={() => answer(false)}>
          Don’t do this — stop here
        </button>
      </div>
    </section>
  );
}
