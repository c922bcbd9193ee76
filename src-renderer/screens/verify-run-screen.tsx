import type { BackupSummary } from '../../src-main/shared/contract.js';
import { RunbookPanel } from '../components/runbook-panel.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import { StepIndicator } from '../components/step-indicator.js';
import { formatCount, formatDate } from '../lib/format.js';
import { useWizard, type Target } from '../store/wizard-store.js';

/** Reads a backup completely and checks every part and file against its checksum; nothing is changed. */
export function VerifyRunScreen({
  jobId,
  backup,
  source,
}: {
  jobId: string;
  backup?: BackupSummary | undefined;
  source?: Target | undefined;
}) {
  const go = useWizard((s) => s.go);
  const back = (first = true) => (
    <>
      <button type="button" className={first ? 'primary' : 'secondary'} onClick={() => go({ kind: 'start' })}>
        Back to start
      </button>
      <button type="button" className="secondary" onClick={() => go({ kind: 'verify-drive' })}>
        Verify another backup
      </button>
    </>
  );
  return (
    <Screen
      title="Verifying a backup"
      lead={
        backup ? `${backup.productName} backup of ${backup.hostname}, made ${formatDate(backup.createdAt)}.` : undefined
      }
    >
      {backup ? <StepIndicator flow="verify" at="run" /> : null}
      <RunbookPanel
        jobId={jobId}
        work={backup ? { bytes: backup.contentBytes ?? backup.sizeBytes, files: backup.files } : null}
        done={(view) => {
          const r = view.finished?.result;
          const files = r?.kind === 'verify' ? r.files : null;
          return (
            <section className="result ok" aria-labelledby="verify-done">
              <h2 id="verify-done">The backup is good</h2>
              <p data-testid="verify-result">
                {files !== null ? `All ${formatCount(files, 'file', 'files')}` : 'Every file'} and every part were read
                back and match their checksums: this backup can be restored. Nothing was changed.
              </p>
              <div className="actions">{back()}</div>
            </section>
          );
        }}
        failed={(_v, error) => {
          const retry = (error.code === 'WRONG_PASSPHRASE' || error.code === 'PASSPHRASE_REQUIRED') && backup && source;
          return (
            <ErrorPanel
              error={error}
              title={
                error.code === 'CANCELLED' || error.code === 'DECLINED'
                  ? undefined
                  : error.code === 'WRONG_PASSPHRASE' || error.code === 'PASSPHRASE_REQUIRED'
                    ? 'The backup could not be opened with that passphrase'
                    : 'This backup is not good: do not rely on it'
              }
            >
              {/* "Check the passphrase and try again" needs a way to type it again: it was Back to start, then the
                stick, the backup and the passphrase screen once more. */}
              {retry ? (
                <button
                  type="button"
                  className="primary"
                  onClick={() => go({ kind: 'verify-pick', source, again: backup })}
                >
                  Enter the passphrase again
                </button>
              ) : null}
              {back(!retry)}
            </ErrorPanel>
          );
        }}
      />
    </Screen>
  );
}
