import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackupSet } from '../../src-main/engine/backup/manifest.js';
import { readJournal } from '../../src-main/engine/restore/journal.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { createLoopMount, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { siblingsLike, snapshotTree } from '../helpers/tree-snapshot.js';
import { shAs } from '../helpers/as-account.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * Real install layouts: a product with no service manager (stopped and started by hand, confirmed with
 * --yes) and a Storage folder that is a symlink to a data disk (a real, loop-mounted ext4).
 */
const blocked = restoreTestsBlocked() ?? (skipLoopTests ? 'loop mounts are not available here' : undefined);
const OWNER = 'edge-rt';

describe.skipIf(blocked !== undefined)(`field layouts${blocked ? ` (skipped: ${blocked})` : ''}`, () => {
  let work: string;
  let root: string;
  let disk: LoopMount;
  let dataDir: string;
  let link: string;
  let conf: string;
  let profileFile: string;
  let stateDir: string;
  let stick: string;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'field-layouts-'));
    root = path.join(work, 'root');
    stateDir = path.join(work, 'state');
    stick = path.join(work, 'stick');
    disk = await createLoopMount(64, { name: 'DATA' });
    dataDir = path.join(disk.mountpoint, 'eds', 'Storage');
    await fsp.mkdir(path.join(dataDir, 'streams'), { recursive: true });
    await fsp.writeFile(path.join(dataDir, 'streams', 'one.dat'), 'data on the data disk\n');
    conf = path.join(root, 'opt/hand/Configuration');
    await fsp.mkdir(conf, { recursive: true });
    await fsp.writeFile(path.join(conf, 'app.json'), '{"from":"old"}\n');
    link = path.join(root, 'opt/hand/Storage');
    await fsp.symlink(dataDir, link);
    profileFile = path.join(work, 'hand.json');
    await fsp.writeFile(profileFile, JSON.stringify(handProfile({ owner: OWNER })));
  });

  afterAll(async () => {
    await disk?.cleanup();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  const common = () => [
    '--profile',
    profileFile,
    '--allow-profile-commands',
    '--root',
    root,
    '--state-dir',
    stateDir,
    '--yes',
  ];
  const backup = (...extra: string[]) =>
    runCli(['backup', ...common(), '--to', stick, '--device-id', 'hand-box', ...extra]);
  const sets = async () =>
    (await fsp.readdir(path.join(stick, 'EdgeRecovery', 'hand-box')).catch(() => [] as string[]))
      .filter((n) => n.startsWith('Backup_'))
      .sort()
      .map((n) => path.join(stick, 'EdgeRecovery', 'hand-box', n));

  let setDir: string;

  it('backs up through the link with manager "none": "stopped by hand (confirmed)", the manifest records the link', async () => {
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Stopped by hand (confirmed by the technician)');
    expect(r.stderr).toContain('Started again by hand (confirmed by the technician)');
    expect(r.stderr).not.toContain('The service has stopped');
    setDir = (await sets())[0]!;
    const { manifest } = await readBackupSet(setDir);
    const storage = manifest.items.find((i) => i.id === 'Storage')!;
    expect(storage.path).toBe('/opt/hand/Storage');
    expect(storage.linkedTo).toBe(dataDir);
    expect(storage.files).toBe(1);
  });

  it('restores into the link target on the data disk and keeps the link (manager "none", --yes)', async () => {
    // The machine's current state: other data in both folders.
    await fsp.writeFile(path.join(dataDir, 'streams', 'one.dat'), 'newer defaults\n');
    await fsp.writeFile(path.join(conf, 'app.json'), '{"from":"defaults"}\n');
    const r = await runCli(['restore', setDir, ...common(), '--allow-other-device']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('stopped by hand (confirmed by the technician)');
    expect(r.stderr).toContain(`through the link ${link}, which is kept`);
    expect((await fsp.lstat(link)).isSymbolicLink()).toBe(true);
    expect(await fsp.readlink(link)).toBe(dataDir);
    expect(await fsp.readFile(path.join(dataDir, 'streams', 'one.dat'), 'utf8')).toBe('data on the data disk\n');
    expect(await fsp.readFile(path.join(conf, 'app.json'), 'utf8')).toBe('{"from":"old"}\n');
    expect((await snapshotTree(dataDir))['streams/one.dat']?.owner).toBe(`${OWNER}:${OWNER}`);
    // Nothing was left beside the link on the system disk; the old folder (kept: --yes does not delete it) is beside
    // the target on the data disk, and "finish" deletes it from there.
    expect(await siblingsLike(link)).toEqual([]);
    expect(await siblingsLike(dataDir)).toEqual([expect.stringMatching(/^Storage\.before-restore-/)]);
    // The journal names each set-aside folder by its identity too: "finish" deletes that folder, no other.
    const journal = (await readJournal(stateDir))!;
    for (const i of journal.items.filter((x) => x.hadOriginal)) {
      const st = lstatSync(i.setAside, { bigint: true });
      expect(i.setAsideId, i.setAside).toEqual({ dev: String(st.dev), ino: String(st.ino) });
    }
    const f = await runCli(['finish', '--state-dir', stateDir, '--yes']);
    expect(f.code, f.stderr).toBe(0);
    expect(await siblingsLike(link)).toEqual([]);
    expect(await siblingsLike(dataDir)).toEqual([]);
  });

  it('rolls back a killed restore with manager "none" and --yes: the folders as before, the link kept', async () => {
    await fsp.writeFile(path.join(dataDir, 'streams', 'one.dat'), 'state before\n');
    const before = { conf: await snapshotTree(conf), data: await snapshotTree(dataDir) };
    const killed = await runCli(['restore', setDir, ...common(), '--allow-other-device'], {
      env: { EDGE_RECOVERY_CRASH_AT: 'renamed:move-in:Storage' },
    });
    expect(killed.signal).toBe('SIGKILL');
    // The set-aside folder is on the data disk, beside the target (renames never cross disks).
    expect((await siblingsLike(dataDir)).some((n) => n.startsWith('Storage.before-restore-'))).toBe(true);
    const rb = await runCli(['rollback', '--state-dir', stateDir, '--yes']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).toContain('stopped by hand (confirmed by the technician)');
    expect(rb.stderr).toContain('started again by hand (confirmed by the technician)');
    expect(await snapshotTree(conf)).toEqual(before.conf);
    expect(await snapshotTree(dataDir)).toEqual(before.data);
    expect((await fsp.lstat(link)).isSymbolicLink()).toBe(true);
    expect(await siblingsLike(dataDir)).toEqual([]);
  });

  it('resumes a killed restore with manager "none" and --yes', async () => {
    const killed = await runCli(['restore', setDir, ...common(), '--allow-other-device'], {
      env: { EDGE_RECOVERY_CRASH_AT: 'extract:done' },
    });
    expect(killed.signal).toBe('SIGKILL');
    const r = await runCli(['resume', '--state-dir', stateDir, '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(dataDir, 'streams', 'one.dat'), 'utf8')).toBe('data on the data disk\n');
  });

  it("rolls back only the folder it moved in, not a root folder the product's account renamed to the target's name", async () => {
    const beside = path.dirname(conf);
    const rootOwn = path.join(beside, 'licence');
    await fsp.mkdir(rootOwn, { mode: 0o755 });
    await fsp.writeFile(path.join(rootOwn, 'key'), 'root only\n', { mode: 0o644 });
    const killed = await runCli(['restore', setDir, ...common(), '--allow-other-device'], {
      env: { EDGE_RECOVERY_CRASH_AT: 'renamed:move-in:Storage' },
    });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // The folder beside the target is the product account's: it moves the restored folder away and renames root's
    // folder to its name (no right on the folder moved is needed).
    await fsp.chown(beside, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    await fsp.chmod(work, 0o755); // the account reaches its folder
    try {
      shAs(OWNER, 'mv "$1" "$1.mine" && mv "$2" "$1"', conf, rootOwn);
      const rb = await runCli(['rollback', '--state-dir', stateDir, '--yes']);
      const key = await fsp.readFile(path.join(conf, 'key'), 'utf8').catch(() => null);
      expect({ code: rb.code, key }, rb.stderr).toEqual({ code: 4, key: 'root only\n' });
      expect(rb.stderr).toContain('is no longer the folder the restore moved in');
      // Put back as it was, the rollback finishes.
      shAs(OWNER, 'mv "$1" "$2" && mv "$1.mine" "$1"', conf, rootOwn);
    } finally {
      await fsp.chown(beside, 0, 0);
      await fsp.chmod(work, 0o700);
    }
    const again = await runCli(['rollback', '--state-dir', stateDir, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(await fsp.readFile(path.join(rootOwn, 'key'), 'utf8')).toBe('root only\n');
    await fsp.rm(rootOwn, { recursive: true });
  });

  it('measures free space on the disk that receives the data (the link target), not the system disk', async () => {
    await fsp.writeFile(path.join(dataDir, 'big.bin'), randomBytes(24 * 1024 * 1024));
    const b = await backup();
    expect(b.code, b.stderr).toBe(0);
    const newest = (await sets()).at(-1)!;
    const r = await runCli(['restore', newest, ...common(), '--allow-other-device']);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toContain(`free beside ${dataDir}`);
    await fsp.rm(path.join(dataDir, 'big.bin'));
  });

  it('names a file that changed while it was archived, and fails the backup with --strict', async () => {
    const busy = path.join(conf, 'busy.log');
    await fsp.writeFile(busy, randomBytes(8 * 1024 * 1024));
    // A writer the tool cannot stop (no service manager) touching the file all the time. utime() opens nothing,
    // so the open-files check does not see it: only the before/after comparison can.
    const writer: ChildProcess = spawn('perl', ['-e', 'while (1) { utime(undef, undef, $ARGV[0]) }', busy], {
      stdio: 'ignore',
    });
    try {
      const warned = await backup('--json');
      expect(warned.code, warned.stderr).toBe(0);
      const warn = jsonEvents(warned.stdout).find(
        (e) =>
          e.type === 'log' &&
          e.level === 'warn' &&
          String(e.message).includes('changed while they were being backed up'),
      );
      expect(String(warn?.message)).toContain(busy);
      const before = await sets();
      const strict = await backup('--strict');
      expect(strict.code, strict.stderr).toBe(4);
      expect(strict.stderr).toContain(busy);
      // The failed backup left nothing behind on the stick.
      expect(await sets()).toEqual(before);
    } finally {
      writer.kill('SIGKILL');
      await fsp.rm(busy, { force: true });
    }
    expect(existsSync(busy)).toBe(false);
  });
});
