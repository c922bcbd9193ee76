import { BackupPicker } from '../components/backup-picker.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import { StepIndicator } from '../components/step-indicator.js';
import { useBackupGroups } from '../lib/use-backup-groups.js';
import { selectPractice, useWizard, type Target } from '../store/wizard-store.js';

export function RestorePickScreen({ source }: { source: Target }) {
  const practice = useWizard(selectPractice);
  const go = useWizard((s) => s.go);
  const { groups, error } = useBackupGroups(source.path);
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
