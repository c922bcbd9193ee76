import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * Linux names are bytes: a product folder may hold a file named in ISO-8859-1 (`caf\xE9.json`, from an old tool or
 * a zip unpacked without its code page). Node reads it as `caf\uFFFD.json` and cannot open it by that name: the
 * pre-check walk skipped it silently, and the archive step (after the stop) failed with "…caf?.json disappeared
 * while it was being backed up — make sure the service is stopped", which is wrong advice: no backup could ever be
 * made. Now the pre-check names it and says how to fix it, before the stop (exit 4). A name with a real U+FFFD
 * character (valid UTF-8) is backed up as before.
 */
describe('a product folder holding a name that is not UTF-8', () => {
  let work: string;
  let root: string;
  let profile: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'non-utf8-'));
    root = path.join(work, 'root');
    const conf = path.join(root, 'opt/hand/Configuration');
    await fsp.mkdir(path.join(conf, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(conf, 'ok.json'), '{}\n');
    profile = path.join(work, 'hand.json');
    await fsp.writeFile(profile, JSON.stringify(handProfile({ items: ['Configuration'] })));
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  const backup = (stick: string) =>
    runCli([
      'backup',
      '--profile',
      profile,
      '--allow-profile-commands',
      '--root',
      root,
      '--to',
      path.join(work, stick),
      '--device-id',
      'hand-box',
      '--state-dir',
      path.join(work, 'state'),
      '--yes',
      '--json',
    ]);

  it('is named in the pre-checks (exit 4) with its bytes, before the stop, and nothing is written', async () => {
    // "café.json" in ISO-8859-1, inside a sub-folder.
    const raw = Buffer.concat([
      Buffer.from(path.join(root, 'opt/hand/Configuration/sub/caf')),
      Buffer.from([0xe9]),
      Buffer.from('.json'),
    ]);
    await fsp.writeFile(raw, '{"latin1":true}\n');
    try {
      const r = await backup('stick-bad');
      const events = jsonEvents(r.stdout);
      const error = events.find((e) => e.type === 'error') as
        | { error?: { message?: string; hint?: string } }
        | undefined;
      expect(error?.error?.message, r.stderr).toContain('Configuration/sub/caf\\xE9.json');
      expect(error?.error?.message).toMatch(/not UTF-8/);
      expect(error?.error?.hint).toMatch(/convmv/);
      expect(
        events.some(
          (e) =>
            e.type === 'step' &&
            (e.step as { id: string }).id === 'stop-service' &&
            (e.step as { state: string }).state === 'done',
        ),
      ).toBe(false);
      expect(r.code, r.stderr).toBe(4);
      const sets = await fsp
        .readdir(path.join(work, 'stick-bad', 'EdgeRecovery', 'hand-box'))
        .catch(() => [] as string[]);
      expect(sets.filter((n) => n.startsWith('Backup_'))).toEqual([]);
    } finally {
      await fsp.rm(raw, { force: true });
    }
  });

  it('backs up a name that holds a real U+FFFD character (valid UTF-8) as before', async () => {
    const odd = path.join(root, 'opt/hand/Configuration/sub/replacement-\ufffd-char.json');
    await fsp.writeFile(odd, '{}\n');
    try {
      const r = await backup('stick-ok');
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await fsp.rm(odd, { force: true });
    }
  });
});
