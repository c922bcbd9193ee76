import { useId, useState } from 'react';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { PassphraseFields } from '../components/passphrase-fields.js';
import { Screen } from '../components/screen.js';
import { TicketFields } from '../components/ticket-fields.js';
import { ticketForStart } from '../store/ticket-store.js';
import { GuardedButton } from '../components/guarded-button.js';
import { StepIndicator } from '../components/step-indicator.js';
import { formatBytes } from '../lib/format.js';
import { newPassphraseProblem } from '../../src-main/shared/passphrase.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { machineFor } from '../store/machine.js';
import { selectFolders, selectPractice, selectProfileRef, useWizard, type Target } from '../store/wizard-store.js';

/** Last screen before the backup starts: optional encryption. The passphrase lives only in this screen's state. */
export function BackupOptionsScreen({ target }: { target: Target }) {
  const api = useApi();
  const uid = useId();
  const practice = useWizard(selectPractice);
  const profileRef = useWizard(selectProfileRef);
  const go = useWizard((s) => s.go);
  const folders = useWizard(selectFolders);
  const [encrypt, setEncrypt] = useState(false);
  const [p1, setP1] = useState('');
  const [p2, setP2] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const machine = machineFor('backup', practice, profileRef);
  // The engine's own rule (it refuses a shorter one too): said here before Start, not after.
  const weak = encrypt && p1.length > 0 ? newPassphraseProblem(p1) : null;
  const ready = !encrypt || (p1.length > 0 && weak === null && p1 === p2);

  const start = async () => {
    if (!machine || !ready) return;
    setBusy(true);
    setError(null);
    try {
      const { jobId } = await api.invoke('backup.start', {
        profileRef: machine.profileRef,
        to: target.path,
        ...(machine.root ? { root: machine.root } : {}),
        ...(Object.keys(folders).length > 0 ? { folders } : {}),
        ...(encrypt ? { passphrase: p1 } : {}),
        ticket: ticketForStart(),
      });
      setP1('');
      setP2('');
      go({ kind: 'backup-run', jobId, target });
    } catch (e) {
      setError(toUiError(e));
      setBusy(false);
    }
  };

  return (
    <Screen title={practice ? 'Practice backup: ready to start' : 'Back up: ready to start'}>
      <StepIndicator flow="backup" at="options" />
      <p>
        The backup goes to <strong>{target.label}</strong>
        {target.sizeBytes !== null ? ` (${formatBytes(target.sizeBytes)})` : ''}, folder <code>{target.path}</code>.
      </p>
      <div className="field checkbox">
        <input id={`${uid}-enc`} type="checkbox" checked={encrypt} onChange={(e) => setEncrypt(e.target.checked)} />
        <label htmlFor={`${uid}-enc`}>
          Encrypt the backup with a passphrase (recommended if the stick leaves the site)
        </label>
      </div>
      {encrypt ? (
        <>
          <p className="muted">
            Without this passphrase the backup cannot be restored. Nobody can recover it for you: write it down and keep
            it apart from the stick.
          </p>
          <PassphraseFields
            value={p1}
            repeat={p2}
            onChange={(a, b) => {
              setP1(a);
              setP2(b);
            }}
          />
        </>
      ) : null}
      <TicketFields />
      {error ? <ErrorPanel error={error} /> : null}
      <div className="actions">
        <GuardedButton
          why={
            !machine
              ? 'No product profile is chosen: go back to the start and choose one.'
              : !encrypt || ready
                ? null
                : p1.length === 0
                  ? 'Type a passphrase (twice), or untick “Encrypt the backup”.'
                  : weak !== null
                    ? weak
                    : 'The two passphrases are not the same yet.'
          }
          busy={busy}
          onClick={() => void start()}
        >
          Start the backup
        </GuardedButton>
        <button type="button" className="secondary" onClick={() => go({ kind: 'backup-drive' })}>
          Choose another stick
        </button>
      </div>
    </Screen>
  );
}
