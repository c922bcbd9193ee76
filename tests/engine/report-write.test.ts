import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecoveryError } from '../../src-main/engine/errors.js';
import { buildReport, writeReport, type ReportData } from '../../src-main/engine/report/index.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests } from '../helpers/loop-device.js';

const data: ReportData = {
  kind: 'backup',
  ok: true,
  toolVersion: '0.1.0',
  profile: { id: 'eds-linux', productName: 'AVEVA Edge Data Store' },
  hostname: 'eds-edge01',
  deviceId: 'eds-edge01-1a2b3c4d',
  sourceDeviceId: 'eds-edge01-1a2b3c4d',
  backupPath: '/media/stick/EdgeRecovery/eds-edge01-1a2b3c4d/Backup_eds-linux_20261121_2215Z',
  startedAt: '2026-11-21T22:10:00.000Z',
  finishedAt: '2026-11-21T22:15:30.250Z',
  versions: { backup: '1.1.2' },
  steps: [
    { id: 'archive', title: 'Write the archive', explain: 'tar, gzip, split.', destructive: false, state: 'done' },
  ],
  files: 10,
  contentBytes: 2048,
  ownershipCheck: { checked: 0, mismatches: [] },
  credentialsReentered: [],
  notes: [],
};

async function listing(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}

describe('writeReport', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-report-'));
  });
  afterAll(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('writes the JSON and HTML report, named by kind and UTC finish time, into every folder', async () => {
    const stick = path.join(tmp, 'a', 'stick folder');
    const local = path.join(tmp, 'a', 'var-log');
    const written = await writeReport(data, [stick, local]);
    expect(written).toEqual([
      path.join(stick, 'report-backup-20261121_221530Z.json'),
      path.join(stick, 'report-backup-20261121_221530Z.html'),
      path.join(local, 'report-backup-20261121_221530Z.json'),
      path.join(local, 'report-backup-20261121_221530Z.html'),
    ]);
    const { json, html } = buildReport(data);
    expect(await fsp.readFile(written[0]!, 'utf8')).toBe(json);
    expect(await fsp.readFile(written[1]!, 'utf8')).toBe(html);
    expect(await listing(stick)).toEqual([
      'report-backup-20261121_221530Z.html',
      'report-backup-20261121_221530Z.json',
    ]);
  });

  it('never overwrites an earlier report finished in the same second', async () => {
    const dir = path.join(tmp, 'b');
    const first = await writeReport(data, [dir]);
    const second = await writeReport({ ...data, ok: false }, [dir]);
    expect(second).toEqual([
      path.join(dir, 'report-backup-20261121_221530Z-2.json'),
      path.join(dir, 'report-backup-20261121_221530Z-2.html'),
    ]);
    expect(JSON.parse(await fsp.readFile(first[0]!, 'utf8')).ok).toBe(true);
    expect(JSON.parse(await fsp.readFile(second[0]!, 'utf8')).ok).toBe(false);
  });

  it('still writes to the folders it can, then says which one failed', async () => {
    const good = path.join(tmp, 'c', 'good');
    const blocker = path.join(tmp, 'c', 'a-file');
    await fsp.mkdir(path.dirname(blocker), { recursive: true });
    await fsp.writeFile(blocker, 'x');
    const err = await writeReport(data, [path.join(blocker, 'sub'), good]).catch((e: unknown) => e);
    expect(isRecoveryError(err)).toBe(true);
    if (!isRecoveryError(err)) return;
    expect(err.message).toContain(path.join(blocker, 'sub'));
    expect(err.details?.written).toEqual([
      path.join(good, 'report-backup-20261121_221530Z.json'),
      path.join(good, 'report-backup-20261121_221530Z.html'),
    ]);
    expect(await listing(good)).toHaveLength(2);
  });

  it('refuses an empty folder list', async () => {
    await expect(writeReport(data, [])).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it.skipIf(skipLoopTests)(
    `reports a full stick as MEDIUM_FULL and leaves no partial file${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
    async () => {
      const stick = await createLoopMount(8);
      try {
        const filler = await fsp.open(path.join(stick.mountpoint, 'filler'), 'w');
        try {
          // Smaller and smaller writes until not even one byte fits.
          for (const size of [64 * 1024, 4096, 512, 1]) {
            const chunk = Buffer.alloc(size, 7);
            try {
              for (;;) await filler.write(chunk);
            } catch (e) {
              expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
            }
          }
        } finally {
          await filler.close();
        }
        const err = await writeReport(data, [stick.mountpoint]).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'MEDIUM_FULL' });
        expect(await listing(stick.mountpoint)).toEqual(['filler', 'lost+found']);
      } finally {
        await stick.cleanup();
      }
    },
  );
});
