import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useEffect } from 'react';
import { describe, expect, it } from 'vitest';
import type { JobEvent, JobEventEnvelope, StepInfo } from '../../src-main/shared/contract.js';
import { progressWithoutFigures } from '../../src-main/engine/progress.js';
import { ApiContext } from '../../src-renderer/api.js';
import { RunbookPanel } from '../../src-renderer/components/runbook-panel.js';
import { App } from '../../src-renderer/app.js';
import { cancelConsequence, deriveRunbook } from '../../src-renderer/lib/runbook-view.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import { fakeApi } from './fake-api.js';

const JOB = 'job-0123456789ab';
/** A job event as the host sends it (its sequence number, this job). */
const env = (seq: number, event: JobEvent): JobEventEnvelope => ({ jobId: JOB, seq, event });
const step = (
  id: string,
  title: string,
  state: StepInfo['state'] = 'todo',
  extra: Partial<StepInfo> = {},
): StepInfo => ({
  id,
  title,
  explain: `${title} — explained before it runs.`,
  destructive: false,
  state,
  ...extra,
});
const plan = [
  step('verify', 'Check the backup'),
  step('stop', 'Stop the service', 'todo', { destructive: true }),
  step('copy', 'Copy the folders'),
  step('start', 'Start the service'),
];

function renderPanel() {
  const fake = fakeApi({
    'job.events': () => ({ events: [], done: false }),
    'job.respond': () => ({ accepted: true }),
  });
  const addEvents = useWizard.getState().addEvents;
  render(
    <ApiContext.Provider value={fake.api}>
      <Subscriber api={fake.api} add={addEvents} />
      <RunbookPanel jobId={JOB} done={() => <p>All done</p>} failed={(_v, e) => <p>Failed: {e.message}</p>} />
    </ApiContext.Provider>,
  );
  return fake;
}
function Subscriber({ api, add }: { api: ReturnType<typeof fakeApi>['api']; add: (e: never[]) => void }) {
  useEffect(() => api.onJobEvent((e) => add([e as never])), [api, add]);
  return null;
}
const states = () =>
  within(screen.getByRole('list', { name: 'Steps of this job' }))
    .getAllByRole('listitem')
    .map((li) => `${li.getAttribute('data-step-id')}:${li.getAttribute('data-state')}`);

describe('Checklist', () => {
  it('shows every step of the plan with each state as the job’s events report it', async () => {
    const fake = renderPanel();
    act(() => fake.emit(JOB, { type: 'plan', runbook: 'backup', title: 'Back up', steps: plan }));
    expect(states()).toEqual(['verify:todo', 'stop:todo', 'copy:todo', 'start:todo']);

    act(() => fake.emit(JOB, { type: 'step', step: step('verify', 'Check the backup', 'running') }));
    expect(states()[0]).toBe('verify:running');
    expect(screen.getByText('Check the backup — explained before it runs.')).toBeTruthy();

    act(() =>
      fake.emit(JOB, {
        type: 'step',
        step: step('verify', 'Check the backup', 'done', { summary: '12 files checked.' }),
      }),
    );
    act(() =>
      fake.emit(JOB, {
        type: 'step',
        step: step('stop', 'Stop the service', 'skipped', { summary: 'Already stopped.' }),
      }),
    );
    act(() => fake.emit(JOB, { type: 'step', step: step('copy', 'Copy the folders', 'running') }));
    act(() =>
      fake.emit(JOB, {
        type: 'progress',
        stepId: 'copy',
        progress: {
          phase: 'archiving',
          bytes: 5_000_000,
          totalBytes: 10_000_000,
          files: 3,
          totalFiles: 6,
          rate: 2_000_000,
          etaSeconds: 3,
          elapsedMs: 2500,
        },
      }),
    );
    expect(states()).toEqual(['verify:done', 'stop:skipped', 'copy:running', 'start:todo']);
    expect(screen.getByText('12 files checked.')).toBeTruthy();
    expect(screen.getAllByRole('status').map((s) => s.textContent)).toContain(
      'Packing the folders and writing to the stick: 50 percent',
    );
    // Says what it does, counts files against their total, and gives the whole job's time left.
    expect(screen.getByText('3 of 6')).toBeTruthy();
    expect(screen.getByTestId('overall-eta').textContent).toMatch(/Whole job: about .* left \(an estimate/);
    expect(screen.getByText('4.8 MiB of 9.5 MiB')).toBeTruthy();
    expect(screen.getByText('1.9 MiB/s')).toBeTruthy();
    expect(screen.getByText('3 s')).toBeTruthy();
    const item = screen.getByText('Copy the folders', { selector: '.checklist .title' }).closest('li')!;
    expect(item.getAttribute('aria-current')).toBe('step');
    expect(item.textContent).toContain('Running');

    const error = { code: 'MEDIUM_GONE' as const, message: 'The medium stopped answering. Was the stick unplugged?' };
    act(() => fake.emit(JOB, { type: 'step', step: step('copy', 'Copy the folders', 'failed', { error }) }));
    act(() => fake.emit(JOB, { type: 'finished', ok: false, error }));
    expect(states()).toEqual(['verify:done', 'stop:skipped', 'copy:failed', 'start:todo']);
    expect(screen.getByText(`Failed: ${error.message}`)).toBeTruthy();
  });

  it('orders events by sequence number and ignores repeats, so a catch-up after a reconnect changes nothing', () => {
    const events = [
      env(2, { type: 'step', step: step('verify', 'Check the backup', 'done') }),
      env(0, { type: 'plan', runbook: 'restore', title: 'Restore', steps: plan }),
      env(1, { type: 'step', step: step('verify', 'Check the backup', 'running') }),
    ];
    const v = deriveRunbook(events);
    expect(v.steps.map((s) => s.state)).toEqual(['done', 'todo', 'todo', 'todo']);
    useWizard.getState().addEvents(events);
    useWizard.getState().addEvents([events[2]!]);
    expect(useWizard.getState().events[JOB]!.map((e) => e.seq)).toEqual([0, 1, 2]);
  });

  it('keeps a question asked inside a running step open while that step still reports progress', () => {
    const beat = {
      phase: 'working',
      bytes: 0,
      totalBytes: null,
      files: 0,
      totalFiles: null,
      rate: 0,
      etaSeconds: null,
      elapsedMs: 400,
    };
    const events = [
      env(0, { type: 'plan', runbook: 'restore', title: 'Restore', steps: plan }),
      env(1, { type: 'step', step: step('stop', 'Stop the service', 'running') }),
      env(2, {
        type: 'prompt',
        promptId: 'p9',
        prompt: { kind: 'credentials', request: { stepId: 'stop', entries: [] } },
      }),
      env(3, { type: 'progress', stepId: 'stop', progress: beat }),
    ];
    expect(deriveRunbook(events).prompt?.promptId).toBe('p9');
    // Answered, or the step moved on: closed.
    expect(deriveRunbook(events, new Set(['p9'])).prompt).toBeNull();
    expect(
      deriveRunbook([...events, env(4, { type: 'step', step: step('stop', 'Stop the service', 'done') })]).prompt,
    ).toBeNull();
  });

  it('shows a confirmation prompt with what it affects, and answers it through job.respond', async () => {
    const fake = renderPanel();
    act(() => fake.emit(JOB, { type: 'plan', runbook: 'restore', title: 'Restore', steps: plan }));
    act(() => fake.emit(JOB, { type: 'step', step: step('stop', 'Stop the service', 'running') }));
    act(() =>
      fake.emit(JOB, {
        type: 'prompt',
        promptId: 'p1',
        prompt: {
          kind: 'confirm',
          request: {
            stepId: 'stop',
            title: 'Set the defaults aside?',
            message: 'These folders move.',
            details: ['/data/Configuration'],
            action: 'Set them aside',
          },
        },
      }),
    );
    // The folder's name on screen, its full path as the tooltip (and one click away).
    expect(screen.getByText('…/Configuration').getAttribute('title')).toBe('/data/Configuration');
    await userEvent.click(screen.getByRole('button', { name: 'Set them aside' }));
    await waitFor(() =>
      expect(fake.callsOf('job.respond')).toEqual([
        { jobId: JOB, promptId: 'p1', answer: { kind: 'confirm', ok: true } },
      ]),
    );
    expect(screen.queryByRole('button', { name: 'Set them aside' })).toBeNull();
  });
});

/** A machine with no supported product, served to a browser. */
const NOTHING_DETECTED = {
  version: '0.1.0',
  platform: 'linux',
  elevated: true,
  practice: false,
  shell: 'browser' as const,
  detected: null,
  hostname: 'h',
  deviceId: 'd1',
};

describe('Cancel says what it will do', () => {
  it("shows the runbook's own words, the latest sent, and knows no step", () => {
    const steps = [step('extract', 'Unpack', 'todo'), step('stop-service', 'Stop', 'todo')];
    const view = deriveRunbook([
      env(1, { type: 'plan', runbook: 'restore', title: 'R', steps, cancel: 'Nothing changed yet.' }),
      env(2, { type: 'step', step: { ...steps[0]!, state: 'running' }, cancel: 'The unpacked copy is deleted.' }),
      env(3, { type: 'progress', stepId: 'extract', progress: progressWithoutFigures('working', 10) }),
    ]);
    expect(cancelConsequence(view)).toBe('The unpacked copy is deleted.');
    expect(cancelConsequence({ ...deriveRunbook([]) })).toBe('The job stops before it begins.');
  });
});

describe('App', () => {
  it('offers Practice first and explains why when no product was detected', async () => {
    const fake = fakeApi({
      'app.info': () => NOTHING_DETECTED,
      'profiles.list': () => [],
      'restore.status': () => null,
    });
    render(<App api={fake.api} />);
    await screen.findByRole('heading', { name: 'What do you want to do?' });
    expect(screen.getByText(/No supported product was found on this machine/)).toBeTruthy();
    const buttons = screen.getAllByRole('button').filter((b) => b.classList.contains('big'));
    expect(buttons.map((b) => b.textContent)).toEqual([
      'Practice',
      'Back up this device',
      'Restore onto this device',
      'Verify a backup',
    ]);
    // Without a profile the two real actions are disabled, and say why beside them.
    const backUp = screen.getByRole('button', { name: 'Back up this device' }) as HTMLButtonElement;
    expect(backUp.disabled).toBe(true);
    const why = document.getElementById(backUp.getAttribute('aria-describedby')!)!;
    expect(why.textContent).toMatch(/First choose the product/);
    expect(buttons[0]!.classList.contains('primary')).toBe(true);
  });

  it('offers to resume or roll back an unfinished restore before anything else', async () => {
    const fake = fakeApi({
      'app.info': () => NOTHING_DETECTED,
      'profiles.list': () => [],
      'restore.status': () => ({
        id: 'r1',
        backup: '/media/stick/EdgeRecovery/d1/Backup_x',
        profileId: 'eds-linux',
        startedAt: '2026-11-21T10:00:00Z',
        updatedAt: '2026-11-21T10:05:00Z',
        where: 'After setting the defaults aside',
        steps: plan,
        canResume: true,
        canRollback: true,
      }),
      'restore.rollback': () => ({ jobId: JOB }),
      'job.events': () => ({ events: [], done: false }),
    });
    render(<App api={fake.api} />);
    await screen.findByRole('heading', { name: 'A restore did not finish' });
    expect(screen.getByRole('button', { name: 'Resume the restore' })).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: /Roll back/ }));
    await screen.findByRole('heading', { name: 'Rolling back the restore' });
    expect(fake.callsOf('restore.rollback')).toEqual([{}]);
  });
});
