import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { snapshotTree } from '../helpers/tree-snapshot.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * The machine being restored has Storage as a link leading inside Configuration (Storage -> …/Configuration/Storage),
 * while the backup was made where they were separate folders. The restore's plan follows the link
 * (run-restore.ts, linkedFolder); without a check that the resolved targets overlap it unpacked, stopped the
 * service, set Configuration aside (which carried Storage's target with it), and only then failed at the swap
 * ("The staging folder …/Configuration/.edge-recovery-…/Storage is missing"), rolled back and exited 6. It is
 * refused when the plan is made (exit 4), before anything is unpacked or stopped, like the backup.
 */
describe('a restore onto folders that overlap through a link', () => {
  let work: string;
  let root: string;
  let profile: string;
  let setDir: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'overlapping-restore-'));
    root = path.join(work, 'root');
    const conf = path.join(root, 'opt/hand/Configuration');
    const data = path.join(root, 'data/Storage');
    await fsp.mkdir(conf, { recursive: true });
    await fsp.mkdir(data, { recursive: true });
    await fsp.writeFile(path.join(conf, 'c.json'), '{"from":"backup"}\n');
    await fsp.writeFile(path.join(data, 's.dat'), 'backup data\n');
    await fsp.symlink(data, path.join(root, 'opt/hand/Storage'));
    profile = path.join(work, 'hand.json');
    await fsp.writeFile(profile, JSON.stringify(handProfile()));
    const stick = path.join(work, 'stick');
    const b = await runCli([
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
      path.join(work, 'state-backup'),
      '--yes',
    ]);
    expect(b.code, b.stderr).toBe(0);
    const dev = path.join(stick, 'EdgeRecovery', 'hand-box');
    setDir = path.join(dev, (await fsp.readdir(dev)).find((n) => n.startsWith('Backup_'))!);
    // This machine's layout: Storage's link now leads inside Configuration.
    await fsp.rm(path.join(root, 'opt/hand/Storage'));
    await fsp.mkdir(path.join(conf, 'Storage'));
    await fsp.writeFile(path.join(conf, 'Storage', 's.dat'), 'this machine\n');
    await fsp.symlink(path.join(conf, 'Storage'), path.join(root, 'opt/hand/Storage'));
  }, 120_000);

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  // The resolved targets are checked for overlap when the plan is made (run-restore.ts, startRestore).
  it('is refused before the service is stopped (exit 4), with the folders untouched', async () => {
    const conf = path.join(root, 'opt/hand/Configuration');
    const before = await snapshotTree(conf);
    const r = await runCli([
      'restore',
      setDir,
      '--profile',
      profile,
      '--allow-profile-commands',
      '--root',
      root,
      '--state-dir',
      path.join(work, 'state-restore'),
      '--yes',
      '--keep-defaults',
      '--allow-other-device',
      '--json',
    ]);
    // What holds today too: the rollback leaves the machine as it was.
    expect(await snapshotTree(conf)).toEqual(before);
    const events = jsonEvents(r.stdout);
    const stopped = events.some(
      (e) =>
        e.type === 'step' &&
        (e.step as { id: string }).id === 'stop-service' &&
        (e.step as { state: string }).state === 'done',
    );
    expect(stopped, 'the service was stopped for a plan that cannot work').toBe(false);
    expect(r.code, r.stderr).toBe(4);
  });
});
