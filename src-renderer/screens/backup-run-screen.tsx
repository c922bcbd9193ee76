import { useState } from 'react';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RunbookPanel } from '../components/runbook-panel.js';
import { Screen } from '../components/screen.js';
import { ReportSaved } from '../components/report-saved.js';
import { backupLocation, reportSaved, reportToShow } from '../lib/runbook-view.js';
import type { SavedReportView } from '../../src-main/shared/contract.js';
import { toUiError } from '../lib/ui-error.js';
import { StepIndicator } from '../components/step-indicator.js';
import { selectBackupSize, selectPractice, useWizard, type Target } from '../store/wizard-store.js';

const STICK_PROBLEMS = new Set(['MEDIUM_GONE', 'MEDIUM_FULL', 'FILE_TOO_LARGE', 'NOT_ENOUGH_SPACE']);

export function BackupRunScreen({ jobId, target }: { jobId: string; target: Target | null }) {
  const practice = useWizard(selectPractice);
  const go = useWizard((s) => s.go);
  const size = useWizard(selectBackupSize);
  return (
    <Screen title={practice ? 'Practice backup' : 'Backing up'}>
      {target ? <StepIndicator flow="backup" at="run" /> : null}
      <RunbookPanel
        jobId={jobId}
        work={target && size ? { bytes: size.bytes, files: size.files } : null}
        done={(view) => (
          <BackupDone
            target={target}
            location={backupLocation(view.finished?.result)}
            saved={reportSaved(view.finished?.result)}
          />
        )}
        failed={(_view, error) => (
          <ErrorPanel error={error}>
            {STICK_PROBLEMS.has(error.code) ? (
              <button
                type="button"
                className="primary"
                onClick={() => go({ kind: 'backup-drive', ...(error.code === 'MEDIUM_GONE' ? { notice: error } : {}) })}
              >
                Try again on another stick
              </button>
            ) : (
              <button
                type="button"
                className="primary"
                onClick={() => go(target ? { kind: 'backup-options', target } : { kind: 'backup-drive' })}
              >
                Try again
              </button>
            )}
            <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
              Back to start
            </button>
          </ErrorPanel>
        )}
      />
    </Screen>
  );
}

function BackupDone({
  target,
  location,
  saved,
}: {
  target: Target | null;
  location: string | null;
  saved: SavedReportView[];
}) {
  const api = useApi();
  const practice = useWizard(selectPractice);
  const go = useWizard((s) => s.go);
  const [eject, setEject] = useState<{ ok: boolean; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const doEject = async () => {
    if (!target) return;
    setBusy(true);
    try {
      setEject(await api.invoke('drives.eject', { target: target.path }));
    } catch (e) {
      const u = toUiError(e);
      setEject({ ok: false, message: u.hint ? `${u.message} ${u.hint}` : u.message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="result ok" aria-labelledby="backup-done">
      <h2 id="backup-done">The backup is on the stick and checked</h2>
      <p>
        Location: <code data-testid="backup-location">{location ?? target?.path ?? ''}</code>
      </p>
      <ReportSaved saved={saved} />
      {eject ? (
        <p role="status" className={eject.ok ? 'ok' : 'warn'}>
          {eject.message}
        </p>
      ) : null}
      <div className="actions">
        {practice ? (
          <button type="button" className="primary" onClick={() => go({ kind: 'restore-drive' })}>
            Next: restore onto the replacement machine
          </button>
        ) : null}
        {target ? (
          <button
            type="button"
            className={practice ? 'secondary' : 'primary'}
            disabled={busy || eject?.ok === true}
            onClick={() => void doEject()}
          >
            Safely remove the stick
          </button>
        ) : null}
        {reportToShow(saved) ? (
          <button
            type="button"
            className="secondary"
            onClick={() => go({ kind: 'report', path: reportToShow(saved)!, saved })}
          >
            View the backup report
          </button>
        ) : null}
        <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
          Back to start
        </button>
      </div>
    </section>
  );
}
