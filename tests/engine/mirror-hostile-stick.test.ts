import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { handBackupInto } from '../helpers/hand-product.js';

/**
 * `mirror` copies backups onto a stick. A stick is someone else's filesystem: `EdgeRecovery/<device>` on it may be
 * a link to any folder of this machine (/etc/cron.d, /root/.ssh …). The backup refuses such a stick; mirror
 * followed the link and wrote (as root) copies of the backups there, and its pruning then deleted older sets in
 * that folder. Refused now (exit 4), nothing written.
 */
describe('mirror onto a stick with planted links', () => {
  let work: string;
  let from: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'mirror-hostile-'));
    from = path.join(work, 'from');
    const b = await handBackupInto(work, from, { name: 'a.json', data: '{"a":1}\n' });
    expect(b.code, b.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  for (const planted of ['EdgeRecovery', 'EdgeRecovery/hand-box'] as const) {
    it(`refuses (exit 4) a stick whose ${planted} is a link, and writes nothing where it leads`, async () => {
      const victim = path.join(work, `victim-${planted.replace('/', '-')}`);
      await fsp.mkdir(victim);
      const stick = path.join(work, `stick-${planted.replace('/', '-')}`);
      await fsp.mkdir(path.join(stick, path.dirname(planted)), { recursive: true });
      await fsp.symlink(victim, path.join(stick, planted));
      const r = await runCli([
        'mirror',
        '--from',
        from,
        '--to',
        stick,
        '--keep',
        '1',
        '--state-dir',
        path.join(work, `state-${planted.replace('/', '-')}`),
      ]);
      expect(await fsp.readdir(victim)).toEqual([]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/is a link/);
    });
  }
});
