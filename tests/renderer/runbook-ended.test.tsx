import { act, render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import { fakeApi } from './fake-api.js';

const JOB = 'job-0ddba11cafe0';
const target = { path: '/media/BACKUP', label: 'BACKUP', sizeBytes: 32_000_000_000, device: '/dev/sdb' };

/**
 * A backup cancelled at "Stop the service?" (driven at 1366x768) kept saying "What happens now: Stop process
 * practice-old and wait until it has stopped …" above "Cancelled, as you asked.": nothing happens now.
 */
describe('The current step of a job that ended', () => {
  it('says the step was not done instead of "What happens now"', () => {
    const fake = fakeApi({ 'job.events': () => ({ events: [], done: false }), 'drives.list': () => [] });
    useWizard.setState({ practice: null, step: { kind: 'backup-run', jobId: JOB, target } });
    render(<App api={fake.api} />);
    const explain = 'Stop the service and wait until it has stopped, so no file changes while it is copied.';
    act(() =>
      fake.emit(JOB, {
        type: 'plan',
        runbook: 'backup',
        title: 'Back up',
        steps: [{ id: 'stop-service', title: 'Stop the service', explain, destructive: true, state: 'todo' }],
      }),
    );
    // It waits on "Stop the service?" (the confirmation makes it the current step).
    act(() =>
      fake.emit(JOB, {
        type: 'prompt',
        promptId: 'p1',
        prompt: {
          kind: 'confirm',
          request: {
            stepId: 'stop-service',
            title: 'Stop the service',
            message: 'It stops.',
            action: 'Stop the service',
          },
        },
      }),
    );
    const line = () => document.querySelector('.current-step .explain')!.textContent;
    expect(line()).toBe(`What happens now: ${explain}`);
    act(() =>
      fake.emit(JOB, {
        type: 'finished',
        ok: false,
        error: { code: 'CANCELLED', message: 'Cancelled by the technician. Nothing was written to the stick.' },
      }),
    );
    expect(line()).toBe(`Not done (the job ended before this step): ${explain}`);
  });
});
