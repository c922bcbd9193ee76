import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { AppInfo, ProfilePlan, ProfileSummary } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const profile: ProfileSummary = {
  ref: 'eds-linux',
  id: 'eds-linux',
  productName: 'AVEVA Edge Data Store',
  platform: 'linux',
  service: { manager: 'systemd', name: 'osisoft.edgedatastore' },
  items: [],
  credentialResources: [],
};
const info: AppInfo = {
  version: '0.1.0',
  platform: 'linux',
  elevated: false,
  practice: false,
  shell: 'electron',
  detected: { profileId: 'eds-linux', reason: 'the service is installed' },
  hostname: 'edge-07',
  deviceId: 'edge-07-1a2b3c4d',
};
const plan = (problems: ProfilePlan['problems']): ProfilePlan => ({
  profile,
  backupNeedBytes: 16_777_216,
  space: [],
  items: [],
  service: { state: 'running', detail: '' },
  problems,
  canElevate: true,
});

describe('rights at start', () => {
  it('says plainly what the machine lacks and relaunches with administrator rights on request', async () => {
    const fake = fakeApi({
      'profiles.plan': () =>
        plan([
          {
            code: 'PERMISSION_DENIED',
            message: 'Stopping and starting the service osisoft.edgedatastore needs root rights.',
          },
          {
            code: 'SOURCE_MISSING',
            message: 'The folder /usr/share/OSIsoft/EdgeDataStore/Storage (Storage) does not exist here.',
          },
        ]),
      'app.relaunchElevated': () => ({ started: true, message: 'Asking for administrator rights…' }),
    });
    useWizard.setState({ info, profiles: [profile], profileRef: 'eds-linux', practice: null, step: { kind: 'start' } });
    render(<App api={fake.api} />);

    expect(await screen.findByText(/needs root rights/)).toBeTruthy();
    // Only rights and accounts are shown here: a missing folder is normal on a replacement machine.
    expect(screen.queryByText(/does not exist here/)).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Relaunch with administrator rights' }));
    expect(await screen.findByText('Asking for administrator rights…')).toBeTruthy();
    expect(fake.callsOf('app.relaunchElevated')).toHaveLength(1);
  });

  it('shows nothing when the machine has what the profile needs', async () => {
    const fake = fakeApi({ 'profiles.plan': () => plan([]) });
    useWizard.setState({ info, profiles: [profile], profileRef: 'eds-linux', practice: null, step: { kind: 'start' } });
    render(<App api={fake.api} />);
    expect(await screen.findByText(/Found/)).toBeTruthy();
    await waitFor(() => expect(fake.callsOf('profiles.plan')).toHaveLength(1));
    await act(async () => undefined); // let the answer render
    expect(screen.queryByRole('button', { name: 'Relaunch with administrator rights' })).toBeNull();
  });
});
