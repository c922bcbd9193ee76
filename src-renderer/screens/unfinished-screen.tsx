import { useId, useState } from 'react';
import type { RestoreStatusView } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { Checklist } from '../components/checklist.js';
import { ErrorPanel } from '../components/error-panel.js';
import { PathText } from '../components/path-text.js';
import { Screen } from '../components/screen.js';
import { formatDate } from '../lib/format.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';

/** An unfinished restore comes first: the machine is half-way, so finish it or put it back before anything else. */
export function UnfinishedScreen({ status }: { status: RestoreStatusView }) {
  const api = useApi();
  const uid = useId();
  const go = useWizard((s) => s.go);
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);

  const act = async (what: 'resume' | 'rollback') => {
    setBusy(true);
    setError(null);
    try {
      if (what === 'resume') {
        const { jobId } = await api.invoke('restore.resume', passphrase ? { passphrase } : {});
        setPassphrase('');
        go({ kind: 'restore-run', jobId, choice: null });
      } else {
        const { jobId } = await api.invoke('restore.rollback', {});
        go({ kind: 'rollback-run', jobId });
      }
    } catch (e) {
      setError(toUiError(e));
      setBusy(false);
    }
  };

  return (
    <Screen title="A restore did not finish" lead="Before anything else, finish it or put this machine back as it was.">
      <dl className="facts">
        <div>
          <dt>Backup</dt>
          <dd>
            <code>{status.backup}</code>
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatDate(status.startedAt)}</dd>
        </div>
        <div>
          <dt>Stopped at</dt>
          <dd className="plain">
            {/* Folders by name (the full text in the tooltip): it was a wall of full paths. */}
            <PathText text={status.where} />
          </dd>
        </div>
      </dl>
      <Checklist steps={status.steps} currentId={status.steps.find((s) => s.state !== 'done')?.id ?? null} />
      {/* A plain backup needs no passphrase: the field asked for one "only if it is encrypted" of every backup. */}
      {status.canResume && status.encrypted !== false ? (
        <div className="field">
          <label htmlFor={`${uid}-pass`}>Passphrase of the backup (only if it is encrypted)</label>
          <input
            id={`${uid}-pass`}
            type="password"
            autoComplete="off"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
          />
        </div>
      ) : null}
      {error ? <ErrorPanel error={error} /> : null}
      <div className="actions">
        {status.canResume ? (
          <button type="button" className="primary" disabled={busy} onClick={() => void act('resume')}>
            Resume the restore
          </button>
        ) : null}
        {status.canRollback ? (
          <button
            type="button"
            className={status.canResume ? 'secondary' : 'primary'}
            disabled={busy}
            onClick={() => void act('rollback')}
          >
            Roll back: put everything back as it was
          </button>
        ) : null}
      </div>
    </Screen>
  );
}
