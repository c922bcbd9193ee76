import { useEffect, useState } from 'react';
import type { RecoveryApi } from '../src-main/shared/contract.js';
import { ApiContext, useApi } from './api.js';
import { ErrorPanel } from './components/error-panel.js';
import { ProductPracticeRunScreen, ProductPracticeScreen } from './screens/product-practice-screen.js';
import { PracticeBanner } from './components/practice-banner.js';
import { Screen } from './components/screen.js';
import { assertNever } from './lib/runbook-view.js';
import { toUiError, type UiError } from './lib/ui-error.js';
import { BackupOptionsScreen } from './screens/backup-options-screen.js';
import { BackupPlanScreen } from './screens/backup-plan-screen.js';
import { BackupRunScreen } from './screens/backup-run-screen.js';
import { BackupDriveScreen, RestoreDriveScreen } from './screens/drive-screens.js';
import { MirrorDriveScreen, MirrorRunScreen } from './screens/mirror-screens.js';
import { ReportScreen } from './screens/report-screen.js';
import { RestorePickScreen } from './screens/restore-pick-screen.js';
import { RestoreReadyScreen } from './screens/restore-ready-screen.js';
import { RestoreRunScreen, RollbackRunScreen } from './screens/restore-run-screen.js';
import { StartScreen } from './screens/start-screen.js';
import { UnfinishedScreen } from './screens/unfinished-screen.js';
import { VerifyRunScreen } from './screens/verify-run-screen.js';
import { VerifyDriveScreen, VerifyPickScreen } from './screens/verify-screens.js';
import type { RunningJob } from '../src-main/shared/contract.js';
import { selectJobRunning, selectPractice, selectStep, useWizard, type WizardStep } from './store/wizard-store.js';

export function App({ api }: { api: RecoveryApi }) {
  const addEvents = useWizard((s) => s.addEvents);
  useEffect(() => api.onJobEvent((e) => addEvents([e])), [api, addEvents]);
  const practice = useWizard(selectPractice);
  const practiceServer = useWizard((s) => s.info?.practice === true);
  const jobRunning = useWizard(selectJobRunning);
  // Leaving (closing the tab, reloading) while a job runs asks first; the job itself goes on in the host.
  useEffect(() => {
    if (!jobRunning) return;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [jobRunning]);
  return (
    <ApiContext.Provider value={api}>
      <div className={practice || practiceServer ? 'app practice' : 'app'}>
        <header className="app-header">
          <span className="app-name">Edge Recovery Wizard</span>
          {practice || practiceServer ? <span className="badge">Practice</span> : null}
        </header>
        <PracticeBanner />
        <main>
          <CurrentScreen />
        </main>
      </div>
    </ApiContext.Provider>
  );
}

function CurrentScreen() {
  const step = useWizard(selectStep);
  return renderStep(step);
}

function renderStep(step: WizardStep) {
  switch (step.kind) {
    case 'loading':
      return <LoadingScreen />;
    case 'start':
      return <StartScreen />;
    case 'unfinished':
      return <UnfinishedScreen status={step.status} />;
    case 'backup-plan':
      return <BackupPlanScreen />;
    case 'backup-drive':
      return <BackupDriveScreen notice={step.notice} />;
    case 'backup-options':
      return <BackupOptionsScreen target={step.target} />;
    case 'backup-run':
      return <BackupRunScreen key={step.jobId} jobId={step.jobId} target={step.target} />;
    case 'restore-drive':
      return <RestoreDriveScreen />;
    case 'restore-pick':
      return <RestorePickScreen source={step.source} />;
    case 'restore-ready':
      return <RestoreReadyScreen choice={step.choice} notice={step.notice} />;
    case 'restore-run':
      return <RestoreRunScreen key={step.jobId} jobId={step.jobId} choice={step.choice} />;
    case 'verify-drive':
      return <VerifyDriveScreen />;
    case 'verify-pick':
      return <VerifyPickScreen key={step.again?.path ?? ''} source={step.source} again={step.again} />;
    case 'verify-run':
      return <VerifyRunScreen key={step.jobId} jobId={step.jobId} backup={step.backup} source={step.source} />;
    case 'rollback-run':
      return <RollbackRunScreen key={step.jobId} jobId={step.jobId} />;
    case 'report':
      return <ReportScreen path={step.path} saved={step.saved ?? []} />;
    case 'mirror-drive':
      return <MirrorDriveScreen from={step.from} />;
    case 'mirror-run':
      return <MirrorRunScreen key={step.jobId} jobId={step.jobId} />;
    case 'product-practice':
      return <ProductPracticeScreen profileId={step.profileId} />;
    case 'product-practice-run':
      return <ProductPracticeRunScreen key={step.jobId} jobId={step.jobId} />;
    default:
      return assertNever(step);
  }
}

/** Asks who we are and whether a restore was left half-way; an unfinished restore is offered before anything else. */
function LoadingScreen() {
  const setSession = useWizard((s) => s.setSession);
  const setPractice = useWizard((s) => s.setPractice);
  const setNotices = useWizard((s) => s.setNotices);
  const go = useWizard((s) => s.go);
  const api = useApi();
  const [error, setError] = useState<UiError | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    (async () => {
      const [info, profiles, running, status] = await Promise.all([
        api.invoke('app.info', {}),
        api.invoke('profiles.list', {}),
        api.invoke('job.running', {}),
        api.invoke('restore.status', {}),
      ]);
      if (!live) return;
      setSession(info, profiles);
      // A job still running (the page was reloaded or reopened) comes first: re-attach to it, its events replay
      // and the question it waits on is shown again.
      const job = running.find((j) => j.changesMachine) ?? running[0];
      if (job) {
        if (info.practice) setPractice(await api.invoke('practice.setup', {}));
        go(screenFor(job));
        return;
      }
      // A backup killed earlier may have left the product stopped: put it back first, as the CLI does, and say so.
      const recovered = await api.invoke('backups.recoverInterrupted', {}).catch(() => null);
      if (!live) return;
      if (recovered) setNotices([recovered.message]);
      go(status ? { kind: 'unfinished', status } : { kind: 'start' });
    })().catch((e: unknown) => live && setError(toUiError(e)));
    return () => {
      live = false;
    };
  }, [api, attempt, setSession, setPractice, setNotices, go]);
  return (
    <Screen title={error ? 'The wizard could not start' : 'Starting…'}>
      {error ? (
        <ErrorPanel error={error}>
          <button type="button" className="primary" onClick={() => setAttempt((a) => a + 1)}>
            Try again
          </button>
        </ErrorPanel>
      ) : (
        <p className="muted">Looking at this machine…</p>
      )}
    </Screen>
  );
}

/** The screen that presents a running job of this kind. */
function screenFor(job: RunningJob): WizardStep {
  switch (job.kind) {
    case 'backup':
      return { kind: 'backup-run', jobId: job.jobId, target: null };
    case 'verify':
      return { kind: 'verify-run', jobId: job.jobId };
    case 'mirror':
      return { kind: 'mirror-run', jobId: job.jobId };
    case 'rollback':
      return { kind: 'rollback-run', jobId: job.jobId };
    case 'restore':
    case 'resume':
    case 'credentials':
    case 'finish':
      return { kind: 'restore-run', jobId: job.jobId, choice: null };
    case 'practice':
      return { kind: 'product-practice-run', jobId: job.jobId };
    default:
      return assertNever(job.kind);
  }
}
