import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { DriveView, ProfilePlan, StepInfo } from '../../src-main/shared/contract.js';
import { jobEstimate, planEstimate, secondsFor } from '../../src-main/shared/estimate.js';
import { fakeApi } from './fake-api.js';

const MiB = 1024 * 1024;

const profile: ProfilePlan['profile'] = {
  ref: 'eds-linux',
  id: 'eds-linux',
  productName: 'AVEVA Edge Data Store',
  platform: 'linux',
  service: { manager: 'systemd', name: 'osisoft.edgedatastore' },
  items: [],
  credentialResources: [],
};

const plan: ProfilePlan = {
  profile,
  items: [
    {
      id: 'Configuration',
      path: '/usr/share/OSIsoft/EdgeDataStore/Configuration',
      exists: true,
      required: true,
      sizeBytes: 40_000,
      files: 12,
    },
    {
      id: 'Storage',
      path: '/usr/share/OSIsoft/EdgeDataStore/Storage',
      exists: true,
      required: true,
      sizeBytes: 900 * MiB,
      files: 30_007,
    },
  ],
  service: { state: 'running', detail: '' },
  problems: [],
  canElevate: false,
  backupNeedBytes: 1000 * MiB,
  space: [],
};

function stick(device: string, label: string, freeBytes: number): DriveView {
  return {
    device,
    description: 'USB stick',
    sizeBytes: 16_000 * MiB,
    label,
    isRemovable: true,
    isUSB: true,
    mountpoints: [{ path: `/media/${label}`, label, fsType: 'exfat', freeBytes, totalBytes: 16_000 * MiB }],
    status: freeBytes >= 1000 * MiB ? 'ok' : 'warning',
    reasons: [],
  };
}

describe('Backup plan: time and space before anything runs', () => {
  it('shows the downtime as an estimate and the space needed against every stick plugged in, enough or not', async () => {
    const fake = fakeApi({
      'profiles.plan': () => plan,
      'drives.list': () => [stick('/dev/sdb', 'BIG', 8000 * MiB), stick('/dev/sdc', 'SMALL', 300 * MiB)],
    });
    useWizard.setState({ profileRef: 'eds-linux', folders: {}, step: { kind: 'backup-plan' } });
    render(<App api={fake.api} />);

    const table = await screen.findByRole('table', { name: 'Free space on each stick' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      expect.stringMatching(/^BIG.*7\.8 GiB✓ enough$/),
      expect.stringMatching(/^SMALL.*300 MiB✕ not enough \(700 MiB short\)$/),
    ]);
    // The same figure the backup's own pre-check uses, asked of the drive rules too.
    expect(fake.callsOf('drives.list')).toContainEqual({ all: false, minFreeBytes: 1000 * MiB });
    expect(screen.getByTestId('need-bytes').textContent).toBe('1000 MiB');
    const estimate = screen.getByTestId('time-estimate').textContent ?? '';
    expect(estimate).toMatch(/the service is stopped for about \d+ min \d+ s/);
    expect(estimate).toMatch(/An estimate from 900 MiB in 30,019 files/);
    // The step indicator shows where the technician is.
    expect(
      screen.getByRole('navigation', { name: 'Steps of the backup' }).querySelector('[aria-current="step"]')
        ?.textContent,
    ).toMatch(/What is copied/);
  });

  it('a disabled “Choose the USB stick” says why beside it', async () => {
    const fake = fakeApi({
      'profiles.plan': () => ({ ...plan, problems: [{ code: 'PERMISSION_DENIED', message: 'Run as root.' }] }),
      'drives.list': () => [],
    });
    useWizard.setState({ profileRef: 'eds-linux', folders: {}, step: { kind: 'backup-plan' } });
    render(<App api={fake.api} />);
    const next = (await screen.findByRole('button', { name: 'Choose the USB stick' })) as HTMLButtonElement;
    expect(next.disabled).toBe(true);
    const why = document.getElementById(next.getAttribute('aria-describedby')!)!;
    expect(why.textContent).toMatch(/First solve what is listed/);
    await userEvent.click(screen.getByRole('button', { name: 'Check again' }));
    await waitFor(() => expect(fake.callsOf('profiles.plan').length).toBeGreaterThan(1));
  });
});

describe('estimates', () => {
  const work = { bytes: 900 * MiB, files: 30_000 };
  const step = (id: string, state: StepInfo['state']): StepInfo => ({
    id,
    title: id,
    explain: '',
    destructive: false,
    state,
  });

  it('a backup keeps the service down through packing and the read-back; a restore unpacks while it runs', () => {
    const b = planEstimate('backup', work);
    expect(b.downtimeSeconds).toBeGreaterThan(secondsFor(work, 'archive') + secondsFor(work, 'verify'));
    expect(b.totalSeconds).toBeGreaterThanOrEqual(b.downtimeSeconds);
    const r = planEstimate('restore', work);
    // Down only for the stop, the swap, the owners' check and the start: not for the unpacking.
    expect(r.downtimeSeconds).toBeLessThan(secondsFor(work, 'extract'));
    expect(r.totalSeconds - r.downtimeSeconds).toBeGreaterThan(secondsFor(work, 'extract'));
    // The same for a tiny and a huge backup: the downtime does not grow with the data.
    expect(planEstimate('restore', { bytes: 1e12, files: 1e7 }).downtimeSeconds).toBe(r.downtimeSeconds);
  });

  it('scales the steps still to come by the speed measured so far, and says when the service is back', () => {
    const steps = [
      step('stop-service', 'done'),
      step('archive', 'running'),
      step('verify', 'todo'),
      step('start-service', 'todo'),
    ];
    const assumed = secondsFor(work, 'archive');
    const progress = (elapsed: number, eta: number) => ({
      stepId: 'archive',
      progress: {
        phase: 'archiving',
        bytes: 1,
        totalBytes: work.bytes,
        files: 1,
        totalFiles: work.files,
        rate: 1,
        etaSeconds: eta,
        elapsedMs: elapsed * 1000,
      },
    });
    // Twice as slow as assumed: the read-back still to come is expected twice as slow too.
    const slow = jobEstimate('backup', steps, progress(assumed, assumed), work);
    expect(slow.measured).toBe(true);
    expect(slow.remainingSeconds).toBeCloseTo(assumed + 2 * secondsFor(work, 'verify') + 10, 0);
    expect(slow.serviceBackSeconds).toBe(slow.remainingSeconds);
    const before = jobEstimate('backup', [step('stop-service', 'todo'), step('archive', 'todo')], null, null);
    expect(before.remainingSeconds).toBeNull();
  });
});
