import { useState } from 'react';
import { useApi } from '../api.js';
import { DrivePicker } from '../components/drive-picker.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RunbookPanel } from '../components/runbook-panel.js';
import { Screen } from '../components/screen.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';

const KEEP = 3;

/** "Copy backups to a stick": the stick is chosen like for a backup; the engine copies, reads back, prunes. */
export function MirrorDriveScreen({ from }: { from: string }) {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const [error, setError] = useState<UiError | null>(null);
  return (
    <Screen
      title="Copy backups to a stick"
      lead={`The ${KEEP} newest verified backups in ${from} are copied onto the stick and each copy is read back from it; older copies on the stick are removed.`}
    >
      {error ? <ErrorPanel error={error} /> : null}
      <DrivePicker
        purpose="write"
        onChosen={(target) => {
          setError(null);
          api
            .invoke('mirror.start', { from, to: target.path, keep: KEEP })
            .then(({ jobId }) => go({ kind: 'mirror-run', jobId }))
            .catch((e: unknown) => setError(toUiError(e)));
        }}
      />
      <div className="actions">
        <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
          Back
        </button>
      </div>
    </Screen>
  );
}

export function MirrorRunScreen({ jobId }: { jobId: string }) {
  const go = useWizard((s) => s.go);
  const back = (
    <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
      Back to start
    </button>
  );
  return (
    <Screen title="Copying backups to the stick">
      <RunbookPanel
        jobId={jobId}
        done={() => (
          <section className="result ok" aria-labelledby="mirror-done">
            <h2 id="mirror-done">The backups are on the stick and checked</h2>
            <div className="actions">{back}</div>
          </section>
        )}
        failed={(_view, error) => <ErrorPanel error={error}>{back}</ErrorPanel>}
      />
    </Screen>
  );
}
