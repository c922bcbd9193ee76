import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { runMirror } from '../../src-main/engine/schedule/mirror.js';
import { isRoot } from '../helpers/datasets.js';
import { handBackupInto } from '../helpers/hand-product.js';
import { skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { accountStick, giveTo, runAsAtFirstDirOpen, shAs } from '../helpers/as-account.js';

/**
 * `mirror --from` typed on the command line (no page, so no `fromDevice`): the source was listed, its manifests read,
 * its files listed and its set folders opened by path, every link on the way followed, and every file of a set folder
 * copied whether its manifest named it or not. A real unprivileged account whose stick (or folder) holds the source
 * put a link on the way to `--from`, or swapped a folder above a set for one between the listing and the copy, to a
 * root-only folder: root copied that folder's root-only files onto the stick, and the mirror reported success.
 */
const OWNER = 'edge-rt';

describe.skipIf(!isRoot || skipLoopTests)('mirror --from through links another account put on the way', () => {
  let work: string;
  let stick: LoopMount;
  let setName: string;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'mirror-source-link-'));
    await fsp.chmod(work, 0o755);
    stick = await accountStick(OWNER, 64);
    // Root's own backups on this machine (a root-only folder), one set of the hand product.
    const rootBackups = path.join(work, 'root-backups');
    const b = await handBackupInto(work, rootBackups, { name: 'a.json', data: '{"a":1}\n' });
    expect(b.code, b.stderr).toBe(0);
    await fsp.chmod(rootBackups, 0o700);
    setName = (await fsp.readdir(path.join(rootBackups, 'EdgeRecovery', 'hand-box')))[0]!;
  }, 180_000);

  afterAll(async () => {
    await stick?.cleanup();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  /** What ended on the stick under EdgeRecovery/hand-box/<set>, and how the mirror ended. */
  async function mirrorFrom(from: string, state: string): Promise<{ outcome: string; onStick: string[] }> {
    const outcome = await runMirror(
      { from, to: stick.mountpoint, keep: 1, stateDir: path.join(work, state) },
      { emit: () => undefined, interaction: autoConfirm },
    ).then(
      () => 'ok',
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
    const copy = path.join(stick.mountpoint, 'EdgeRecovery', 'hand-box', setName);
    const onStick = await fsp.readdir(copy).catch(() => [] as string[]);
    await fsp.rm(path.join(stick.mountpoint, 'EdgeRecovery', 'hand-box'), { recursive: true, force: true });
    return { outcome, onStick: onStick.sort() };
  }

  it('refuses a link the account put on the way to --from (to a root-only folder of backups): nothing copied', async () => {
    // A root-only file in root's set folder, which no manifest names.
    const secret = path.join(work, 'root-backups', 'EdgeRecovery', 'hand-box', setName, 'secret.txt');
    await fsp.writeFile(secret, 'root:$y$secret\n', { mode: 0o600 });
    const share = path.join(stick.mountpoint, 'share');
    await fsp.mkdir(share, { mode: 0o755 });
    await giveTo(OWNER, share);
    shAs(OWNER, 'ln -s "$2" "$1/backups"', share, path.join(work, 'root-backups'));
    try {
      expect(await mirrorFrom(path.join(share, 'backups'), 'state-link')).toEqual({
        outcome: 'UNSAFE_PATH',
        onStick: [],
      });
    } finally {
      await fsp.rm(secret, { force: true });
      await fsp.rm(share, { recursive: true, force: true });
    }
  });

  /** The account's own set on its stick (a copy of root's, the account's now), under src/EdgeRecovery/hand-box. */
  async function accountSet(): Promise<{ src: string; device: string }> {
    const src = path.join(stick.mountpoint, 'src');
    const device = path.join(src, 'EdgeRecovery', 'hand-box');
    await fsp.cp(path.join(work, 'root-backups', 'EdgeRecovery'), path.join(src, 'EdgeRecovery'), { recursive: true });
    await fsp.chmod(src, 0o755);
    for (const d of [src, path.join(src, 'EdgeRecovery'), device, path.join(device, setName)]) await giveTo(OWNER, d);
    for (const f of await fsp.readdir(path.join(device, setName))) await giveTo(OWNER, path.join(device, setName, f));
    return { src, device };
  }

  /**
   * Mirrors the account's set while, at the first open of the stick's EdgeRecovery folder (the copy step's: the
   * mirror has listed the set, read its manifest and its files), the account runs `script` ($1 its device folder, $2
   * the set's name, $3 `arg`); the watcher's lines must show the script ran there.
   */
  async function mirrorRacing(script: string, arg: string): Promise<{ outcome: string; onStick: string[] }> {
    const { src, device } = await accountSet();
    const watcher = await runAsAtFirstDirOpen(
      OWNER,
      path.join(stick.mountpoint, 'EdgeRecovery'),
      script,
      device,
      setName,
      arg,
    );
    let r: { outcome: string; onStick: string[] };
    let lines: string[];
    try {
      r = await mirrorFrom(src, `state-race-${Date.now()}`);
    } finally {
      lines = await watcher.stop();
      await fsp.rm(src, { recursive: true, force: true });
    }
    expect(lines.slice(0, 2), 'the account acted before the copy').toEqual(['open', 'swapped']);
    return r;
  }

  it("copies only the set it listed when the account swaps the set's device folder for a link meanwhile", async () => {
    // A root-only folder holding a folder named like the account's set, with a root-only file in it.
    const victim = path.join(work, 'root-only');
    await fsp.mkdir(path.join(victim, setName), { recursive: true, mode: 0o700 });
    await fsp.chmod(victim, 0o700);
    await fsp.writeFile(path.join(victim, setName, 'secret.txt'), 'root:$y$secret\n', { mode: 0o600 });
    const r = await mirrorRacing('mv "$1" "$1.aside" && ln -s "$3" "$1"', victim);
    expect(r.onStick).not.toContain('secret.txt');
    expect(r).toEqual({ outcome: 'ok', onStick: expect.arrayContaining(['manifest.json', 'data.tar.gz']) as unknown });
  });

  it("copies no second name of a root-only file that the account's set folder holds (a hard link beside the set's files)", async () => {
    // The account's backups on this machine's disk (its folder), beside a root-only file on the same filesystem.
    const src = path.join(work, 'acct-backups');
    const device = path.join(src, 'EdgeRecovery', 'hand-box');
    await fsp.cp(path.join(work, 'root-backups', 'EdgeRecovery'), path.join(src, 'EdgeRecovery'), { recursive: true });
    await fsp.chmod(src, 0o755);
    for (const d of [src, path.join(src, 'EdgeRecovery'), device, path.join(device, setName)]) await giveTo(OWNER, d);
    const victim = path.join(work, 'root-only-2');
    await fsp.mkdir(victim, { mode: 0o700 });
    await fsp.writeFile(path.join(victim, 'shadow'), 'root:$y$secret\n', { mode: 0o600 });
    // ln <root-only file> <its set>/shadow: any account may where fs.protected_hardlinks is 0 (the kernel's default
    // when no sysctl sets it); made here by root, which may always.
    await fsp.link(path.join(victim, 'shadow'), path.join(device, setName, 'shadow'));
    try {
      const r = await mirrorFrom(src, 'state-hardlink');
      expect(r.onStick).not.toContain('shadow');
      expect(r.outcome).toBe('UNSAFE_PATH');
    } finally {
      await fsp.rm(src, { recursive: true, force: true });
    }
  });

  it('puts no copy in place when the account empties its set folder meanwhile', async () => {
    const r = await mirrorRacing('rm "$1/$2/$3"', 'data.tar.gz');
    expect(r).toEqual({ outcome: 'BACKUP_CORRUPT', onStick: [] });
  });

  it('copies the sets beside an archive made by hand (which has no checksums to copy by), not failing on it', async () => {
    // A folder of backups that also holds a hand-made archive (listBackups lists it, as `list` shows it).
    const from = path.join(work, 'with-archive');
    await fsp.cp(path.join(work, 'root-backups'), from, { recursive: true });
    await fsp.writeFile(path.join(from, 'site-export.tar.gz'), 'an archive made by hand\n');
    try {
      expect(await mirrorFrom(from, 'state-hand-made')).toEqual({
        outcome: 'ok',
        onStick: expect.arrayContaining(['manifest.json', 'data.tar.gz']) as unknown,
      });
    } finally {
      await fsp.rm(from, { recursive: true, force: true });
    }
  });
});
