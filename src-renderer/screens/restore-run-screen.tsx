import { useEffect, useRef, useState } from 'react';
import type {
  RestoreLeftovers,
  RestoreStatusView,
  SavedReportView,
  SerializedError,
} from '../../src-main/shared/contract.js';
import { formatBytes, formatCount } from '../lib/format.js';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RunbookPanel } from '../components/runbook-panel.js';
import { Screen } from '../components/screen.js';
import { ReportSaved } from '../components/report-saved.js';
import { StepIndicator } from '../components/step-indicator.js';
import { reportSaved, reportToShow, restoreReport } from '../lib/runbook-view.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { selectPractice, useWizard, type RestoreChoice } from '../store/wizard-store.js';

export function RestoreRunScreen({ jobId, choice }: { jobId: string; choice: RestoreChoice | null }) {
  const practice = useWizard(selectPractice);
  return (
    <Screen title={practice ? 'Practice restore' : 'Restoring'}>
      {choice ? <StepIndicator flow="restore" at="run" /> : null}
      <RunbookPanel
        jobId={jobId}
        work={
          choice ? { bytes: choice.backup.contentBytes ?? choice.backup.sizeBytes, files: choice.backup.files } : null
        }
        done={(view) => (
          <RestoreDone
            jobId={jobId}
            report={reportToShow(reportSaved(view.finished?.result)) ?? restoreReport(view.finished?.result)}
            saved={reportSaved(view.finished?.result)}
          />
        )}
        failed={(_view, error) => <RestoreFailed error={error} choice={choice} />}
      />
    </Screen>
  );
}

/**
 * The end of a restore: complete, or "done, with N open items" (credentials not entered) with a way to enter them
 * now; and the old folders, kept until the technician deletes them.
 */
function RestoreDone({ jobId, report, saved }: { jobId: string; report: string | null; saved: SavedReportView[] }) {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const [left, setLeft] = useState<RestoreLeftovers | null | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    let live = true;
    api.invoke('restore.leftovers', {}).then(
      (l) => live && setLeft(l),
      () => live && setLeft(null),
    );
    return () => {
      live = false;
    };
  }, [api, jobId]);
  const start = async (what: 'restore.credentials' | 'restore.finish') => {
    setBusy(true);
    setError(null);
    try {
      const { jobId: next } = await api.invoke(what, {});
      go({ kind: 'restore-run', jobId: next, choice: null });
    } catch (e) {
      setError(toUiError(e));
      setBusy(false);
    }
  };
  const open = left?.credentialsPending ?? [];
  const kept = left?.keptFolders ?? null;
  return (
    <section className={open.length > 0 ? 'result open' : 'result ok'} aria-labelledby="restore-done">
      <h2 id="restore-done">
        {open.length > 0
          ? `Done, with ${open.length} open item${open.length === 1 ? '' : 's'}`
          : 'The restore is complete'}
      </h2>
      <p>The service runs with the restored settings and answered its health check.</p>
      {open.length > 0 ? (
        <>
          <p>These credentials were not entered, so the product cannot use them yet:</p>
          <ul aria-label="Open items">
            {open.map((o) => (
              <li key={o}>{o}</li>
            ))}
          </ul>
        </>
      ) : null}
      {kept ? (
        <p>
          The old folders ({formatCount(kept.files, 'file', 'files')}, {formatBytes(kept.bytes)}) are kept beside the
          restored ones. Delete them once you are sure everything works.
        </p>
      ) : null}
      <ReportSaved saved={saved} />
      {error ? <ErrorPanel error={error} /> : null}
      <div className="actions">
        {open.length > 0 ? (
          <button type="button" className="primary" disabled={busy} onClick={() => void start('restore.credentials')}>
            Enter them now
          </button>
        ) : null}
        {report ? (
          <button
            type="button"
            className={open.length > 0 ? 'secondary' : 'primary'}
            onClick={() => go({ kind: 'report', path: report, saved })}
          >
            View the recovery report
          </button>
        ) : null}
        {kept ? (
          <button type="button" className="secondary" disabled={busy} onClick={() => void start('restore.finish')}>
            Delete the old folders…
          </button>
        ) : null}
        <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
          Back to start
        </button>
      </div>
    </section>
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
  // The outcome in view once known: the question box it replaces was lower on the page (a Cancel or "Yes, cancel"
  // pressed at the bottom left the page scrolled below it, showing only the checklist).
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (status !== undefined) box.current?.scrollIntoView?.({ block: 'nearest' });
  }, [status]);
  const passphraseProblem = error.code === 'WRONG_PASSPHRASE' || error.code === 'PASSPHRASE_REQUIRED';
  // Trying the same damaged set again cannot help; another copy can.
  const damaged =
    error.code === 'BACKUP_CORRUPT' || error.code === 'BACKUP_INCOMPLETE' || error.code === 'HOSTILE_ARCHIVE';
  return (
    <div ref={box}>
      {/* What the CLI says after a stopped restore too ("State of the machine: …"): the service may be stopped now. */}
      <ErrorPanel error={error} {...(status ? { state: status.where } : {})}>
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
          // The engine's words above say "Resume to finish the restore, or roll back": the button says the same.
          <button type="button" className="secondary" onClick={() => go({ kind: 'unfinished', status })}>
            Resume: finish the restore…
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
    </div>
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
