import { useId, useState } from 'react';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RightsProblems, useRightsCheck } from '../components/rights-problems.js';
import { Screen } from '../components/screen.js';
import { TicketFields } from '../components/ticket-fields.js';
import { ticketForStart } from '../store/ticket-store.js';
import { MachineSpace, TimeEstimate } from '../components/estimates.js';
import { GuardedButton } from '../components/guarded-button.js';
import { StepIndicator } from '../components/step-indicator.js';
import { formatBytes, formatDate } from '../lib/format.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { machineFor } from '../store/machine.js';
import { selectPractice, selectProfileRef, useWizard, type RestoreChoice } from '../store/wizard-store.js';

/** Summary of the chosen backup, its passphrase if encrypted, and the one button that starts the restore. */
export function RestoreReadyScreen({ choice, notice }: { choice: RestoreChoice; notice?: UiError | undefined }) {
  const api = useApi();
  const uid = useId();
  const practice = useWizard(selectPractice);
  const profileRef = useWizard(selectProfileRef);
  const go = useWizard((s) => s.go);
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(notice ?? null);
  const machine = machineFor('restore', practice, profileRef);
  const b = choice.backup;
  // Checked before anything runs: a restore without the rights to chown or stop the service would fail half-way.
  const rights = useRightsCheck(machine?.profileRef ?? null, machine?.root);
  const blocked = rights === null || rights.problems.length > 0;
  const ready = machine !== null && !blocked && (!b.encrypted || passphrase.length > 0);
  const work = { bytes: b.contentBytes ?? b.sizeBytes, files: b.files };
  // The engine's own rule (restore pre-check): the data plus 5 % and 16 MiB, beside the folders.
  const needBytes = Math.ceil(work.bytes * 1.05 + 16 * 1024 * 1024);

  const start = async () => {
    if (!machine || !ready) return;
    setBusy(true);
    setError(null);
    try {
      const { jobId } = await api.invoke('restore.start', {
        backup: b.path,
        profileRef: machine.profileRef,
        ...(machine.root ? { root: machine.root } : {}),
        ...(b.encrypted ? { passphrase } : {}),
        allowOtherDevice: choice.allowOtherDevice,
        ticket: ticketForStart(),
      });
      setPassphrase('');
      go({ kind: 'restore-run', jobId, choice });
    } catch (e) {
      setError(toUiError(e));
      setBusy(false);
    }
  };

  return (
    <Screen title={practice ? 'Practice restore: ready to start' : 'Restore: ready to start'}>
      <StepIndicator flow="restore" at="options" />
      <dl className="facts">
        <div>
          <dt>Backup</dt>
          <dd>
            {b.productName} {b.productVersion ?? ''}, made {formatDate(b.createdAt)} on {b.hostname}
          </dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>{formatBytes(b.sizeBytes)}</dd>
        </div>
        <div>
          <dt>Restored onto</dt>
          <dd>{machine?.label ?? 'this device'}</dd>
        </div>
        {choice.allowOtherDevice ? (
          <div>
            <dt>Replaces</dt>
            <dd>
              device {b.deviceId} ({b.hostname})
            </dd>
          </div>
        ) : null}
      </dl>
      <p>
        The wizard first checks the backup and unpacks it beside the current folders while the service keeps running,
        checking every file. Then it asks you before it stops the service and before it sets this machine’s current
        settings aside. Until the end, everything can be rolled back.
      </p>
      {b.encrypted ? (
        <div className="field">
          <label htmlFor={`${uid}-pass`}>Passphrase of this backup</label>
          <input
            id={`${uid}-pass`}
            type="password"
            autoComplete="off"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') void start();
            }}
          />
        </div>
      ) : null}
      <TicketFields />
      <TimeEstimate kind="restore" work={work} />
      {rights ? <MachineSpace space={rights.space} needBytes={needBytes} /> : null}
      {rights ? (
        <RightsProblems
          problems={rights.problems}
          canElevate={rights.canElevate}
          title="This machine cannot be restored yet"
        />
      ) : null}
      {error ? <ErrorPanel error={error} /> : null}
      <div className="actions">
        <GuardedButton
          why={
            machine === null
              ? 'No product profile is chosen: go back to the start and choose one.'
              : rights === null
                ? 'Checking what this machine needs for the restore…'
                : rights.problems.length > 0
                  ? 'First solve what is listed under “This machine cannot be restored yet”.'
                  : b.encrypted && passphrase.length === 0
                    ? 'Type the passphrase of this backup first.'
                    : null
          }
          busy={busy}
          onClick={() => void start()}
        >
          Start the restore
        </GuardedButton>
        <button type="button" className="secondary" onClick={() => go({ kind: 'restore-pick', source: choice.source })}>
          Choose another backup
        </button>
      </div>
    </Screen>
  );
}
