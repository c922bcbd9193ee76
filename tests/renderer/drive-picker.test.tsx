import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { DriveView } from '../../src-main/shared/contract.js';
import { ApiContext } from '../../src-renderer/api.js';
import { DrivePicker } from '../../src-renderer/components/drive-picker.js';
import { fakeApi } from './fake-api.js';

function drive(over: Partial<DriveView> & Pick<DriveView, 'device'>): DriveView {
  return {
    description: 'SanDisk Ultra',
    sizeBytes: 32_000_000_000,
    label: 'BACKUP',
    isRemovable: true,
    isUSB: true,
    mountpoints: [
      {
        path: `/media${over.device}`,
        label: null,
        fsType: 'exfat',
        freeBytes: 20_000_000_000,
        totalBytes: 32_000_000_000,
      },
    ],
    status: 'ok',
    reasons: [],
    ...over,
  };
}

const stick = drive({ device: '/dev/sdb' });
const risky = drive({
  device: '/dev/sdc',
  label: 'OLDSTICK',
  status: 'warning',
  reasons: [{ code: 'FAT32', message: 'FAT32: files over 4 GiB are split.' }],
});
const zram = drive({
  device: '/dev/zram0',
  label: null,
  description: 'zram0',
  sizeBytes: null,
  mountpoints: [],
  status: 'hidden',
  reasons: [{ code: 'VIRTUAL', message: 'A virtual drive in memory, not a USB stick.' }],
});
const system = drive({
  device: '/dev/sda',
  label: 'root',
  description: 'Samsung SSD',
  status: 'hidden',
  reasons: [{ code: 'SYSTEM', message: 'The system runs from this drive.' }],
});

function setup(purpose: 'write' | 'read' = 'write') {
  const fake = fakeApi({
    'drives.list': ({ all }) => (all ? [stick, risky, zram, system] : [stick, risky]),
  });
  const onChosen = vi.fn();
  render(
    <ApiContext.Provider value={fake.api}>
      <DrivePicker purpose={purpose} onChosen={onChosen} />
    </ApiContext.Provider>,
  );
  return { fake, onChosen };
}

describe('DrivePicker', () => {
  it('lists the offered sticks but selects none of them, so nothing can be written before a choice', async () => {
    setup();
    const radios = await screen.findAllByRole('radio');
    expect(radios).toHaveLength(2);
    expect(radios.every((r) => !(r as HTMLInputElement).checked)).toBe(true);
    expect((screen.getByRole('button', { name: 'Use this stick' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows the engine’s warning reasons next to a drive it offers with a warning', async () => {
    setup();
    await screen.findAllByRole('radio');
    expect(screen.getByText('FAT32: files over 4 GiB are split.')).toBeTruthy();
  });

  it('keeps hidden drives out of the list until asked, then shows each with the engine’s reasons and no way to pick it', async () => {
    const { fake } = setup();
    await screen.findAllByRole('radio');
    expect(screen.queryByText('A virtual drive in memory, not a USB stick.')).toBeNull();
    expect(fake.callsOf('drives.list')).toEqual([{ all: false }]);

    const toggle = screen.getByRole('button', { name: 'Why is my drive not listed?' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    await userEvent.click(toggle);
    const hidden = await screen.findByRole('region', { name: 'Drives not offered' });
    await within(hidden).findByText('A virtual drive in memory, not a USB stick.');
    expect(within(hidden).getByText('The system runs from this drive.')).toBeTruthy();
    expect(within(hidden).queryAllByRole('radio')).toHaveLength(0);
    expect(screen.getAllByRole('radio')).toHaveLength(2);
    expect(fake.callsOf('drives.list')).toContainEqual({ all: true });
  });

  it('asks again with the label and size before writing, and only then hands over the target', async () => {
    const { onChosen } = setup('write');
    await userEvent.click(await screen.findByRole('radio', { name: /BACKUP/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Use this stick' }));
    expect(onChosen).not.toHaveBeenCalled();
    expect(screen.getByRole('heading', { name: 'Is this the right stick?' })).toBeTruthy();
    expect(screen.getByTestId('confirm-label').textContent).toBe('BACKUP');
    expect(screen.getByTestId('confirm-size').textContent).toBe('29.8 GiB');

    await userEvent.click(screen.getByRole('button', { name: 'No, choose again' }));
    expect(onChosen).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole('radio', { name: /BACKUP/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Use this stick' }));
    await userEvent.click(screen.getByRole('button', { name: /Yes, write the backup to “BACKUP”/ }));
    expect(onChosen).toHaveBeenCalledWith({
      path: '/media/dev/sdb',
      label: 'BACKUP',
      sizeBytes: 32_000_000_000,
      device: '/dev/sdb',
    });
  });

  it('reads from a stick without the write confirmation', async () => {
    const { onChosen } = setup('read');
    await userEvent.click(await screen.findByRole('radio', { name: /OLDSTICK/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Look for backups on this stick' }));
    expect(onChosen).toHaveBeenCalledWith(expect.objectContaining({ device: '/dev/sdc' }));
  });

  it('can be operated with the keyboard alone', async () => {
    const { onChosen } = setup('write');
    await screen.findAllByRole('radio');
    const user = userEvent.setup();
    const first = screen.getAllByRole('radio')[0]!;
    first.focus();
    await user.keyboard(' ');
    expect((first as HTMLInputElement).checked).toBe(true);
    screen.getByRole('button', { name: 'Use this stick' }).focus();
    await user.keyboard('{Enter}');
    await waitFor(() => expect(document.activeElement?.textContent).toBe('Is this the right stick?'));
    screen.getByRole('button', { name: /Yes, write/ }).focus();
    await user.keyboard('{Enter}');
    expect(onChosen).toHaveBeenCalledTimes(1);
  });

  it('says plainly when the engine could not list drives, with its hint', async () => {
    const fake = fakeApi({
      'drives.list': () => {
        throw Object.assign(new Error('lsblk failed'), {
          code: 'INTERNAL',
          hint: 'Try again.',
          stack: 'at secret.ts:1',
        });
      },
    });
    render(
      <ApiContext.Provider value={fake.api}>
        <DrivePicker purpose="write" onChosen={() => {}} />
      </ApiContext.Provider>,
    );
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('lsblk failed');
    expect(alert.textContent).toContain('Try again.');
    expect(alert.textContent).not.toContain('secret.ts');
  });
});
