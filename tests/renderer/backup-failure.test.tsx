import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import { fakeApi } from './fake-api.js';

const JOB = 'job-feedfacecafe';
const target = { path: '/media/BACKUP', label: 'BACKUP', sizeBytes: 32_000_000_000, device: '/dev/sdb' };

function renderRunning() {
  const fake = fakeApi({
    'job.events': () => ({ events: [], done: false }),
    'drives.list': () => [],
  });
  useWizard.setState({ step: { kind: 'backup-run', jobId: JOB, target } });
  render(<App api={fake.api} />);
  act(() =>
    fake.emit(JOB, {
      type: 'plan',
      runbook: 'backup',
      title: 'Back up',
      steps: [{ id: 'write', title: 'Write the backup', explain: 'Write it.', destructive: false, state: 'todo' }],
    }),
  );
  return fake;
}

describe('Backup failures', () => {
  it('says the stick was unplugged and offers another stick, showing the engine’s hint but no stack', async () => {
    const fake = renderRunning();
    const error = {
      code: 'MEDIUM_GONE' as const,
      message: 'The medium stopped answering (/media/BACKUP). Was the stick unplugged?',
      hint: 'Plug the stick back in (or use another one) and start again. Nothing on this machine was changed.',
    };
    act(() =>
      fake.emit(JOB, {
        type: 'step',
        step: {
          id: 'write',
          title: 'Write the backup',
          explain: 'Write it.',
          destructive: false,
          state: 'failed',
          error,
        },
      }),
    );
    act(() => fake.emit(JOB, { type: 'finished', ok: false, error }));
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('The USB stick was unplugged');
    expect(alert.textContent).toContain(error.hint);
    await userEvent.click(screen.getByRole('button', { name: 'Try again on another stick' }));
    expect(useWizard.getState().step.kind).toBe('backup-drive');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Back up: choose the USB stick');
    expect(screen.getAllByRole('alert')[0]!.textContent).toContain('Choose another stick below');
  });

  it('offers a plain retry for a failure that is not the stick’s', async () => {
    const fake = renderRunning();
    act(() =>
      fake.emit(JOB, {
        type: 'finished',
        ok: false,
        error: { code: 'SERVICE_TIMEOUT', message: 'The service did not stop in 90 s.' },
      }),
    );
    expect(screen.queryByRole('button', { name: 'Try again on another stick' })).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(useWizard.getState().step).toEqual({ kind: 'backup-options', target });
  });
});

describe('toUiError', () => {
  it('keeps the engine’s code, message and hint from a RecoveryApiError, and drops stack lines from anything else', async () => {
    const { RecoveryApiError } = await import('../../src-main/shared/contract.js');
    const { toUiError } = await import('../../src-renderer/lib/ui-error.js');
    expect(toUiError(new RecoveryApiError({ code: 'WRONG_PASSPHRASE', message: 'No.', hint: 'Again.' }))).toEqual({
      code: 'WRONG_PASSPHRASE',
      message: 'No.',
      hint: 'Again.',
    });
    expect(toUiError(new TypeError('x is undefined\n    at f (file.js:1:2)'))).toEqual({
      code: 'INTERNAL',
      message: 'x is undefined',
    });
  });
});
