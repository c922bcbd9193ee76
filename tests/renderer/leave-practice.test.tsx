import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { AppInfo, PracticeView } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const info: AppInfo = {
  version: '0.1.0',
  platform: 'linux',
  elevated: true,
  practice: false,
  shell: 'electron',
  detected: null,
  hostname: 'edge-07',
  deviceId: 'edge-07-1a2b3c4d',
};
const practice: PracticeView = {
  stickDir: '/tmp/sandbox/stick',
  old: { profileRef: '/tmp/sandbox/old/profile.json', root: '/tmp/sandbox/old/root', label: 'Old appliance' },
  replacement: {
    profileRef: '/tmp/sandbox/replacement/profile.json',
    root: '/tmp/sandbox/replacement/root',
    label: 'Replacement appliance',
  },
};

/** "Leave practice" ends the host's practice too: while it lasts, the host runs jobs only on practice appliances. */
describe('Leave practice', () => {
  it('asks the host to end practice, then offers real work', async () => {
    const fake = fakeApi({ 'practice.leave': () => ({ left: true, message: 'Practice ended.' }) });
    useWizard.setState({ info, profiles: [], profileRef: null, practice, step: { kind: 'start' } });
    render(<App api={fake.api} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Leave practice' }));
    expect(await screen.findByRole('button', { name: 'Back up this device' })).toBeTruthy();
    expect(fake.callsOf('practice.leave')).toHaveLength(1);
    expect(useWizard.getState().practice).toBeNull();
  });

  it('stays in practice and says why when the host is a practice-only server', async () => {
    const why =
      'This wizard was started for practice ("edge-recovery serve --practice") and works only on the practice appliances.';
    const fake = fakeApi({ 'practice.leave': () => ({ left: false, message: why }) });
    useWizard.setState({
      info: { ...info, practice: true },
      profiles: [],
      profileRef: null,
      practice,
      step: { kind: 'start' },
    });
    render(<App api={fake.api} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Leave practice' }));
    expect(await screen.findByText(/started for practice/)).toBeTruthy();
    expect(useWizard.getState().practice).toEqual(practice);
    expect(screen.queryByRole('button', { name: 'Back up this device' })).toBeNull();
  });

  it('a practice-only server (serve --practice) offers no real work before Practice is chosen, and says why', async () => {
    // It offered "Back up this device" and a product list; three screens later the host refused at Start
    // ("Practice works only on the practice appliances"), and the list showed the two appliances by one name.
    const fake = fakeApi({});
    useWizard.setState({
      info: { ...info, practice: true, practiceOnly: true, shell: 'browser' },
      profiles: [],
      profileRef: null,
      practice: null,
      step: { kind: 'start' },
    });
    render(<App api={fake.api} />);
    await screen.findByRole('heading', { name: 'What do you want to do?' });
    expect(screen.getByText(/This wizard was started for practice/).closest('p')!.textContent).toBe(
      'This wizard was started for practice: it backs up and restores only practice stand-ins on this computer, never this machine’s product. Start with Practice below. To back up or restore this device, stop this wizard where it was started and start it again without practice mode.',
    );
    expect(screen.queryByRole('button', { name: 'Back up this device' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Restore onto this device' })).toBeNull();
    expect(screen.queryByLabelText('Product profile')).toBeNull();
    expect(screen.queryByText(/No supported product was found/)).toBeNull();
    const practiceButton = screen.getByRole('button', { name: 'Practice' });
    expect(practiceButton.classList.contains('primary')).toBe(true);
  });

  it('Verify a backup in a practice-only server offers the practice stick, before Practice was pressed', async () => {
    // It said "No USB stick found. Plug one in": the practice backups, on the practice stick folder, were not listed.
    const fake = fakeApi({ 'practice.setup': () => practice, 'drives.list': () => [] });
    useWizard.setState({
      info: { ...info, practice: true, practiceOnly: true, shell: 'browser' },
      profiles: [],
      profileRef: null,
      practice: null,
      step: { kind: 'start' },
    });
    render(<App api={fake.api} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Verify a backup' }));
    expect(await screen.findByRole('radio', { name: /Practice stick/ })).toBeTruthy();
    expect(screen.queryByText(/No USB stick found/)).toBeNull();
    expect(fake.callsOf('practice.setup')).toHaveLength(1);
  });
});
