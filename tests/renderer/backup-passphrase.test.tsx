import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import { fakeApi } from './fake-api.js';

const target = { path: '/media/BACKUP', label: 'BACKUP', sizeBytes: 32_000_000_000, device: '/dev/sdb' };

/**
 * The wizard started an encrypted backup with a passphrase of one or two characters ("ab" was taken); the CLI's prompt
 * asked for at least eight. One rule (src-main/shared/passphrase.ts), said beside Start before it can be pressed.
 */
describe('Backup options: the passphrase of a new backup', () => {
  it('a passphrase shorter than 8 characters keeps Start disabled and says why; 8 typed twice start the backup', async () => {
    const fake = fakeApi({
      'backup.start': () => ({ jobId: 'job-0123456789ab' }),
      'job.events': () => ({ events: [], done: false }),
    });
    useWizard.setState({
      profileRef: 'eds-linux',
      folders: {},
      practice: null,
      step: { kind: 'backup-options', target },
    });
    render(<App api={fake.api} />);
    await userEvent.click(screen.getByLabelText(/Encrypt the backup/));
    await userEvent.type(screen.getByLabelText('Passphrase', { exact: true }), 'ab');
    await userEvent.type(screen.getByLabelText('Type the passphrase again'), 'ab');
    const start = screen.getByRole('button', { name: 'Start the backup' });
    expect(start).toHaveProperty('disabled', true);
    expect(screen.getByTestId('why-disabled').textContent).toBe(
      'Use a passphrase of at least 8 characters (12 or more, or four unrelated words, is better).',
    );
    await userEvent.click(start);
    expect(fake.callsOf('backup.start')).toEqual([]);

    await userEvent.type(screen.getByLabelText('Passphrase', { exact: true }), 'cdefgh');
    await userEvent.type(screen.getByLabelText('Type the passphrase again'), 'cdefgh');
    expect(screen.queryByTestId('why-disabled')).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Start the backup' }));
    expect(fake.callsOf('backup.start')).toMatchObject([{ passphrase: 'abcdefgh' }]);
  });
});
