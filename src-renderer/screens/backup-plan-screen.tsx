import { useCallback, useEffect, useState } from 'react';
import type { ProfilePlan } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { RightsProblems } from '../components/rights-problems.js';
import { Screen } from '../components/screen.js';
import { GuardedButton } from '../components/guarded-button.js';
import { StickSpace, TimeEstimate } from '../components/estimates.js';
import { StepIndicator } from '../components/step-indicator.js';
import { formatBytes, formatCount } from '../lib/format.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { machineFor } from '../store/machine.js';
import { selectPractice, selectProfileRef, useWizard } from '../store/wizard-store.js';

/**
 * Before anything runs: what will be copied, how big it is, the service's state, and what stands in the way. The
 * folders are the profile's own: the host takes no other folder from the page (src-main/host/page-paths.ts).
 */
export function BackupPlanScreen() {
  const api = useApi();
  const practice = useWizard(selectPractice);
  const profileRef = useWizard(selectProfileRef);
  const go = useWizard((s) => s.go);
  const machine = machineFor('backup', practice, profileRef);
  const profile = machine?.profileRef;
  const root = machine?.root;
  const [plan, setPlan] = useState<ProfilePlan | null>(null);
  const [error, setError] = useState<UiError | null>(null);

  const load = useCallback(async () => {
    if (!profile) return;
    setError(null);
    setPlan(null);
    try {
      setPlan(await api.invoke('profiles.plan', { profileRef: profile, ...(root ? { root } : {}) }));
    } catch (e) {
      setError(toUiError(e));
    }
  }, [api, profile, root]);

  useEffect(() => {
    void load();
  }, [load]);

  const total = plan?.items.reduce((a, i) => a + i.sizeBytes, 0) ?? 0;
  const files = plan?.items.reduce((a, i) => a + i.files, 0) ?? 0;
  const setBackupSize = useWizard((s) => s.setBackupSize);
  useEffect(() => {
    setBackupSize(plan ? { bytes: total, files, needBytes: plan.backupNeedBytes } : null);
  }, [plan, total, files, setBackupSize]);
  const why =
    plan === null
      ? 'The folders are still being measured.'
      : plan.problems.length > 0
        ? 'First solve what is listed under “This machine cannot be backed up yet”, then press “Check again”.'
        : null;
  return (
    <Screen
      title={practice ? 'Practice backup: what will be copied' : 'Back up: what will be copied'}
      lead={practice ? `Practice machine: ${practice.old.label}.` : undefined}
    >
      <StepIndicator flow="backup" at="plan" />
      {error ? (
        <ErrorPanel error={error}>
          <button type="button" className="secondary" onClick={() => void load()}>
            Check again
          </button>
          <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
            Back to start
          </button>
        </ErrorPanel>
      ) : null}
      {!plan && !error ? <p className="muted">Looking at the folders…</p> : null}
      {plan ? (
        <>
          <p>
            <strong>{plan.profile.productName}</strong> — {formatCount(plan.items.length, 'folder', 'folders')},{' '}
            {formatBytes(total)} in {formatCount(files, 'file', 'files')}.
          </p>
          <table className="plan-table">
            <caption className="visually-hidden">Folders to back up</caption>
            <thead>
              <tr>
                <th scope="col">Folder</th>
                <th scope="col">Size</th>
                <th scope="col">Files</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {plan.items.map((i) => (
                <tr key={i.id}>
                  <th scope="row">
                    {i.id}
                    <br />
                    <code className="path-text">{i.path}</code>
                  </th>
                  <td>{formatBytes(i.sizeBytes)}</td>
                  <td>{i.files.toLocaleString('en-US')}</td>
                  <td>{i.exists ? 'Found' : i.required ? 'Missing (required)' : 'Missing (optional, skipped)'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted">
            These are the profile&apos;s folders, and the wizard backs up exactly these. If the product keeps its data
            elsewhere on this machine, a profile naming those folders is needed (installed by root in{' '}
            <code>/etc/edge-recovery/profiles</code>); the command-line tool, run as root, can also back up other
            folders.
          </p>
          <p>
            Service <code>{plan.profile.service.name}</code>: <strong>{plan.service.state}</strong>.{' '}
            <span className="muted">{plan.service.detail}</span> It is stopped during the copy (you will be asked) and
            started again afterwards.
          </p>
          <TimeEstimate kind="backup" work={{ bytes: total, files }} />
          <StickSpace needBytes={plan.backupNeedBytes} practiceStick={practice?.stickDir ?? null} />
          <RightsProblems
            problems={plan.problems}
            canElevate={plan.canElevate}
            title="This machine cannot be backed up yet"
          />
          <div className="actions">
            <GuardedButton why={why} onClick={() => go({ kind: 'backup-drive' })}>
              Choose the USB stick
            </GuardedButton>
            {plan.problems.length > 0 ? (
              <button type="button" className="secondary" onClick={() => void load()}>
                Check again
              </button>
            ) : null}
            <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
              Back
            </button>
          </div>
        </>
      ) : null}
    </Screen>
  );
}
