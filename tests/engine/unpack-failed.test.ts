import { describe, expect, it } from 'vitest';
import { RecoveryError, unpackFailed } from '../../src-main/engine/errors.js';

/**
 * The restore's unpacking runs before the service is stopped, and a failure there leaves nothing to resume or
 * roll back (the run removes its journal and staging copy): its errors must say so, about this machine's disk.
 */
describe('unpackFailed', () => {
  const where = '/srv/edge';
  it('words a full disk for this machine, says nothing changed and to start again (never resume)', () => {
    const e = unpackFailed(
      new RecoveryError('MEDIUM_FULL', 'The stick is full.', { hint: 'Use a larger stick.' }),
      where,
    );
    expect(e.code).toBe('MEDIUM_FULL');
    expect(e.message).toBe('The disk of this machine is full (/srv/edge).');
    expect(e.hint).toMatch(
      /^Free some space on the disk that holds \/srv\/edge \(df -h\), then start the restore again\./,
    );
    expect(e.hint).toContain('Nothing on this machine was changed: the service kept running');
    expect(e.ui?.hint).toContain('Nothing on this machine was changed');
    expect(`${e.hint} ${e.ui?.hint}`).not.toMatch(/resume|roll back|stick is full|larger stick/i);
  });

  it('keeps a damaged backup its own words and adds that nothing changed', () => {
    const e = unpackFailed(
      new RecoveryError('BACKUP_CORRUPT', 'The backup is damaged: data.tar.gz does not match its checksum.', {
        hint: 'Use another copy of the backup.',
        details: { part: 'data.tar.gz' },
      }),
      where,
    );
    expect(e.message).toBe('The backup is damaged: data.tar.gz does not match its checksum.');
    expect(e.hint).toBe(
      'Use another copy of the backup. Nothing on this machine was changed: the service kept running and the partly unpacked copy was deleted.',
    );
    expect(e.details).toEqual({ part: 'data.tar.gz' });
  });

  it('leaves a cancel as it is', () => {
    const c = new RecoveryError('CANCELLED');
    expect(unpackFailed(c, where)).toBe(c);
  });
});
