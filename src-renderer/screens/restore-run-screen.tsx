import { useEffect, useState } from 'react';
import type { RestoreStatusView, SerializedError } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RunbookPanel } from '../components/runbook-panel.js';
import { Screen } from '../components/screen.js';
import { restoreReport } from '../lib/runbook-view.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { selectPractice, useWizard, type RestoreChoice } from '../store/wizard-store.js';

export function RestoreRunScreen({ jobId, choice }: { jobId: string; choice: RestoreChoice | null }) {
  const practice = useWizard(selectPractice);
  const go = useWizard((s) => s.go);
  return (
    <Screen title={practice ? 'Practice restore' : 'Restoring'}>
      <RunbookPanel
        jobId={jobId}
        done={(view) => {
          const report = restoreReport(view.finished?.result);
          return (
            <section className="result ok" aria-labelledby="restore-done">
              <h2 id="restore-done">The restore is complete</h2>
              <p>The service runs with the restored settings and answered its health check.</p>
              <div className="actions">
                {report ? (
                  <button type="button" className="primary" onClick={() => go({ kind: 'report', path: report })}>
                    View the recovery report
                  </button>
                ) : null}
                <button
                  type="button"
                  className={report ? 'secondary' : 'primary'}
                  onClick={() => go({ kind: 'start' })}
                >
                  Back to start
                </button>
              </div>
            </section>
          );
        }}
        failed={(_view, error) => <RestoreFailed error={error} choice={choice} />}
      />
    </Screen>
  );
}

/** The ways out of a failed restore, as the engine's journal allows them (restore.status). */
function RestoreFailed({ error, choice }: { error: SerializedError; choice: RestoreChoice | null }) {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const [status, setStatus] = useState<RestoreStatusView | null | undefined>(undefined);
  const [actionError, setActionError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    api.invoke('restore.status', {}).then(
      (s) => live && setStatus(s),
      () => live && setStatus(null),
    );
    return () => {
      live = false;
    };
  }, [api]);

  const rollback = async () => {
    setBusy(true);
    try {
      const { jobId } = await api.invoke('restore.rollback', {});
      go({ kind: 'rollback-run', jobId });
    } catch (e) {
      setActionError(toUiError(e));
      setBusy(false);
    }
  };
  const passphraseProblem = error.code === 'WRONG_PASSPHRASE' || error.code === 'PASSPHRASE_REQUIRED';
  // Trying the same damaged set again cannot help; another copy can.
  const damaged =
    error.code === 'BACKUP_CORRUPT' || error.code === 'BACKUP_INCOMPLETE' || error.code === 'HOSTILE_ARCHIVE';
  return (
    <ErrorPanel error={error}>
      {status?.canRollback ? (
        <button type="button" className="primary" disabled={busy} onClick={() => void rollback()}>
          Roll back: put everything back as it was
        </button>
      ) : null}
      {passphraseProblem && choice ? (
        <button
          type="button"
          className={status?.canRollback ? 'secondary' : 'primary'}
          onClick={() => go({ kind: 'restore-ready', choice, notice: error })}
        >
          Enter the passphrase again
        </button>
      ) : null}
      {status?.canResume && !passphraseProblem ? (
        <button type="button" className="secondary" onClick={() => go({ kind: 'unfinished', status })}>
          Try again from this step…
        </button>
      ) : null}
      {!status && choice && damaged ? (
        <button type="button" className="primary" onClick={() => go({ kind: 'restore-pick', source: choice.source })}>
          Choose another backup
        </button>
      ) : null}
      {!status && choice && !passphraseProblem && !damaged ? (
        <button type="button" className="secondary" onClick={() => go({ kind: 'restore-ready', choice })}>
          Try again
        </button>
      ) : null}
      <button type="button" className="secondary" onClick={() => go({ kind: 'loading' })}>
        Back to start
      </button>
      {actionError ? <ErrorPanel error={actionError} /> : null}
    </ErrorPanel>
  );
}

export function RollbackRunScreen({ jobId }: { jobId: string }) {
  const go = useWizard((s) => s.go);
  return (
    <Screen title="Rolling back the restore">
      <RunbookPanel
        jobId={jobId}
        done={() => (
          <section className="result ok" aria-labelledby="rollback-done">
            <h2 id="rollback-done">Rolled back</h2>
            <p>This machine is back as it was before the restore started.</p>
            <div className="actions">
              <button type="button" className="primary" onClick={() => go({ kind: 'start' })}>
                Back to start
              </button>
            </div>
          </section>
        )}
        failed={(_v, error) => (
          <ErrorPanel error={error} title="The roll back did not finish">
            <button type="button" className="primary" onClick={() => go({ kind: 'loading' })}>
              Check the unfinished restore again
            </button>
          </ErrorPanel>
        )}
      />
    </Screen>
  );
}
