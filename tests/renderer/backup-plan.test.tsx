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
});
