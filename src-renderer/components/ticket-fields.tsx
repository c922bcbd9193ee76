import { useEffect, useId, useState } from 'react';
import { useApi } from '../api.js';
import { TICKET_KEYS, TICKET_MAX, ticketForStart, useTicket, type TicketKey } from '../store/ticket-store.js';

const LABEL: Record<TicketKey, string> = { number: 'Ticket number', site: 'Site', technician: 'Technician' };
const HINT: Record<TicketKey, string> = {
  number: 'e.g. INC-0042',
  site: 'e.g. Plant 4, Hall B',
  technician: 'Your name',
};

/**
 * Ticket number, site and technician for the report, before a job starts: optional, asked once and remembered (the
 * host keeps the last values). Once filled they show as one line with "Change".
 */
export function TicketFields() {
  const api = useApi();
  const uid = useId();
  const values = useTicket((s) => s.values);
  const status = useTicket((s) => s.status);
  const setValue = useTicket((s) => s.set);
  // Open for typing, or one line with "Change": decided once the remembered values are known (filled → summary).
  const [open, setOpen] = useState<boolean | null>(null);
  useEffect(() => {
    void useTicket.getState().load(api);
  }, [api]);
  const clean = ticketForStart(values);
  const filled = TICKET_KEYS.filter((k) => clean[k] !== undefined);
  useEffect(() => {
    if (status === 'ready' && open === null) setOpen(filled.length === 0);
  }, [status, open, filled.length]);
  if (open === false && filled.length > 0) {
    return (
      <div className="ticket-summary" aria-label="For the report">
        <p>
          For the report:{' '}
          {TICKET_KEYS.map((k) => (
            <span key={k} className="ticket-item">
              {LABEL[k]} <strong>{clean[k] ?? 'not given'}</strong>
            </span>
          ))}
        </p>
        <button type="button" className="secondary small" onClick={() => setOpen(true)}>
          Change
        </button>
      </div>
    );
  }
  return (
    <fieldset className="ticket-fields">
      <legend>For the report (optional)</legend>
      <p className="muted ticket-hint">Printed on the backup and restore reports; remembered for the next job.</p>
      <div className="ticket-grid">
        {TICKET_KEYS.map((k) => (
          <div className="field" key={k}>
            <label htmlFor={`${uid}-${k}`}>{LABEL[k]}</label>
            <input
              id={`${uid}-${k}`}
              type="text"
              autoComplete="off"
              spellCheck={false}
              maxLength={TICKET_MAX[k]}
              placeholder={HINT[k]}
              value={values[k] ?? ''}
              onChange={(e) => {
                setOpen(true);
                setValue(k, e.target.value);
              }}
            />
          </div>
        ))}
      </div>
    </fieldset>
  );
}
