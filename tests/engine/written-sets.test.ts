import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  forgetSets,
  forgetStarted,
  MAX_WRITTEN_SETS,
  readWrittenSets,
  recordedStarted,
  recordSetStarted,
  recordSetVerified,
  unvouchedReason,
  WRITTEN_SETS_FILE,
  manifestSha256,
} from '../../src-main/engine/backup/written-sets.js';

/** The record retention trusts instead of a stick's manifests (backup/written-sets.ts). */
describe('the record of the sets this machine wrote', () => {
  let state = '';
  beforeEach(async () => {
    state = await fsp.mkdtemp(path.join(os.tmpdir(), 'written-sets-'));
  });
  afterEach(async () => {
    await fsp.rm(state, { recursive: true, force: true });
  });

  const set = (device: string, name: string) => path.join('/media/stick/EdgeRecovery', device, name);
  const text = '{"createdAt":"2026-11-30T12:00:00.000Z"}\n';
  const at = { createdAt: '2026-11-30T12:00:00.000Z', class: 'manual' as const };

  it('vouches only for the same profile, device folder, set name and manifest bytes, wherever the stick mounts', async () => {
    const dir = set('box', 'Backup_eds-linux_20261130_1200Z');
    await recordSetStarted(state, dir, 'eds-linux');
    const started = await readWrittenSets(state);
    expect(
      recordedStarted(
        started,
        path.join('/mnt/other', 'EdgeRecovery/box/Backup_eds-linux_20261130_1200Z'),
        'eds-linux',
      ),
    ).toBe(true);
    // Started is not verified: nothing counts yet.
    expect(unvouchedReason(started, dir, 'eds-linux', manifestSha256(text))).toMatch(/no record/);

    await recordSetVerified(state, dir, 'eds-linux', text, at);
    const all = await readWrittenSets(state);
    expect(all).toHaveLength(1); // the started record became the verified one
    expect(recordedStarted(all, dir, 'eds-linux')).toBe(false);
    const sha = manifestSha256(text);
    expect(unvouchedReason(all, '/mnt/other/EdgeRecovery/box/Backup_eds-linux_20261130_1200Z', 'eds-linux', sha)).toBe(
      null,
    );
    expect(unvouchedReason(all, dir, 'eds-linux', manifestSha256(text + ' '))).toMatch(/changed after this machine/);
    expect(unvouchedReason(all, set('box', 'Backup_eds-linux_20261130_1200Z_2'), 'eds-linux', sha)).toMatch(
      /no record/,
    );
    expect(unvouchedReason(all, set('other-box', 'Backup_eds-linux_20261130_1200Z'), 'eds-linux', sha)).toMatch(
      /no record/,
    );
    expect(unvouchedReason(all, dir, 'opencrvs', sha)).toMatch(/no record/);
    // Root's only.
    expect((await fsp.stat(path.join(state, WRITTEN_SETS_FILE))).mode & 0o777).toBe(0o600);
  });

  it('forgets what was removed, keeps a verified record from forgetStarted, and is capped', async () => {
    const a = set('box', 'Backup_eds-linux_20261130_1200Z');
    const b = set('box', 'Backup_eds-linux_20261130_1300Z');
    await recordSetVerified(state, a, 'eds-linux', text, at);
    await recordSetStarted(state, b, 'eds-linux');
    await forgetStarted(state, a, 'eds-linux');
    await forgetStarted(state, b, 'eds-linux');
    expect((await readWrittenSets(state)).map((e) => [e.name, e.state])).toEqual([[path.basename(a), 'verified']]);
    await forgetSets(state, [a], 'eds-linux');
    expect(await readWrittenSets(state)).toEqual([]);

    // A file of more records than the cap (e.g. years of sets deleted by hand): the newest are kept.
    const many = Array.from({ length: MAX_WRITTEN_SETS + 10 }, (_, i) => ({
      state: 'verified',
      profileId: 'eds-linux',
      device: 'box',
      name: `Backup_eds-linux_${i}`,
      setDir: set('box', `Backup_eds-linux_${i}`),
      manifestSha256: 'a'.repeat(64),
      createdAt: at.createdAt,
      class: 'manual',
      recordedAt: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString(),
    }));
    await fsp.writeFile(path.join(state, WRITTEN_SETS_FILE), JSON.stringify({ version: 1, sets: many }));
    await recordSetStarted(state, b, 'eds-linux');
    const kept = await readWrittenSets(state);
    expect(kept).toHaveLength(MAX_WRITTEN_SETS);
    expect(kept[0]!.name).toBe(path.basename(b));
    expect(kept.some((e) => e.name === 'Backup_eds-linux_0')).toBe(false);
    expect(kept.some((e) => e.name === `Backup_eds-linux_${MAX_WRITTEN_SETS + 9}`)).toBe(true);
  });

  it('reads an unreadable or malformed file as no record at all (nothing counts, nothing is deleted)', async () => {
    await fsp.writeFile(path.join(state, WRITTEN_SETS_FILE), '{not json');
    expect(await readWrittenSets(state)).toEqual([]);
    await fsp.writeFile(
      path.join(state, WRITTEN_SETS_FILE),
      JSON.stringify({ sets: [{ state: 'verified', profileId: 'p', device: 'd', name: 'n', setDir: '/x' }, 7, null] }),
    );
    expect(await readWrittenSets(state)).toEqual([]);
  });
});
