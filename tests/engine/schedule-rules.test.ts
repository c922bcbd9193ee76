import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRetention, vouchedSets, type RetentionCandidate } from '../../src-main/engine/backup/retention.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import { emergencyKitHtml } from '../../src-main/engine/schedule/emergency-kit.js';
import { readPassphraseFile } from '../../src-main/engine/schedule/passphrase-file.js';

const day = 86_400_000;
const now = new Date('2026-11-29T12:00:00Z');
const set = (name: string, daysAgo: number, cls: 'manual' | 'automatic'): RetentionCandidate => ({
  dir: `/stick/EdgeRecovery/box/${name}`,
  createdAt: new Date(now.getTime() - daysAgo * day).toISOString(),
  class: cls,
});

describe('retention by class', () => {
  const sets = [
    set('m1', 1, 'manual'),
    set('m2', 40, 'manual'),
    set('m3', 400, 'manual'),
    set('a1', 0, 'automatic'),
    set('a2', 2, 'automatic'),
    set('a3', 3, 'automatic'),
    set('a4', 200, 'automatic'),
  ];
  const names = (r: { dir: string }[]) => r.map((x) => path.basename(x.dir)).sort();

  it('counts manual and automatic backups apart: keep N manual, automatic by age and count', () => {
    const r = planRetention(
      sets,
      { keepManual: 2, keepAutomatic: 2, maxAgeAutomaticMs: 180 * day },
      { now, current: sets[3]!.dir },
    );
    expect(names(r)).toEqual(['a3', 'a4', 'm3']);
    expect(r.find((x) => x.dir.endsWith('a4'))!.reason).toMatch(/older than 180 days/);
    expect(r.find((x) => x.dir.endsWith('a3'))!.reason).toMatch(/2 newest automatic/);
    expect(r.find((x) => x.dir.endsWith('m3'))!.reason).toMatch(/2 newest manual/);
  });

  it('an automatic schedule never pushes out a manual backup, whatever its age', () => {
    expect(names(planRetention(sets, { keepAutomatic: 1, maxAgeAutomaticMs: day }, { now }))).toEqual([
      'a2',
      'a3',
      'a4',
    ]);
  });

  it('never removes the newest backup or the one just written, even when every rule says so', () => {
    const only = [set('a-old', 500, 'automatic'), set('m-old', 600, 'manual')];
    expect(planRetention(only, { maxAgeAutomaticMs: day, keepManual: 0 as number }, { now })).toEqual([
      expect.objectContaining({ dir: '/stick/EdgeRecovery/box/m-old' }),
    ]);
    // The one just written (m2) is not the newest: the sets dated after it are not counted (see below), so only
    // m3 goes, and m2 stays.
    expect(names(planRetention(sets, { keepManual: 1, keepAutomatic: 1 }, { now, current: sets[1]!.dir }))).toEqual([
      'm3',
    ]);
  });
});

describe('retention and dates it cannot vouch for', () => {
  const sets = [
    set('m-real-1', 2, 'manual'),
    set('m-real-2', 1, 'manual'),
    set('m-new', 0, 'manual'),
    { ...set('m-planted', 0, 'manual'), createdAt: '2099-01-01T00:00:00.000Z' },
    { ...set('m-garbage', 0, 'manual'), createdAt: 'zzzz' },
    { ...set('m-after-new', 0, 'manual'), createdAt: new Date(now.getTime() + 60_000).toISOString() },
  ];
  const current = sets[2]!.dir;

  it('does not count a set dated in the future, after the one just written, or not dated at all', () => {
    const { counted, notCounted } = vouchedSets(sets, { now, current });
    expect(counted.map((s) => path.basename(s.dir)).sort()).toEqual(['m-new', 'm-real-1', 'm-real-2']);
    expect(Object.fromEntries(notCounted.map((s) => [path.basename(s.dir), s.reason]))).toEqual({
      'm-planted': 'not counted: dated in the future',
      'm-garbage': 'not counted: its date is not a date',
      'm-after-new': 'not counted: dated after the backup just written',
    });
  });

  it('keeps the real previous backup: planted sets never push it out, and are never removed', () => {
    expect(planRetention(sets, { keepManual: 2 }, { now, current }).map((r) => path.basename(r.dir))).toEqual([
      'm-real-1',
    ]);
    expect(planRetention(sets, { keepManual: 0 as number }, { now, current }).map((r) => path.basename(r.dir))).toEqual(
      ['m-real-2', 'm-real-1'],
    );
  });
});

describe.skipIf(process.getuid?.() !== 0)('the unattended passphrase file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'passfile-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reads a root-only file (mode 600) and refuses one others can read, a link, or one not owned by root', async () => {
    const f = path.join(dir, 'pass');
    await fsp.writeFile(f, 'correct horse battery staple\n', { mode: 0o600 });
    expect(await readPassphraseFile(f)).toBe('correct horse battery staple');
    await fsp.chmod(f, 0o640);
    await expect(readPassphraseFile(f)).rejects.toThrow(/read or changed by other users \(mode 640\).*|mode 640/);
    await fsp.chmod(f, 0o600);
    const link = path.join(dir, 'link');
    await fsp.symlink(f, link);
    await expect(readPassphraseFile(link)).rejects.toThrow(/symbolic link/);
    await fsp.chown(f, 65534, 65534);
    await expect(readPassphraseFile(f)).rejects.toThrow(/not owned by root/);
    await fsp.chown(f, 0, 0);
    await fsp.writeFile(path.join(dir, 'short'), 'abc', { mode: 0o600 });
    await expect(readPassphraseFile(path.join(dir, 'short'))).rejects.toThrow(/is too short to protect the backup/);
  });
});

describe('emergency kit', () => {
  it('says where the backups are and how to restore, warns that the passphrase is needed, never prints it', async () => {
    const profile = await loadProfile('eds-linux');
    const html = emergencyKitHtml({
      profile,
      deviceId: 'box-1',
      hostname: 'edge<01>',
      backupsAt: '/media/backup',
      schedule: 'systemd: *-*-* 02:30:00',
      passphraseFile: '/root/edge-recovery.pass',
      lastBackup: null,
      now,
    });
    expect(html).toContain('EdgeRecovery/box-1/');
    expect(html).toContain('/media/backup');
    expect(html).toContain('edge&lt;01&gt;');
    expect(html).toMatch(/Without the passphrase nobody can restore them/);
    expect(html).toContain('/root/edge-recovery.pass');
    expect(html).not.toMatch(/<script/i);
  });
});
