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
import { toUiError, wizardWords, type UiError } from '../lib/ui-error.js';
import { machineFor } from '../store/machine.js';
import { selectFolders, selectPractice, selectProfileRef, useWizard } from '../store/wizard-store.js';

/**
 * Before anything runs: what will be copied, how big it is, the service's state, and what stands in the way. The
 * technician may correct a folder (the product installed elsewhere): the host measures it, or refuses it
 * (src-main/host/page-paths.ts: it must belong to the product's account), and the refusal is shown at the field.
 */
export function BackupPlanScreen() {
  const api = useApi();
  const practice = useWizard(selectPractice);
  const profileRef = useWizard(selectProfileRef);
  const go = useWizard((s) => s.go);
  const folders = useWizard(selectFolders);
  const setFolders = useWizard((s) => s.setFolders);
  /** Paths being typed, by item id; applied (and measured) with "Use these folders". */
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  /** The host's refusal of a typed folder, shown at its field (the last plan stays on screen). */
  const [folderError, setFolderError] = useState<{ id: string; error: UiError } | null>(null);
  const [applying, setApplying] = useState(false);
  const machine = machineFor('backup', practice, profileRef);
  const profile = machine?.profileRef;
  const root = machine?.root;
  const [plan, setPlan] = useState<ProfilePlan | null>(null);
  const [error, setError] = useState<UiError | null>(null);

  const ask = useCallback(
    (chosen: Record<string, string>) =>
      api.invoke('profiles.plan', {
        profileRef: profile!,
        ...(root ? { root } : {}),
        ...(Object.keys(chosen).length > 0 ? { folders: chosen } : {}),
      }),
    [api, profile, root],
  );
  const load = useCallback(async () => {
    if (!profile) return;
    setError(null);
    setFolderError(null);
    setPlan(null);
    try {
      setPlan(await ask(useWizard.getState().folders));
    } catch (e) {
      setError(toUiError(e));
    }
  }, [ask, profile]);

  const changed = plan !== null && plan.items.some((i) => drafts[i.id] !== undefined && drafts[i.id] !== i.path);
  /** Measures the typed folders; only what the host accepts becomes the backup's folders. */
  const applyDrafts = async () => {
    if (!plan) return;
    const next = { ...folders };
    const typed: string[] = [];
    for (const i of plan.items) {
      const d = drafts[i.id]?.trim();
      if (d !== undefined && d !== '' && d !== i.path) {
        next[i.id] = d;
        typed.push(i.id);
      }
    }
    setFolderError(null);
    setApplying(true);
    try {
      const measured = await ask(next);
      setDrafts({});
      setFolders(next);
      setPlan(measured);
    } catch (e) {
      const error = toUiError(e);
      const at = typeof error.details?.['id'] === 'string' ? error.details['id'] : typed[0];
      if (at !== undefined && plan.items.some((i) => i.id === at)) setFolderError({ id: at, error });
      else setError(error);
    } finally {
      setApplying(false);
    }
  };
  const undo = () => {
    setDrafts({});
    setFolderError(null);
  };

  // Measured when the screen opens and when the profile or machine changes; typed folders through applyDrafts.
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
        : changed
          ? 'You changed a folder: press “Use these folders” (or “Undo my changes”) first.'
          : null;
  const refusal = folderError ? wizardWords(folderError.error) : null;
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
                    <label htmlFor={`folder-${i.id}`}>{i.id}</label>
                    <br />
                    <input
                      id={`folder-${i.id}`}
                      className="path-input"
                      type="text"
                      spellCheck={false}
                      value={drafts[i.id] ?? i.path}
                      title={drafts[i.id] ?? i.path}
                      aria-invalid={folderError?.id === i.id ? true : undefined}
                      aria-describedby={folderError?.id === i.id ? `folder-${i.id}-refused` : undefined}
                      onChange={(e) => setDrafts({ ...drafts, [i.id]: e.target.value })}
                    />
                    {folderError?.id === i.id && refusal ? (
                      <span id={`folder-${i.id}-refused`} className="field-error" role="alert">
                        {refusal.message}
                        {refusal.hint ? <span className="hint"> {refusal.hint}</span> : null}
                      </span>
                    ) : null}
                  </th>
                  <td>{formatBytes(i.sizeBytes)}</td>
                  <td>{i.files.toLocaleString('en-US')}</td>
                  <td>{i.exists ? 'Found' : i.required ? 'Missing (required)' : 'Missing (optional, skipped)'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {practice ? (
            <p className="muted">
              This is practice: these are the practice machine&apos;s folders
              {Object.keys(folders).length > 0 ? ', with your changes' : ''}, in the practice folder on this computer
              (beside the practice stick named above). The backup reads only them and writes only to the practice stick:
              nothing else on this computer is read or changed. A folder you type is taken only inside the practice
              folder.
            </p>
          ) : (
            <p className="muted">
              These are the profile&apos;s folders{Object.keys(folders).length > 0 ? ', with your changes' : ''}. If the
              product keeps its data elsewhere on this machine, type the folder and use it: sizes are measured again. A
              folder typed here must belong to the account the product runs as.
            </p>
          )}
          {changed ? (
            <div className="actions">
              <button type="button" className="secondary" disabled={applying} onClick={() => void applyDrafts()}>
                {applying ? 'Measuring…' : 'Use these folders'}
              </button>
              <button type="button" className="secondary" onClick={undo}>
                Undo my changes
              </button>
            </div>
          ) : null}
          <p>
            Service <code>{plan.profile.service.name}</code>: <strong>{plan.service.state}</strong>.{' '}
            {/* A manager's detail may be a bare "pid 4684": it ran on into "It is stopped …" without a full stop. */}
            <span className="muted">{sentence(plan.service.detail)}</span> It is stopped during the copy (you will be
            asked) and started again afterwards.
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

/** `text` ending as a sentence ("pid 4684" → "pid 4684."), or '' for none. */
function sentence(text: string): string {
  const t = text.trim();
  return t === '' || /[.!?"”)]$/.test(t) ? t : `${t}.`;
}
