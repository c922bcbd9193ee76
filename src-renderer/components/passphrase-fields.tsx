import { useId } from 'react';
import { passphraseStrength } from '../lib/passphrase-strength.js';

/** Passphrase typed twice with a strength meter. The value stays in the parent's local state, never the store. */
export function PassphraseFields({
  value,
  repeat,
  onChange,
}: {
  value: string;
  repeat: string;
  onChange(value: string, repeat: string): void;
}) {
  const uid = useId();
  const s = passphraseStrength(value);
  const mismatch = repeat.length > 0 && repeat !== value;
  return (
    <div className="passphrase-fields">
      <div className="field">
        <label htmlFor={`${uid}-p1`}>Passphrase</label>
        <input
          id={`${uid}-p1`}
          type="password"
          autoComplete="new-password"
          value={value}
          onChange={(e) => onChange(e.target.value, repeat)}
          aria-describedby={`${uid}-strength`}
        />
      </div>
      <div className="strength" id={`${uid}-strength`}>
        <label htmlFor={`${uid}-meter`}>Strength: {s.label}</label>
        <meter id={`${uid}-meter`} min={0} max={4} low={2} high={3} optimum={4} value={s.score} />
        <span className="muted small">{s.advice}</span>
      </div>
      <div className="field">
        <label htmlFor={`${uid}-p2`}>Type the passphrase again</label>
        <input
          id={`${uid}-p2`}
          type="password"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => onChange(value, e.target.value)}
          aria-invalid={mismatch}
          aria-describedby={mismatch ? `${uid}-mismatch` : undefined}
        />
        {mismatch ? (
          <p id={`${uid}-mismatch`} className="field-error">
            The two passphrases are not the same.
          </p>
        ) : null}
      </div>
    </div>
  );
}
