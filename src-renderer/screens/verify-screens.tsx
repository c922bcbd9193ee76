import { useId, useState } from 'react';
import type { BackupSummary } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { BackupPicker } from '../components/backup-picker.js';
import { DrivePicker } from '../components/drive-picker.js';
import { ErrorPanel } from '../components/error-panel.js';
import { GuardedButton } from '../components/guarded-button.js';
import { Screen } from '../components/screen.js';
import { StepIndicator } from '../components/step-indicator.js';
import { formatBytes, formatDate } from '../lib/format.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useBackupGroups } from '../lib/use-backup-groups.js';
import { selectPractice, useWizard, type Target } from '../store/wizard-store.js';

/** "Verify a backup", first step: the stick that holds it (nothing is written to it). */
export function VerifyDriveScreen() {
  const go = useWizard((s) => s.go);
  const practice = useWizard(selectPractice);
  const extra: Target | undefined = practice
    ? { path: practice.stickDir, label: 'Practice stick (a folder)', sizeBytes: null, device: 'practice folder' }
    : undefined;
  return (
    <Screen
      title="Verify a backup: choose the stick"
      lead="Read a backup completely and check every file against its checksum. Nothing on the stick or on this machine is changed."
    >
      <StepIndicator flow="verify" at="stick" />
      <DrivePicker purpose="read" extra={extra} onChosen={(source) => go({ kind: 'verify-pick', source })} />
      <div className="actions">
        <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
          Back
        </button>
      </div>
    </Screen>
  );
}

/** The backups on the stick (every device's: checking one changes nothing), its passphrase if encrypted, and go. */
export function VerifyPickScreen({ source, again }: { source: Target; again?: BackupSummary | undefined }) {
  const api = useApi();
  const uid = useId();
  const go = useWizard((s) => s.go);
  const { groups, error: listError } = useBackupGroups(source.path);
  const [chosen, setChosen] = useState<BackupSummary | null>(again ?? null);
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);

  const start = async (b: BackupSummary) => {
    setBusy(true);
    setError(null);
    try {
      const { jobId } = await api.invoke('verify.start', {
        backup: b.path,
        ...(b.encrypted ? { passphrase } : {}),
      });
      setPassphrase('');
      go({ kind: 'verify-run', jobId, backup: b, source });
    } catch (e) {
      setError(toUiError(e));
      setBusy(false);
    }
  };

  return (
    <Screen title="Verify a backup: choose the backup">
      <StepIndicator flow="verify" at="plan" />
      <p>
        Backups on <strong>{source.label}</strong> (<code>{source.path}</code>):
      </p>
      {(error ?? listError) ? <ErrorPanel error={(error ?? listError)!} /> : null}
      {groups === null && !(error ?? listError) ? <p className="muted">Reading the stick…</p> : null}
      {groups && !chosen ? (
        <BackupPicker groups={groups} purpose="verify" onChosen={(b) => (b.encrypted ? setChosen(b) : void start(b))} />
      ) : null}
      {chosen ? (
        <section aria-labelledby={`${uid}-enc`}>
          <h2 id={`${uid}-enc`}>This backup is encrypted</h2>
          <p>
            {chosen.productName} backup made {formatDate(chosen.createdAt)} on {chosen.hostname},{' '}
            {formatBytes(chosen.sizeBytes)}. Checking it reads every file, so its passphrase is needed.
          </p>
          <div className="field">
            <label htmlFor={`${uid}-pass`}>Passphrase of this backup</label>
            <input
              id={`${uid}-pass`}
              type="password"
              autoComplete="off"
              value={passphrase}
              onChange={(e) => setPassphrase(e.target.value)}
            />
          </div>
          <div className="actions">
            <GuardedButton
              why={passphrase.length === 0 ? 'Type the passphrase first.' : null}
              busy={busy}
              onClick={() => void start(chosen)}
            >
              Check this backup
            </GuardedButton>
            <button type="button" className="secondary" onClick={() => setChosen(null)}>
              Choose another backup
            </button>
          </div>
        </section>
      ) : null}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => go({ kind: 'verify-drive' })}>
          Choose another stick
        </button>
      </div>
    </Screen>
  );
}
