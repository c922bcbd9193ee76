import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * Profile folders never overlap as written (the profile rules refuse it), but a folder that is a link can lead
 * inside another one (Storage -> …/Configuration/Storage). The backup archived that data twice and reported
 * success; no restore can put both copies back (it fails at the swap, after the stop). Refused before the stop.
 */
describe('a backup whose folders overlap through a link', () => {
  let work: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'overlapping-backup-'));
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('is refused in the pre-checks (exit 4), before the service is stopped, with no set on the stick', async () => {
    const root = path.join(work, 'root');
    const conf = path.join(root, 'opt/hand/Configuration');
    await fsp.mkdir(path.join(conf, 'Storage'), { recursive: true });
    await fsp.writeFile(path.join(conf, 'c.json'), '{}\n');
    await fsp.writeFile(path.join(conf, 'Storage', 's.dat'), 'data\n');
    await fsp.symlink(path.join(conf, 'Storage'), path.join(root, 'opt/hand/Storage'));
    const profile = path.join(work, 'hand.json');
    await fsp.writeFile(profile, JSON.stringify(handProfile()));
    const stick = path.join(work, 'stick');
    const r = await runCli([
      'backup',
      '--profile',
      profile,
      '--allow-profile-commands',
      '--root',
      root,
      '--to',
      stick,
      '--device-id',
      'hand-box',
      '--state-dir',
      path.join(work, 'state'),
      '--yes',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(4);
    const events = jsonEvents(r.stdout);
    const error = events.find((e) => e.type === 'error') as { error?: { message?: string } } | undefined;
    expect(error?.error?.message ?? JSON.stringify(events.at(-1))).toMatch(/Storage .* inside Configuration/);
    expect(
      events.some(
        (e) =>
          e.type === 'step' &&
          (e.step as { id: string }).id === 'stop-service' &&
          (e.step as { state: string }).state === 'done',
      ),
    ).toBe(false);
    const sets = await fsp.readdir(path.join(stick, 'EdgeRecovery', 'hand-box')).catch(() => [] as string[]);
    expect(sets.filter((n) => n.startsWith('Backup_'))).toEqual([]);
  });
});
