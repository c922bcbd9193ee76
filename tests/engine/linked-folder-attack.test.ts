import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecoveryError } from '../../src-main/engine/errors.js';
import { linkedFolder } from '../../src-main/engine/util/linked-folder.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { runCli } from '../helpers/cli.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { siblingsLike, snapshotTree } from '../helpers/tree-snapshot.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * A product folder that is a link to a data disk (Storage -> /data/eds/Storage) is backed up and restored
 * through the link. The link and the folders on the way to its target are not ours: if another account can
 * change any of them (the service account owns /data/eds), it can point the restore at a folder of its
 * choice (/etc), which the restore would then set aside and replace with a folder that account owns.
 */
const blocked = restoreTestsBlocked() ?? (process.getuid?.() === 0 ? undefined : 'needs root');
const OWNER = 'edge-rt';

/** Runs `node -e script` as the service account (a real unprivileged account, as the races tests do). */
function asOwner(script: string): void {
  const uid = uidForUser(OWNER)!;
  const gid = gidForGroup(OWNER)!;
  execFileSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, '-e', script], {
    stdio: 'inherit',
  });
}

describe.skipIf(blocked !== undefined)(`a linked product folder${blocked ? ` (skipped: ${blocked})` : ''}`, () => {
  let work: string;
  let root: string;
  let dataParent: string;
  let dataDir: string;
  let conf: string;
  let profileFile: string;
  let stateDir: string;
  let setDir: string;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    const uid = uidForUser(OWNER)!;
    const gid = gidForGroup(OWNER)!;
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'linked-folder-attack-'));
    await fsp.chmod(work, 0o755);
    root = path.join(work, 'root');
    stateDir = path.join(work, 'state');
    conf = path.join(root, 'opt/hand/Configuration');
    await fsp.mkdir(conf, { recursive: true });
    await fsp.writeFile(path.join(conf, 'app.json'), '{"from":"old"}\n');
    // The data disk's product folder belongs to the service account (it keeps its data there).
    dataParent = path.join(work, 'data', 'eds');
    dataDir = path.join(dataParent, 'Storage');
    await fsp.mkdir(path.join(dataDir, 'streams'), { recursive: true });
    await fsp.writeFile(path.join(dataDir, 'streams', 'one.dat'), 'data on the data disk\n');
    for (const p of [dataParent, dataDir, path.join(dataDir, 'streams'), path.join(dataDir, 'streams', 'one.dat')]) {
      await fsp.chown(p, uid, gid);
    }
    await fsp.symlink(dataDir, path.join(root, 'opt/hand/Storage'));
    profileFile = path.join(work, 'hand.json');
    await fsp.writeFile(profileFile, JSON.stringify(handProfile({ owner: OWNER })));
    // The backup is made before anything is redirected (and by root, from root's own folders).
    await fsp.chown(dataParent, 0, 0);
    const stick = path.join(work, 'stick');
    const b = await runCli([
      'backup',
      '--profile',
      profileFile,
      '--allow-profile-commands',
      '--root',
      root,
      '--state-dir',
      stateDir,
      '--yes',
      '--to',
      stick,
      '--device-id',
      'hand-box',
    ]);
    expect(b.code, b.stderr).toBe(0);
    await fsp.chown(dataParent, uid, gid);
    const dev = path.join(stick, 'EdgeRecovery', 'hand-box');
    setDir = path.join(dev, (await fsp.readdir(dev)).find((n) => n.startsWith('Backup_'))!);
  }, 120_000);

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('restore refuses (exit 4, nothing changed) when the service account redirected the link target to a root-only folder', async () => {
    // A root-only folder standing in for /etc.
    const victim = path.join(work, 'victim', 'etc');
    await fsp.mkdir(victim, { recursive: true, mode: 0o755 });
    await fsp.writeFile(path.join(victim, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
    const victimBefore = await snapshotTree(victim);
    const confBefore = await snapshotTree(conf);
    // The service account owns /data/eds: it moves its Storage away and puts a link to the victim there.
    asOwner(
      `const fs = require('fs'); fs.renameSync(${JSON.stringify(dataDir)}, ${JSON.stringify(dataDir + '.moved')}); fs.symlinkSync(${JSON.stringify(victim)}, ${JSON.stringify(dataDir)});`,
    );
    try {
      const r = await runCli([
        'restore',
        setDir,
        '--profile',
        profileFile,
        '--allow-profile-commands',
        '--root',
        root,
        '--state-dir',
        path.join(work, 'state-redirected'),
        '--yes',
        '--allow-other-device',
      ]);
      // The victim stays what it was: root's, with its own content, nothing set aside beside it.
      expect((await fsp.lstat(victim)).uid).toBe(0);
      expect(await snapshotTree(victim)).toEqual(victimBefore);
      expect(await siblingsLike(victim)).toEqual([]);
      expect(await snapshotTree(conf)).toEqual(confBefore);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(dataParent);
    } finally {
      // Put the victim back if the restore replaced it (so later tests and the clean-up see the tree as made).
      for (const n of await siblingsLike(victim)) {
        if (n.startsWith('etc.before-restore-')) {
          await fsp.rm(victim, { recursive: true, force: true });
          await fsp.rename(path.join(path.dirname(victim), n), victim);
        }
      }
      await fsp.rm(dataDir, { force: true });
      await fsp.rename(dataDir + '.moved', dataDir);
    }
  });

  it('linkedFolder refuses a link whose target lies in a folder another account can change, and a link to a system folder', async () => {
    const link = path.join(work, 'probe-link');
    await fsp.symlink(dataDir, link);
    // /data/eds belongs to the service account: where the link leads is not root's to decide.
    const e1 = await linkedFolder(link).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isRecoveryError(e1) && e1.code).toBe('UNSAFE_PATH');
    const sys = path.join(work, 'probe-etc');
    await fsp.symlink('/etc', sys);
    const e2 = await linkedFolder(sys).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isRecoveryError(e2) && e2.code).toBe('UNSAFE_PATH');
    // Root's own layout (every folder on the way root's, not writable by others) is followed as before.
    const rootData = path.join(work, 'rootdata', 'Storage');
    await fsp.mkdir(rootData, { recursive: true });
    const ok = path.join(work, 'probe-ok');
    await fsp.symlink(rootData, ok);
    expect(await linkedFolder(ok)).toBe(rootData);
  });
});
