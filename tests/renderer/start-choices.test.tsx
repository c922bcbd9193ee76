import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { AppInfo, ProfileSummary } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const info: AppInfo = {
  version: '0.1.0',
  platform: 'linux',
  elevated: true,
  practice: false,
  shell: 'browser',
  detected: null,
  hostname: 'vm',
  deviceId: 'vm-1',
};
const summary = (ref: string, id: string, productName: string): ProfileSummary => ({
  ref,
  id,
  productName,
  platform: 'linux',
  service: { manager: 'systemd', name: `${id}.service` },
  items: [],
  credentialResources: [],
});
const profiles = [
  summary('eds-linux', 'eds-linux', 'AVEVA Edge Data Store'),
  summary('/etc/edge-recovery/profiles/myproduct-none.json', 'myproduct', 'My Product'),
  summary('/etc/edge-recovery/profiles/myproduct.json', 'myproduct', 'My Product'),
];

/** The start screen of a real `serve` on a machine without the product (driven at 1366x768). */
describe('Start screen choices', () => {
  it('two profile files of one product id are told apart by their file', async () => {
    // Both read "My Product — linux (myproduct)": nothing said which file the technician chose.
    useWizard.setState({ info, profiles, profileRef: null, practice: null, step: { kind: 'start' } });
    render(<App api={fakeApi({}).api} />);
    const options = [...(screen.getByLabelText('Product profile') as HTMLSelectElement).options].map((o) => o.text);
    expect(options.slice(1)).toEqual([
      'AVEVA Edge Data Store — linux (eds-linux)',
      'My Product — linux (myproduct): /etc/edge-recovery/profiles/myproduct-none.json',
      'My Product — linux (myproduct): /etc/edge-recovery/profiles/myproduct.json',
    ]);
  });

  it('with no product found here, a chosen profile without backups is not told "make one now"', async () => {
    // "No supported product was found …, so there is nothing here to back up" sat above "No verified backup … make
    // one now" for the profile chosen to restore onto this replacement.
    const fake = fakeApi({ 'backups.last': () => null });
    useWizard.setState({ info, profiles, profileRef: null, practice: null, step: { kind: 'start' } });
    render(<App api={fake.api} />);
    await userEvent.selectOptions(screen.getByLabelText('Product profile'), 'eds-linux');
    const note = await screen.findByTestId('last-backup');
    expect(note.textContent).toBe('No verified backup of this device is recorded on this computer.');
    expect(note.className).not.toContain('warn');
  });
});
