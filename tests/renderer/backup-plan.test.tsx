import { render, screen } from '@testing-library/react';
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
  it('shows the profile’s folders with sizes and offers no field to type another (the host takes none from the page)', async () => {
    const fake = fakeApi({ 'profiles.plan': (i) => plan(i) });
    useWizard.setState({ profileRef: 'eds-linux', step: { kind: 'backup-plan' } });
    render(<App api={fake.api} />);

    const storage = await screen.findByRole('rowheader', { name: /^Storage/ });
    expect(storage.textContent).toBe('Storage/usr/share/OSIsoft/EdgeDataStore/Storage');
    expect(screen.queryAllByRole('textbox')).toEqual([]);
    expect(screen.queryByRole('button', { name: 'Use these folders' })).toBeNull();
    expect(screen.getByText(/the wizard backs up exactly these/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Choose the USB stick' }) as HTMLButtonElement).disabled).toBe(false);
    // The plan is asked for the profile's own folders: no `folders`, no `root` outside practice.
    expect(fake.callsOf('profiles.plan')).toEqual([{ profileRef: 'eds-linux' }]);
  });
});
