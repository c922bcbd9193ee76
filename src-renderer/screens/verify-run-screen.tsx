import { RunbookPanel } from '../components/runbook-panel.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import { formatCount } from '../lib/format.js';
import { useWizard } from '../store/wizard-store.js';

/** Reads a backup completely and checks every part and file against its checksum; nothing is changed. */
export function VerifyRunScreen({ jobId }: { jobId: string }) {
  const go = useWizard((s) => s.go);
  return (
    <Screen title="Checking a backup">
      <RunbookPanel
        jobId={jobId}
        done={(view) => {
          const r = view.finished?.result;
          const files = r?.kind === 'verify' ? r.files : null;
          return (
            <section className="result ok" aria-labelledby="verify-done">
              <h2 id="verify-done">The backup is good</h2>
              <p>
                {files !== null ? `All ${formatCount(files, 'file', 'files')}` : 'Every file'} and every part match
                their checksums. Nothing was changed.
              </p>
              <div className="actions">
                <button type="button" className="primary" onClick={() => go({ kind: 'start' })}>
                  Back to start
                </button>
              </div>
            </section>
          );
        }}
        failed={(_v, error) => (
          <ErrorPanel error={error}>
            <button type="button" className="primary" onClick={() => go({ kind: 'start' })}>
              Back to start
            </button>
          </ErrorPanel>
        )}
      />
    </Screen>
  );
}
