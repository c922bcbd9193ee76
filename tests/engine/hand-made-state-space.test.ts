import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

/**
 * A restore of a hand-made archive first copies it, as a set of its own, into the state folder
 * (`<state>/restores/<id>/adopted`, /var/lib/edge-recovery: the system disk, where the product usually keeps its
 * data too), while the product still runs. Nothing checked the room for that copy: a large archive filled the
 * disk under the running product before the restore failed with "no space left". The staging copies are
 * checked before they are written; the adopted copy must be too.
 * The state folder here is a real 16 MiB ext4 (loop mount); the archive holds 24 MB of random data.
 */
let work: string;
let state: LoopMount;
let archive: string;

beforeAll(async () => {
  if (skipLoopTests) return;
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-state-space-'));
  const src = path.join(work, 'src');
  await fsp.mkdir(path.join(src, 'Configuration'), { recursive: true });
  await fsp.mkdir(path.join(src, 'Storage'), { recursive: true });
  await fsp.writeFile(path.join(src, 'Configuration', 'app.json'), '{}');
  for (let i = 0; i < 3; i++) await fsp.writeFile(path.join(src, 'Storage', `s${i}.bin`), randomBytes(8_000_000));
  archive = path.join(work, 'hand.tar.gz');
  execFileSync('tar', ['-C', src, '-czf', archive, 'Configuration', 'Storage']);
  const root = path.join(work, 'root');
  for (const d of ['Configuration', 'Storage']) await fsp.mkdir(path.join(root, 'opt/hand', d), { recursive: true });
  await fsp.writeFile(path.join(root, 'opt/hand/Storage/live.dat'), 'the running product writes here');
  await fsp.writeFile(path.join(work, 'hand.json'), JSON.stringify(handProfile()));
  state = await createLoopMount(16, { name: 'state' });
}, 120_000);
afterAll(async () => {
  if (skipLoopTests) return;
  await state?.cleanup();
  await fsp.rm(work, { recursive: true, force: true });
});

describe.skipIf(skipLoopTests)(
  `a hand-made restore and the state folder's free space${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    it('is refused before the copy is written (exit 4) when the state folder cannot hold it', async () => {
      const before = (await fsp.statfs(state.mountpoint)).bavail;
      const r = await runCli(
        [
          'restore',
          archive,
          '--profile',
          path.join(work, 'hand.json'),
          '--root',
          path.join(work, 'root'),
          '--state-dir',
          state.mountpoint,
          '--yes',
        ],
        { env: { EDGE_RECOVERY_PDF: 'off' } },
      );
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toMatch(/free/);
      // Nothing of the copy was written: the state disk has (about) the room it had.
      const after = (await fsp.statfs(state.mountpoint)).bavail;
      expect(before - after).toBeLessThan(64);
      expect(await fsp.readFile(path.join(work, 'root/opt/hand/Storage/live.dat'), 'utf8')).toBe(
        'the running product writes here',
      );
    });
  },
);
