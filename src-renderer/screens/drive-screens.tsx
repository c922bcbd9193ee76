import { DrivePicker } from '../components/drive-picker.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import type { UiError } from '../lib/ui-error.js';
import { StepIndicator } from '../components/step-indicator.js';
import { selectBackupSize, selectPractice, useWizard, type Target } from '../store/wizard-store.js';

function usePracticeStick(): Target | undefined {
  const practice = useWizard(selectPractice);
  return practice
    ? { path: practice.stickDir, label: 'Practice stick (a folder)', sizeBytes: null, device: 'practice folder' }
    : undefined;
}

export function BackupDriveScreen({ notice }: { notice?: UiError | undefined }) {
  const go = useWizard((s) => s.go);
  const practice = useWizard(selectPractice);
  const extra = usePracticeStick();
  const size = useWizard(selectBackupSize);
  return (
    <Screen title={practice ? 'Practice backup: choose the stick' : 'Back up: choose the USB stick'}>
      <StepIndicator flow="backup" at="stick" />
      {notice ? (
        <ErrorPanel error={notice} title="The stick was unplugged (or stopped answering)">
          <span className="muted">
            Choose another stick below, or plug the same one in again and press “Look again”.
          </span>
        </ErrorPanel>
      ) : null}
      <DrivePicker
        purpose="write"
        extra={extra}
        {...(size ? { minFreeBytes: size.needBytes } : {})}
        onChosen={(target) => go({ kind: 'backup-options', target })}
      />
      <div className="actions">
        <button type="button" className="secondary" onClick={() => go({ kind: 'backup-plan' })}>
          Back
        </button>
      </div>
    </Screen>
  );
}

export function RestoreDriveScreen() {
  const go = useWizard((s) => s.go);
  const practice = useWizard(selectPractice);
  const extra = usePracticeStick();
  return (
    <Screen
      title={practice ? 'Practice restore: choose the stick' : 'Restore: choose the USB stick with the backup'}
      lead={practice ? `Restoring onto the practice machine: ${practice.replacement.label}.` : undefined}
    >
      <StepIndicator flow="restore" at="stick" />
      <DrivePicker purpose="read" extra={extra} onChosen={(source) => go({ kind: 'restore-pick', source })} />
      <div className="actions">
        <button type="button" className="secondary" onClick={() => go({ kind: 'start' })}>
          Back
        </button>
      </div>
    </Screen>
  );
}
