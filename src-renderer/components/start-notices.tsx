import { useEffect, useState } from 'react';
import type { RestoreLeftovers } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { formatBytes, formatCount } from '../lib/format.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';
import { ErrorPanel } from './error-panel.js';

/**
 * Said first on the start screen: a backup that was interrupted earlier and has been put right now, and what the
 * last restore left to do (credentials not entered, old folders kept), with the buttons that finish it.
 */
export function StartNotices() {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const notices = useWizard((s) => s.notices);
  const setNotices = useWizard((s) => s.setNotices);
  const [left, setLeft] = useState<RestoreLeftovers | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    let live = true;
    api.invoke('restore.leftovers', {}).then(
      (l) => live && setLeft(l),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [api]);
  const start = async (what: 'restore.credentials' | 'restore.finish') => {
    setBusy(true);
    setError(null);
    try {
      const { jobId } = await api.invoke(what, {});
      go({ kind: 'restore-run', jobId, choice: null });
    } catch (e) {
      setError(toUiError(e));
      setBusy(false);
    }
  };
  const open = left?.credentialsPending ?? [];
  const kept = left?.keptFolders ?? null;
  return (
    <>
      {notices.length > 0 ? (
        <div className="notice" role="status" data-testid="recovered-backup">
          <h2>An earlier backup was interrupted</h2>
          {notices.map((n) => (
            <p key={n}>{n}</p>
          ))}
          <button type="button" className="secondary small" onClick={() => setNotices([])}>
            Understood
          </button>
        </div>
      ) : null}
      {open.length > 0 || kept ? (
        <div className="notice" data-testid="restore-leftovers">
          <h2>The last restore left something to do</h2>
          <ul>
            {open.map((o) => (
              <li key={o}>Credential not entered yet: {o}</li>
            ))}
            {kept ? (
              <li>
                The old folders ({formatCount(kept.files, 'file', 'files')}, {formatBytes(kept.bytes)}) are kept beside
                the restored ones.
              </li>
            ) : null}
          </ul>
          {error ? <ErrorPanel error={error} /> : null}
          <div className="actions">
            {open.length > 0 ? (
              <button
                type="button"
                className="secondary"
                disabled={busy}
                onClick={() => void start('restore.credentials')}
              >
                Enter them now
              </button>
            ) : null}
            {kept ? (
              <button type="button" className="secondary" disabled={busy} onClick={() => void start('restore.finish')}>
                Delete the old folders…
              </button>
            ) : null}
          </div>
        </div>
      ) : null}
    </>
  );
}
