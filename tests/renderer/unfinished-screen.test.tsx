import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { RestoreStatusView } from '../../src-main/shared/contract.js';
import { ApiContext } from '../../src-renderer/api.js';
import { UnfinishedScreen } from '../../src-renderer/screens/unfinished-screen.js';
import { fakeApi } from './fake-api.js';

/**
 * "A restore did not finish" (resume-01, rollback-12): its "Stopped at" was a wall of full paths, and it asked for
 * the passphrase "only if it is encrypted" of every backup, though the journal knows whether it is.
 */
const root = '/tmp/erw/practice/replacement/root/usr/share/OSIsoft/EdgeDataStore';
const status = (encrypted: boolean): RestoreStatusView => ({
  id: '20261201T053137-36c94010',
  backup: '/media/stick/EdgeRecovery/box/Backup_eds-linux_20261201_0531Z',
  profileId: 'eds-linux',
  startedAt: '2026-12-01T05:31:37.000Z',
  updatedAt: '2026-12-01T05:31:40.000Z',
  where: `The restore stopped at "Set the current folders aside and move the restored ones in". ${root}/Configuration is unchanged (the staging copy ${root}/.edge-recovery-20261201T053137-36c94010/Configuration is still to be deleted).`,
  steps: [],
  canResume: true,
  canRollback: true,
  encrypted,
});

function show(s: RestoreStatusView) {
  const fake = fakeApi({});
  return render(
    <ApiContext.Provider value={fake.api}>
      <UnfinishedScreen status={s} />
    </ApiContext.Provider>,
  );
}

describe('A restore did not finish', () => {
  it('names the folders by name, the staging copy told from the folder in use, the full text one hover away', () => {
    show(status(false));
    const where = screen.getByText(/The restore stopped at/);
    expect(where.textContent).toContain(
      '…/Configuration is unchanged (the staging copy …/.edge-recovery-20261201T053137-36c94010/Configuration is still',
    );
    expect(where.textContent).not.toContain(root);
    expect(where.getAttribute('title')).toContain(`${root}/Configuration is unchanged`);
  });

  it('asks for the passphrase only for an encrypted backup', () => {
    const plain = show(status(false));
    expect(screen.queryByLabelText(/Passphrase of the backup/)).toBeNull();
    plain.unmount();
    show(status(true));
    expect(screen.getByLabelText(/Passphrase of the backup/)).toBeTruthy();
  });
});
