import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { ProfilePlan, RequestInput } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const profile: ProfilePlan['profile'] = {
  ref: 'eds-linux',
  id: 'eds-linux',
  productName: 'AVEVA Edge Data Store',
  platform: 'linux',
  service: { manager: 'systemd', name: 'osisoft.edgedatastore' },
  items: [],
  credentialResources: [],
};

function plan(input: RequestInput<'profiles.plan'>): ProfilePlan {
  const path = (id: string) => input.folders?.[id] ?? `/usr/share/OSIsoft/EdgeDataStore/${id}`;
  return {
    profile,
    items: ['Configuration', 'Storage'].map((id) => ({
      id,
      path: path(id),
      exists: true,
      required: true,
      sizeBytes: input.folders?.[id] ? 5_000_000 : 1000,
      files: 3,
    })),
    backupNeedBytes: 20_000_000,
    space: [
      { path: '/', itemIds: ['Configuration', 'Storage'], freeBytes: 10_000_000_000, totalBytes: 20_000_000_000 },
    ],
    service: { state: 'running', detail: '' },
    problems: [],
    canElevate: false,
  };
}

describe('Backup plan: source folders', () => {
  it('shows the profile’s folders with sizes, lets the technician type another one, measures it again and uses it', async () => {
    const fake = fakeApi({ 'profiles.plan': (i) => plan(i) });
    useWizard.setState({ profileRef: 'eds-linux', folders: {}, step: { kind: 'backup-plan' } });
    render(<App api={fake.api} />);

    const storage = (await screen.findByLabelText('Storage')) as HTMLInputElement;
    expect(storage.value).toBe('/usr/share/OSIsoft/EdgeDataStore/Storage');
    const next = screen.getByRole('button', { name: 'Choose the USB stick' }) as HTMLButtonElement;
    expect(next.disabled).toBe(false);

    await userEvent.clear(storage);
    await userEvent.type(storage, '/data/eds/Storage');
    // While a change is not applied, the sizes on screen are not the ones of the typed folder: no going on.
    expect(next.disabled).toBe(true);
    await userEvent.click(screen.getByRole('button', { name: 'Use these folders' }));

    await waitFor(() => expect(screen.getByText('4.8 MiB')).toBeTruthy());
    expect((screen.getByLabelText('Storage') as HTMLInputElement).value).toBe('/data/eds/Storage');
    expect(fake.callsOf('profiles.plan').at(-1)).toEqual({
      profileRef: 'eds-linux',
      folders: { Storage: '/data/eds/Storage' },
    });
    expect((screen.getByRole('button', { name: 'Choose the USB stick' }) as HTMLButtonElement).disabled).toBe(false);
    expect(useWizard.getState().folders).toEqual({ Storage: '/data/eds/Storage' });
  });

  it('shows the host’s refusal of a typed folder next to its field, keeps the measured plan, and goes on only with a folder the host took', async () => {
    const refusal = {
      code: 'PATH_REFUSED',
      message:
        'The wizard does not back up "/root" as Storage: it belongs to the account "root", and the wizard backs up a folder typed here only when it belongs to the product\'s account "edgedatastore". Nothing was read or changed.',
      hint: 'edge-recovery backup --folder Storage=PATH',
      ui: { hint: 'Type the folder where the product keeps its Storage data on this machine.' },
      details: { given: '/root', real: '/root', what: 'the folder for Storage', id: 'Storage' },
    };
    const fake = fakeApi({
      'profiles.plan': (i) => {
        if (i.folders?.['Storage'] === '/root') throw Object.assign(new Error(refusal.message), refusal);
        return plan(i);
      },
    });
    useWizard.setState({ profileRef: 'eds-linux', folders: {}, step: { kind: 'backup-plan' } });
    render(<App api={fake.api} />);

    const storage = (await screen.findByLabelText('Storage')) as HTMLInputElement;
    await userEvent.clear(storage);
    await userEvent.type(storage, '/root');
    await userEvent.click(screen.getByRole('button', { name: 'Use these folders' }));

    const shown = await screen.findByRole('alert');
    // At the Storage field, in the host's words (its wizard hint, not the command line's).
    expect(shown.closest('tr')?.querySelector('label')?.textContent).toBe('Storage');
    expect(shown.id).toBe(storage.getAttribute('aria-describedby'));
    expect(storage.getAttribute('aria-invalid')).toBe('true');
    expect(shown.textContent).toContain('it belongs to the account "root"');
    expect(shown.textContent).toContain('Nothing was read or changed.');
    expect(shown.textContent).toContain('Type the folder where the product keeps its Storage data');
    expect(shown.textContent).not.toContain('--folder');
    // The plan measured before stays; the refused folder is not taken; no going on with it.
    expect(storage.value).toBe('/root');
    expect(screen.getByText('Configuration')).toBeTruthy();
    expect(useWizard.getState().folders).toEqual({});
    expect((screen.getByRole('button', { name: 'Choose the USB stick' }) as HTMLButtonElement).disabled).toBe(true);

    await userEvent.clear(storage);
    await userEvent.type(storage, '/data/eds/Storage');
    await userEvent.click(screen.getByRole('button', { name: 'Use these folders' }));
    await waitFor(() => expect(screen.getByText('4.8 MiB')).toBeTruthy());
    expect(screen.queryByRole('alert')).toBeNull();
    expect(useWizard.getState().folders).toEqual({ Storage: '/data/eds/Storage' });
    expect((screen.getByRole('button', { name: 'Choose the USB stick' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('sends the folders the host took with backup.start', async () => {
    const target = { path: '/media/tech/STICK', label: 'STICK', sizeBytes: null, device: '/dev/sdb' };
    const fake = fakeApi({
      'backup.start': () => ({ jobId: 'j1' }),
      'job.events': () => ({ events: [], done: false }),
    });
    useWizard.setState({
      profileRef: 'eds-linux',
      folders: { Storage: '/data/eds/Storage' },
      step: { kind: 'backup-options', target },
    });
    render(<App api={fake.api} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Start the backup' }));
    await waitFor(() => expect(fake.callsOf('backup.start')).toHaveLength(1));
    expect(fake.callsOf('backup.start')[0]).toMatchObject({
      profileRef: 'eds-linux',
      to: '/media/tech/STICK',
      folders: { Storage: '/data/eds/Storage' },
    });
  });

  it('says in practice what practice does: the practice folder, the practice stick, nothing else touched', async () => {
    const sandbox = '/tmp/edge-recovery-practice-Ab12';
    const fake = fakeApi({ 'profiles.plan': (i) => plan(i) });
    useWizard.setState({
      profileRef: `${sandbox}/old/profile.json`,
      folders: {},
      step: { kind: 'backup-plan' },
      practice: {
        stickDir: `${sandbox}/stick`,
        old: { profileRef: `${sandbox}/old/profile.json`, root: `${sandbox}/old/root`, label: 'Old appliance' },
        replacement: {
          profileRef: `${sandbox}/replacement/profile.json`,
          root: `${sandbox}/replacement/root`,
          label: 'Replacement appliance',
        },
      },
    });
    render(<App api={fake.api} />);
    await screen.findByLabelText('Storage');
    const note = screen.getByText(/This is practice/);
    expect(note.textContent).toMatch(/practice machine's folders, in the practice folder on this computer/);
    expect(note.textContent).toMatch(
      /writes only to the practice stick: nothing else on this computer is read or changed/,
    );
    expect(note.textContent).toMatch(/taken only inside the practice folder/);
    // Not the real machine's rule (the product's account), which the host does not apply in practice.
    expect(screen.queryByText(/must belong to the account/)).toBeNull();
    useWizard.setState({ practice: null });
  });
});

describe('Backup plan: the service line', () => {
  it('ends a bare manager detail ("pid 4684") as a sentence before "It is stopped …"', async () => {
    // It read "Service practice-old: running. pid 4684 It is stopped during the copy" (driven at 1366x768).
    const fake = fakeApi({
      'profiles.plan': (i) => ({ ...plan(i), service: { state: 'running', detail: 'pid 4684' } }),
    });
    useWizard.setState({ profileRef: 'eds-linux', folders: {}, step: { kind: 'backup-plan' } });
    render(<App api={fake.api} />);
    const line = (await screen.findByText(/It is stopped during the copy/)).closest('p')!;
    expect(line.textContent).toBe(
      'Service osisoft.edgedatastore: running. pid 4684. It is stopped during the copy (you will be asked) and started again afterwards.',
    );
  });
});
