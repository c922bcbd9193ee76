import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, openSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { ReportAccess } from '../../src-main/host/report-access.js';
import { isRoot } from '../helpers/datasets.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * The window may show a recovery report (an HTML file in a report folder, or a report-*.html beside a backup set
 * the app listed) and nothing else. The file is opened once, by descriptor, only as a regular file: a FIFO is not
 * waited on, and a name swapped for a link after the checks does not lead the read elsewhere.
 */
const OWNER = 'edge-rt';
const REPORT = '<html><body>the report</body></html>\n';

let work: string;
beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'report-access-'));
  await fsp.chmod(work, 0o755);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('the reports the window may read', () => {
  it('reads a report beside a listed backup set and in a report folder, and nothing else', async () => {
    const stick = path.join(work, 'stick');
    const reports = path.join(work, 'reports');
    await fsp.mkdir(path.join(stick, 'Backup_x'), { recursive: true });
    await fsp.mkdir(reports);
    await fsp.writeFile(path.join(stick, 'report-1.html'), REPORT);
    await fsp.writeFile(path.join(reports, 'any.html'), REPORT);
    await fsp.writeFile(path.join(stick, 'other.html'), REPORT);
    const access = new ReportAccess(() => [reports]);
    access.rememberBackups([path.join(stick, 'Backup_x')]);
    expect(await access.read(path.join(stick, 'report-1.html'))).toBe(REPORT);
    expect(await access.read(path.join(reports, 'any.html'))).toBe(REPORT);
    await expect(access.read(path.join(stick, 'other.html'))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(access.read(path.join(stick, 'report-2.html'))).rejects.toMatchObject({
      code: 'BACKUP_NOT_FOUND',
    });
    await fsp.symlink(path.join(stick, 'other.html'), path.join(stick, 'report-3.html'));
    await expect(access.read(path.join(stick, 'report-3.html'))).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('refuses a FIFO in a report folder at once, without waiting for a writer', async () => {
    const reports = path.join(work, 'fifo-reports');
    await fsp.mkdir(reports);
    const fifo = path.join(reports, 'report.html');
    execFileSync('mkfifo', [fifo]);
    try {
      await expect(new ReportAccess(() => [reports]).read(fifo)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    } finally {
      closeSync(openSync(fifo, fsc.O_RDWR | fsc.O_NONBLOCK)); // lets a reader left waiting (the defect) go
    }
  });

  it.skipIf(!isRoot)(
    'never reads a root-only file when a local user swaps the report for a link to it after it was checked',
    async () => {
      ensureTestOwner(OWNER);
      const [uid, gid] = [uidForUser(OWNER)!, gidForGroup(OWNER)!];
      // A folder the user owns, listed as the place of a backup set (e.g. a stick it can write).
      const mine = path.join(work, 'user');
      await fsp.mkdir(path.join(mine, 'Backup_x'), { recursive: true, mode: 0o755 });
      const report = path.join(mine, 'report-x.html');
      await fsp.writeFile(`${report}.real`, REPORT);
      await fsp.copyFile(`${report}.real`, report);
      for (const f of [mine, report, `${report}.real`]) await fsp.chown(f, uid, gid);
      const secretDir = path.join(work, 'root-only');
      await fsp.mkdir(secretDir, { mode: 0o700 });
      const secret = path.join(secretDir, 'shadow');
      await fsp.writeFile(secret, 'root:$6$secret:19000:0:99999:7:::\n', { mode: 0o600 });
      const access = new ReportAccess(() => []);
      access.rememberBackups([path.join(mine, 'Backup_x')]);

      const stop = path.join(work, 'stop');
      const racer = racerAsync(OWNER, ['flip-file', report, secret, stop, '150']);
      const seen = { read: 0, refused: 0, leaked: 0 };
      const ROUNDS = 300;
      try {
        const until = Date.now() + 90_000;
        while ((seen.read < ROUNDS || seen.refused < ROUNDS) && seen.leaked === 0 && Date.now() < until) {
          const text = await access.read(report).catch((e: unknown) => e);
          if (text === REPORT) seen.read++;
          else if ((text as { code?: string }).code === 'BAD_INPUT') seen.refused++;
          else if (typeof text === 'string' && text.includes('$6$secret')) seen.leaked++;
          else throw new Error(`unexpected: ${String(text)}`);
        }
      } finally {
        await fsp.writeFile(stop, '');
        await racer;
      }
      expect(seen.leaked, 'the root-only file was read through the swapped link').toBe(0);
      expect(seen.read, 'the report was read while the name flipped').toBeGreaterThanOrEqual(ROUNDS);
      expect(seen.refused, 'the link was refused while the name flipped').toBeGreaterThanOrEqual(ROUNDS);
    },
  );
});
