import { useEffect, useRef, useState } from 'react';
import type { LastBackupView } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { renderReport } from '../lib/render-report.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';
import { ErrorPanel } from './error-panel.js';

/** "3 hours ago", "12 days ago". */
export function ageText(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} minute${min === 1 ? '' : 's'} ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'} ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/**
 * The start screen's backup age: when and where the last verified backup of this device was made, a warning
 * past the threshold, and the two things to do with it (copy it to a stick, print the emergency kit).
 */
export function LastBackupNote({
  profileRef,
  label,
  productHere = true,
}: {
  profileRef: string | null;
  label: string;
  /**
   * False when the start screen found no product on this machine (a replacement waiting for a restore): "make one
   * now" there contradicted "nothing here to back up" right above it.
   */
  productHere?: boolean;
}) {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const [last, setLast] = useState<LastBackupView | null | undefined>(undefined);
  const [kit, setKit] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const kitHost = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let live = true;
    if (!profileRef) return;
    api
      .invoke('backups.last', { profileRef })
      .then((v) => live && setLast(v))
      .catch(() => live && setLast(null));
    return () => {
      live = false;
    };
  }, [api, profileRef]);
  useEffect(() => {
    if (kit !== null && kitHost.current) renderReport(kitHost.current, kit);
  }, [kit]);
  if (!profileRef || last === undefined) return null;
  const showKit = async () => {
    setError(null);
    try {
      setKit((await api.invoke('emergencyKit.html', { profileRef })).html);
    } catch (e) {
      setError(toUiError(e));
    }
  };
  return (
    <div className="last-backup">
      {last === null && !productHere ? (
        <p className="muted" data-testid="last-backup">
          No verified backup of {label} is recorded on this computer.
        </p>
      ) : last === null ? (
        <p className="warn" data-testid="last-backup">
          No verified backup of {label} is recorded on this computer. If the machine fails, there is nothing to restore:
          make one now, and have them made on a schedule (the README’s “Scheduled backups” says how to set it up).
        </p>
      ) : (
        <p className={last.stale ? 'warn' : undefined} data-testid="last-backup">
          Last verified backup of {label}: <strong>{ageText(last.ageMs)}</strong> (
          {last.createdAt.replace('T', ' ').slice(0, 16)} UTC, {last.class}
          {last.encrypted ? ', encrypted' : ''}) at <code>{last.setDir}</code>
          {last.present ? '' : ' — not reachable now (stick unplugged?)'}.
          {last.stale
            ? ` That is older than ${Math.round(last.thresholdMs / 86_400_000)} days: make a backup now and check the schedule.`
            : ''}
        </p>
      )}
      <div className="actions no-print">
        {last?.present ? (
          <button type="button" className="secondary" onClick={() => go({ kind: 'mirror-drive', from: last.to })}>
            Copy backups to a stick
          </button>
        ) : null}
        <button type="button" className="secondary" onClick={() => void showKit()}>
          Print the emergency kit
        </button>
      </div>
      {error ? <ErrorPanel error={error} /> : null}
      {kit !== null ? (
        <section className="emergency-kit" aria-label="Emergency kit">
          <p className="no-print">
            Print this page and keep it away from the machine: it says where the backups are and how to restore them
            {last?.encrypted ? ', and has a box for the passphrase — without it the encrypted backups are lost' : ''}.
          </p>
          <div ref={kitHost} />
          <div className="actions no-print">
            <button type="button" className="primary" onClick={() => window.print()}>
              Print
            </button>
            <button type="button" className="secondary" onClick={() => setKit(null)}>
              Close
            </button>
          </div>
        </section>
      ) : null}
    </div>
  );
}
