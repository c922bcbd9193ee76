import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { BackupSummary } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const JOB = 'job-00c0ffee0001';
const source = { path: '/media/BACKUP', label: 'BACKUP', sizeBytes: 32_000_000_000, device: '/dev/sdb' };
const backup: BackupSummary = {
  path: '/media/BACKUP/EdgeRecovery/box/Backup_eds-linux_20261201_1257Z',
  deviceId: 'box',
  hostname: 'box',
  profileId: 'eds-linux',
  productName: 'AVEVA Edge Data Store',
  productVersion: '1.1.1.46',
  createdAt: '2026-12-01T12:57:00Z',
  sizeBytes: 80_000,
  files: 10,
  encrypted: true,
  class: 'manual',
  complete: true,
};

/**
 * Verify with a wrong passphrase said "Check the passphrase (it is case-sensitive) and try again" and offered only
 * "Back to start" and "Verify another backup" (driven at 1366x768): trying again meant the stick, the backup and
 * the passphrase screen once more.
 */
describe('Verify with a wrong passphrase', () => {
  it('offers to type the passphrase again for the same backup, and starts the check with it', async () => {
    const fake = fakeApi({
      'job.events': () => ({ events: [], done: false }),
      'backups.list': () => [],
      'verify.start': () => ({ jobId: 'job-00c0ffee0002' }),
    });
    useWizard.setState({ practice: null, step: { kind: 'verify-run', jobId: JOB, backup, source } });
    render(<App api={fake.api} />);
    act(() =>
      fake.emit(JOB, {
        type: 'plan',
        runbook: 'verify',
        title: 'Verify a backup',
        steps: [{ id: 'verify', title: 'Verify the backup', explain: 'Read it.', destructive: false, state: 'todo' }],
      }),
    );
    act(() =>
      fake.emit(JOB, {
        type: 'finished',
        ok: false,
        error: {
          code: 'WRONG_PASSPHRASE',
          message: 'The passphrase does not open this backup.',
          hint: 'Check the passphrase (it is case-sensitive) and try again. Nothing was changed.',
        },
      }),
    );
    const again = screen.getByRole('button', { name: 'Enter the passphrase again' });
    expect(again.className).toBe('primary');
    expect(screen.getByRole('button', { name: 'Back to start' }).className).toBe('secondary');
    await userEvent.click(again);
    expect(screen.getByRole('heading', { name: 'This backup is encrypted' })).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passphrase of this backup'), 'correct horse battery staple');
    await userEvent.click(screen.getByRole('button', { name: 'Check this backup' }));
    expect(fake.callsOf('verify.start')).toEqual([{ backup: backup.path, passphrase: 'correct horse battery staple' }]);
  });
});
