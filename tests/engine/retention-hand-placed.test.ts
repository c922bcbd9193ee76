import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyRetention } from '../../src-main/engine/backup/retention.js';
import { readWrittenSets, recordSetStarted } from '../../src-main/engine/backup/written-sets.js';

/**
 * Every backup ends with retention, and retention deletes the "debris of interrupted backups": set folders without
 * manifest.json. A folder only looks like one by its name prefix; what a technician put on the stick by hand
 * (a copy of an old backup made with tar, notes, a set whose manifest.json was lost) is not the tool's to delete:
 * only a folder this machine recorded starting (written-sets.ts) is debris.
 */
describe('retention and folders the tool did not write', () => {
  let work = '';
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  const file = (p: string, text = 'x') => {
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  };

  it('deletes an interrupted set of its own, and leaves hand-placed folders named like sets alone', async () => {
    work = mkdtempSync(join(tmpdir(), 'retention-hand-'));
    const dev = join(work, 'EdgeRecovery', 'box');
    const current = join(dev, 'Backup_eds-linux_20261130_1200Z');
    file(join(current, 'manifest.json'), '{}');

    // What an interrupted backup of this tool leaves: parts, temp names, the sums; no manifest.json.
    const interrupted = join(dev, 'Backup_eds-linux_20261129_0230Z');
    file(join(interrupted, 'data.tar.gz.001'));
    file(join(interrupted, 'data.tar.gz.1000'));
    file(join(interrupted, '.data.tar.gz.002.0123456789abcdef.partial'));
    file(join(interrupted, 'SHA256SUMS'));
    file(join(interrupted, '.manifest.json.fedcba9876543210.partial'));
    const interrupted2 = join(dev, 'Backup_eds-linux_20261128_0230Z_2');
    file(join(interrupted2, 'data.tar.gz.age'));
    file(join(interrupted2, 'RESTORE.txt'));
    file(join(interrupted2, 'artifacts', 'dump', 'db.tar.gz'));
    const state = join(work, 'state');
    await recordSetStarted(state, interrupted, 'eds-linux');
    await recordSetStarted(state, interrupted2, 'eds-linux');
    // Named and filled exactly as an interrupted backup of this tool, but this machine never recorded starting it:
    // a set whose manifest.json was lost, the only copy of someone's data (tar -xzf still unpacks it).
    const lostManifest = join(dev, 'Backup_eds-linux_20250505_0505Z');
    file(join(lostManifest, 'data.tar.gz'), 'a real archive whose manifest.json was lost');
    file(join(lostManifest, 'SHA256SUMS'));
    file(join(lostManifest, 'artifacts', 'dump', 'db.tar.gz'), 'the product dump');

    // Put there by a technician: not named as the tool names sets, or holding what the tool never writes.
    const copy = join(dev, 'Backup_eds-linux_before-upgrade');
    file(join(copy, 'eds-config.tar.gz'), 'the only copy of the old configuration');
    const byHand = join(dev, 'Backup_eds-linux_20240101_0000Z');
    file(join(byHand, 'data.tar.gz'), 'copied from the old stick');
    file(join(byHand, 'Configuration', 'appsettings.json'), '{"keep":"me"}');
    const notes = join(dev, 'Backup_eds-linux_20240202_0000Z');
    file(join(notes, 'notes.txt'), 'what the site engineer changed');

    const { removed } = await applyRetention(dev, 'eds-linux', {}, current, { stateDir: state });

    expect(removed.map((r) => r.dir).sort()).toEqual([interrupted, interrupted2].sort());
    expect(existsSync(interrupted)).toBe(false);
    expect(existsSync(interrupted2)).toBe(false);
    expect(readFileSync(join(copy, 'eds-config.tar.gz'), 'utf8')).toBe('the only copy of the old configuration');
    expect(readFileSync(join(byHand, 'Configuration', 'appsettings.json'), 'utf8')).toBe('{"keep":"me"}');
    expect(readFileSync(join(byHand, 'data.tar.gz'), 'utf8')).toBe('copied from the old stick');
    expect(readFileSync(join(notes, 'notes.txt'), 'utf8')).toBe('what the site engineer changed');
    expect(existsSync(join(current, 'manifest.json'))).toBe(true);
    expect(readFileSync(join(lostManifest, 'data.tar.gz'), 'utf8')).toBe('a real archive whose manifest.json was lost');
    expect(readFileSync(join(lostManifest, 'artifacts', 'dump', 'db.tar.gz'), 'utf8')).toBe('the product dump');
    // The records of the debris removed are dropped: the state file does not grow with them.
    expect(await readWrittenSets(state)).toEqual([]);
  });
});
