import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport, utcStamp, type ReportData } from '../../src-main/engine/report/index.js';
import { writeFileAtomic } from '../../src-main/engine/util/atomic-fs.js';
import { runCli } from '../helpers/cli.js';

/** A stick prepared by an attacker who controls every byte on it (so every hash matches). */
const base: ReportData = {
  kind: 'restore',
  ok: true,
  toolVersion: '0.1.0',
  profile: { id: 'eds-linux', productName: 'AVEVA Edge Data Store' },
  hostname: 'new-box',
  deviceId: 'new-box-1',
  sourceDeviceId: 'old-box-1',
  backupPath: '/media/stick/EdgeRecovery/old-box-1/Backup_eds-linux_20261121_2215Z',
  startedAt: '2026-11-21T22:10:00.000Z',
  finishedAt: '2026-11-21T22:15:30.250Z',
  versions: {},
  steps: [],
  files: 1,
  contentBytes: 1,
  ownershipCheck: { checked: 0, mismatches: [] },
  credentialsReentered: [],
  notes: [],
};

let work: string;
beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-hostile-stick-'));
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('files written where a stick holds planted links', () => {
  it('writes no report through links planted for every second of the expected finish time', async () => {
    const stick = path.join(work, 'stick');
    const local = path.join(work, 'local');
    await fsp.mkdir(stick);
    const victim = path.join(work, 'root-only-secret');
    await fsp.writeFile(victim, 'secret\n', { mode: 0o600 });
    const finish = Date.parse(base.finishedAt);
    const made: string[] = [];
    for (let s = -60; s <= 60; s++) {
      const b = `report-restore-${utcStamp(new Date(finish + s * 1000).toISOString())}`;
      // The old writer opened `<name>.partial` with 'w' (following links), then renamed it.
      for (const n of [`${b}.json.partial`, `${b}.json`]) await fsp.symlink(victim, path.join(stick, n));
      const created = path.join(work, `created-${s + 60}`);
      made.push(created);
      for (const n of [`${b}.html.partial`, `${b}.html`]) await fsp.symlink(created, path.join(stick, n));
    }
    const before = (await fsp.readdir(stick)).sort();
    const err = await writeReport(base, [stick, local]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNSAFE_PATH' });
    expect((err as Error).message).toContain(stick);
    // The other folder still got its report; the stick and what its links point at are untouched.
    expect((await fsp.readdir(local)).filter((n) => n.startsWith('report-restore-'))).toHaveLength(2);
    expect(await fsp.readFile(victim, 'utf8')).toBe('secret\n');
    expect((await fsp.stat(victim)).mode & 0o777).toBe(0o600);
    for (const m of made) expect(existsSync(m)).toBe(false);
    expect((await fsp.readdir(stick)).sort()).toEqual(before);
  });

  it('refuses to write into a folder that is a link, and never follows a link at the file name', async () => {
    const real = path.join(work, 'elsewhere');
    await fsp.mkdir(real);
    const linked = path.join(work, 'linked-folder');
    await fsp.symlink(real, linked);
    await expect(writeFileAtomic(path.join(linked, 'manifest.json'), '{}', 0o600)).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
    });
    expect(await fsp.readdir(real)).toEqual([]);
    const dir = path.join(work, 'plain');
    await fsp.mkdir(dir);
    const victim = path.join(work, 'victim-2');
    await fsp.writeFile(victim, 'keep');
    await fsp.symlink(victim, path.join(dir, 'SHA256SUMS'));
    await fsp.symlink(victim, path.join(dir, 'SHA256SUMS.partial'));
    await expect(writeFileAtomic(path.join(dir, 'SHA256SUMS'), 'x', 0o600)).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
    });
    expect(await fsp.readFile(victim, 'utf8')).toBe('keep');
    await writeFileAtomic(path.join(dir, 'RESTORE.txt'), 'how to', 0o600);
    expect((await fsp.stat(path.join(dir, 'RESTORE.txt'))).mode & 0o777).toBe(0o600);
    expect((await fsp.readdir(dir)).sort()).toEqual(['RESTORE.txt', 'SHA256SUMS', 'SHA256SUMS.partial']);
  });

  it('keeps a device id and host name with newlines and escapes on one line of the report files, 0600', async () => {
    const injected = 'root2::0:0:root:/root:/bin/sh';
    const data: ReportData = {
      ...base,
      sourceDeviceId: `old-box\n${injected}\n`,
      hostname: 'box\u001b]0;owned\u0007\u001b[2J',
      backupPath: `/media/stick/\u009b31m/x\u202e`,
    };
    const dir = path.join(work, 'newline-report');
    const files = await writeReport(data, [dir]);
    for (const f of files) {
      const text = await fsp.readFile(f, 'utf8');
      expect(text.split('\n')).not.toContain(injected);
      // eslint-disable-next-line no-control-regex
      expect(text).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
      expect((await fsp.stat(f)).mode & 0o777).toBe(0o600);
    }
  });
});

describe('text from a stick on the terminal', () => {
  it('list prints no control characters from a manifest (host name, device id)', async () => {
    const set = path.join(work, 'list-stick', 'EdgeRecovery', 'old-box', 'Backup_eds-linux_20261121_2215Z');
    await fsp.mkdir(set, { recursive: true });
    const data = Buffer.from('not really a tar');
    await fsp.writeFile(path.join(set, 'data.tar.gz'), data);
    const manifest = {
      format: 'edge-recovery-backup',
      formatVersion: 1,
      tool: { name: 'edge-recovery', version: '0.1.0' },
      profile: { id: 'eds-linux\u001b[31m', productName: 'EDS', platform: 'linux' },
      productVersion: '1.1\u001b]0;title\u0007',
      deviceId: 'old-box\u001b[2J\u001b[H',
      hostname: 'host\nFAKE LINE: restore OK\r',
      createdAt: '2026-11-21T22:15:00.000Z',
      items: [{ id: 'Configuration', path: '/usr/share/OSIsoft/EDS/Configuration', files: 1, contentBytes: 1 }],
      owner: null,
      ownersSeen: [],
      files: 1,
      dirs: 1,
      symlinks: 0,
      contentBytes: 1,
      archive: {
        compression: 'gzip',
        encryption: null,
        innerManifest: '.edge-recovery/files.jsonl',
        parts: [{ name: 'data.tar.gz', size: data.length, sha256: createHash('sha256').update(data).digest('hex') }],
      },
      skipped: [],
    };
    await fsp.writeFile(path.join(set, 'manifest.json'), JSON.stringify(manifest));
    const r = await runCli(['list', path.join(work, 'list-stick')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('old-box');
    // eslint-disable-next-line no-control-regex
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(r.stdout.split('\n').some((l) => l.startsWith('FAKE LINE'))).toBe(false);
  });
});
