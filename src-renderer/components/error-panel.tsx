import type { ReactNode } from 'react';
import { wizardWords, type UiError } from '../lib/ui-error.js';

/** Plain words for the codes a technician meets most; the engine's own message always follows. */
const HEADLINES: Record<string, string> = {
  MEDIUM_GONE: 'The USB stick was unplugged (or stopped answering).',
  MEDIUM_FULL: 'The USB stick is full.',
  WRONG_PASSPHRASE: 'That passphrase does not open this backup.',
  PASSPHRASE_REQUIRED: 'This backup is encrypted: a passphrase is needed.',
  BACKUP_CORRUPT: 'The backup is damaged.',
  PERMISSION_DENIED: 'The wizard lacks the rights to do this.',
  DECLINED: 'Stopped, as you chose.',
  CANCELLED: 'Cancelled, as you asked.',
};

/** Codes that are the technician's own choice: shown calmly, not as an alarm. */
const CHOSEN = new Set(['DECLINED', 'CANCELLED']);

/** The engine's message and hint, with the ways out the screen offers; never a stack trace. */
export function ErrorPanel({
  error,
  title,
  state,
  children,
}: {
  error: UiError;
  title?: string;
  /** The machine's state now, in the engine's words (a restore's journal), where the job left it. */
  state?: string;
  children?: ReactNode;
}) {
  const headline = title ?? HEADLINES[error.code] ?? 'This did not work.';
  const words = wizardWords(error);
  const same = plain(headline) === plain(words.message);
  return (
    <div
      className={CHOSEN.has(error.code) ? 'error-panel chosen' : 'error-panel'}
      role={CHOSEN.has(error.code) ? 'status' : 'alert'}
      data-error-code={error.code}
    >
      <h3>{same ? 'This did not work.' : headline}</h3>
      <p>{words.message}</p>
      {words.hint ? (
        <p className="hint">
          <strong>What to do: </strong>
          {words.hint}
        </p>
      ) : null}
      {state ? (
        <p className="state-now">
          <strong>State of the machine now: </strong>
          {state}
        </p>
      ) : null}
      {CHOSEN.has(error.code) ? null : <p className="muted small">Reference for support: {error.code}</p>}
      {children ? <div className="actions">{children}</div> : null}
    </div>
  );
}

function plain(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}
