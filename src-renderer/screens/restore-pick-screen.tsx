import { useCallback, useEffect, useState } from 'react';
import type { BackupGroup } from '../../src-main/shared/contract.js';
import { useApi } from '../api.js';
import { BackupPicker } from '../components/backup-picker.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import { StepIndicator } from '../components/step-indicator.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { selectPractice, useWizard, type Target } from '../store/wizard-store.js';

export function RestorePickScreen({ source }: { source: Target }) {
  const api = useApi();
  const practice = useWizard(selectPractice);
  const go = useWizard((s) => s.go);
  const [groups, setGroups] = useState<BackupGroup[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      setGroups(await api.invoke('backups.list', { dir: source.path }));
    } catch (e) {
      setError(toUiError(e));
    }
  }, [api, source.path]);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <Screen title={practice ? 'Practice restore: choose the backup' : 'Restore: choose the backup'}>
      <StepIndicator flow="restore" at="plan" />
      <p>
        Backups on <strong>{source.label}</strong> (<code>{source.path}</code>):
      </p>
      {error ? <ErrorPanel error={error} /> : null}
      {groups === null && !error ? <p className="muted">Reading the stick…</p> : null}
      {groups ? (
        <BackupPicker
          groups={groups}
          onChosen={(backup, allowOtherDevice) =>
            go({ kind: 'restore-ready', choice: { source, backup, allowOtherDevice } })
          }
        />
      ) : null}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => go({ kind: 'restore-drive' })}>
          Choose another stick
        </button>
      </div>
    </Screen>
  );
}
