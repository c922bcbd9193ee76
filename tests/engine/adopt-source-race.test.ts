import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptArchiveJob } from '../../src-main/engine/archive/adopt.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { watchOpens } from '../helpers/open-watch.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * A hand-made archive (`adopt <archive>`, `restore <archive>`: a product's backup zip, a tar.gz made by hand) sits
 * where the technician found it: on a stick mounted for the desktop user (vfat: every file that user's), in a
 * download folder. The job judged the name with stat, then opened it by name three times (its first bytes for the
 * format, its data, its own hash), as root: whoever can write the folder swapped in a device node between the stat
 * and an open (a watchdog starts on open; a FIFO held the job forever in a synchronous open). It is now opened once,
 * as the regular file it was judged to be (openRegularFileSync), and every read is of that descriptor. A real
 * account flips a link in the path between a folder holding the archive and one holding a device node of the same
 * name; inotify (IN_OPEN) says whether the device was ever opened.
 */
const OWNER = 'edge-rt';
const ROUNDS = 200;
const GIVE_UP_MS = 90_000;

let work = '';
beforeAll(async () => {
  if (!isRoot) return;
  ensureTestOwner(OWNER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'adopt-source-race-'));
  await fsp.chmod(work, 0o755);
});
afterAll(async () => {
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('a hand-made archive swapped for a device by a local user', () => {
  for (const format of ['tar.gz', 'zip'] as const) {
    it(`adopting a ${format} never opens the device`, async () => {
      const name = `product-backup.${format}`;
      const dir = path.join(work, format);
      const src = path.join(dir, 'src');
      const real = path.join(dir, 'real');
      const devs = path.join(dir, 'devs');
      const mine = path.join(dir, 'user');
      for (const d of [dir, path.join(src, 'Configuration'), real, devs, mine]) await fsp.mkdir(d, { recursive: true });
      await fsp.writeFile(path.join(src, 'Configuration', 'app.json'), '{"a":1}\n');
      if (format === 'zip') execFileSync('zip', ['-qr', path.join(real, name), 'Configuration'], { cwd: src });
      else execFileSync('tar', ['-czf', path.join(real, name), '-C', src, 'Configuration']);
      const node = path.join(devs, name);
      execFileSync('mknod', ['-m', '600', node, 'c', '1', '3']);
      await fsp.chown(mine, uidForUser(OWNER)!, gidForGroup(OWNER)!);
      const link = path.join(mine, 'stick');
      await fsp.symlink(real, link);
      const stop = path.join(dir, 'stop');
      const watch = await watchOpens([node], path.join(dir, 'sentinel'));
      const racer = racerAsync(OWNER, ['flip-link', link, real, devs, stop, String(GIVE_UP_MS / 1000 + 30)]);
      const seen = { read: 0, refused: 0 };
      const odd: string[] = [];
      try {
        const until = Date.now() + GIVE_UP_MS;
        while ((seen.read < ROUNDS || seen.refused < ROUNDS) && !watch.saw(node) && Date.now() < until) {
          try {
            const r = await adoptArchiveJob(
              { source: path.join(link, name), items: [{ id: 'Configuration', parents: ['opt', 'p'] }] },
              { progress: () => undefined, willCreate: () => undefined },
            );
            if (r.files === 1) seen.read++;
            else odd.push(`read ${r.files} files`);
          } catch (e) {
            if (/is not a file \(it is a character device\)/.test((e as Error).message)) seen.refused++;
            else odd.push((e as Error).message);
          }
          await new Promise((resolve) => setImmediate(resolve)); // lets the watcher's news in
        }
      } finally {
        await fsp.writeFile(stop, '');
        await racer;
        await watch.settle();
        watch.stop();
      }
      expect({ deviceOpened: watch.saw(node), odd: odd.slice(0, 3) }).toEqual({ deviceOpened: false, odd: [] });
      expect(seen.read, 'the archive was read while the link flipped').toBeGreaterThanOrEqual(ROUNDS);
      expect(seen.refused, 'the device was refused while the link flipped').toBeGreaterThanOrEqual(ROUNDS);
    }, 150_000);
  }
});
