import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup, type BackupOptions } from '../../src-main/engine/backup/run-backup.js';
import { recordSetStarted } from '../../src-main/engine/backup/written-sets.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { runMirror } from '../../src-main/engine/schedule/mirror.js';
import { autoConfirm, type RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { accountStick, giveTo } from '../helpers/as-account.js';

/**
 * (The mirror's prune likewise: it judged the copies on the stick by their manifest's hash, then deleted by name.)
 * A backup onto a stick whose device folder (EdgeRecovery/<device>) another account may write: that account cannot
 * delete root's sets (root's folders, root's 0600 files), but it may rename them, each within that folder. Retention
 * and the clean-up after a failure deleted by the set's name: judged one folder, then deleted whatever bore its name
 * by the time of the delete. The account (a real unprivileged user, through setpriv) gives another set that name in
 * between, and root deleted that set: the backup just written, or the one before it.
 */
const OWNER = 'edge-rsr';

describe.skipIf(!isRoot || skipLoopTests)('retention and clean-up on a stick another account may write', () => {
  let work: string;
  let root: string;
  let stick: LoopMount;
  const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'retention-swap-race-'));
    await fsp.chmod(work, 0o755);
    root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration', 'app.conf'), 'setting=1\n');
    stick = await accountStick(OWNER, 256);
  }, 180_000);

  afterAll(async () => {
    await stick?.cleanup();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  /** The account's own device folder on the stick (as on its own stick, or a FAT stick mounted for it). */
  async function deviceFolder(id: string): Promise<string> {
    const dev = path.join(stick.mountpoint, 'EdgeRecovery', id);
    await fsp.mkdir(dev, { mode: 0o755 });
    await giveTo(OWNER, dev);
    return dev;
  }

  function backup(
    deviceId: string,
    at: string,
    extra: Partial<BackupOptions> = {},
    onStep: (id: string, state: string) => void = () => undefined,
  ): Promise<string> {
    const io: RunbookIO = {
      emit: (e) => {
        if (e.type === 'step') onStep(e.step.id, e.step.state);
      },
      interaction: autoConfirm,
    };
    return runBackup(
      {
        profile,
        to: stick.mountpoint,
        root,
        deviceId,
        stateDir: path.join(work, `state-${deviceId}`),
        now: new Date(at),
        ...extra,
      },
      io,
    ).then(
      () => 'ok',
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
  }

  it('never deletes the backup just written by giving it the name of a set retention judged superseded', async () => {
    const dev = await deviceFolder('swap-box');
    expect(await backup('swap-box', '2026-11-01T10:00:00Z')).toBe('ok');
    expect(await backup('swap-box', '2026-11-02T10:00:00Z')).toBe('ok');
    const b1 = path.join(dev, 'Backup_hand_20261101_1000Z');
    const b2 = path.join(dev, 'Backup_hand_20261102_1000Z');
    const b3 = path.join(dev, 'Backup_hand_20261103_1000Z');
    // A backup of this machine killed after it made its folder: debris retention removes after the next backup (its
    // record made as run-backup makes it). Its many files make the removal take a moment the account can see.
    const debris = path.join(dev, 'Backup_hand_20261031_1000Z');
    await recordSetStarted(path.join(work, 'state-swap-box'), debris, profile.id);
    await fsp.mkdir(path.join(debris, 'artifacts'), { recursive: true });
    const many = 20_000;
    for (let i = 0; i < many; i++) await fsp.writeFile(path.join(debris, 'artifacts', `f${i}`), '');
    const stop = path.join(work, 'stop-swap');
    // Once retention judged every set and starts on the debris: the set it will delete next (b2) renamed aside, and
    // the backup just written (b3) renamed to b2's name. Two renames in the account's own folder.
    const racer = racerAsync(OWNER, [
      'rename-when-emptying',
      path.join(debris, 'artifacts'),
      String(many),
      stop,
      '120',
      b2,
      `${b2}.judged`,
      b3,
      b2,
    ]);
    let outcome: string;
    try {
      outcome = await backup('swap-box', '2026-11-03T10:00:00Z', { keep: 1 });
    } finally {
      await fsp.writeFile(stop, '');
    }
    const said = await racer;
    // The race was run (else this test proves nothing): the renames came while retention deleted the debris.
    expect({ outcome, said }).toEqual({ outcome: 'ok', said: { seen: true, renamed: [`${b2}.judged`, b2] } });
    expect(existsSync(b1)).toBe(false);
    // The backup just written is on the stick, under the name the account gave it, whole.
    const now = await fsp.readdir(b2).catch((e: NodeJS.ErrnoException) => [e.code!]);
    expect(now.filter((n) => n === 'manifest.json' || n.startsWith('data.tar.gz')).sort()).toEqual([
      'data.tar.gz',
      'manifest.json',
    ]);
    const m = JSON.parse(await fsp.readFile(path.join(b2, 'manifest.json'), 'utf8')) as { createdAt: string };
    expect(m.createdAt).toBe('2026-11-03T10:00:00.000Z');
  }, 300_000);

  it('never deletes a set the account gave the name of the set folder it could not make', async () => {
    const dev = await deviceFolder('fail-box');
    expect(await backup('fail-box', '2026-11-01T10:00:00Z')).toBe('ok');
    const b1 = path.join(dev, 'Backup_hand_20261101_1000Z');
    const b3 = path.join(dev, 'Backup_hand_20261103_1000Z');
    let moved = '';
    // The backup chose b3's name (free); while it derives the passphrase's key, the account gives root's previous
    // set that name. The backup's mkdir then fails (EEXIST): the clean-up must leave alone what it did not make.
    const outcome = await backup(
      'fail-box',
      '2026-11-03T10:00:00Z',
      { passphrase: 'correct horse battery' },
      (id, state) => {
        if (id !== 'archive' || state !== 'running') return;
        setTimeout(() => {
          execFileSync('setpriv', [
            `--reuid=${uidForUser(OWNER)!}`,
            `--regid=${gidForGroup(OWNER)!}`,
            '--clear-groups',
            'mv',
            '-T',
            b1,
            b3,
          ]);
          moved = b3;
        }, 400);
      },
    );
    // In the window (else this test proves nothing): the set folder could not be made.
    expect({ outcome, moved }).toEqual({ outcome: 'UNSAFE_PATH', moved: b3 });
    const left = await fsp.readdir(b3).catch((e: NodeJS.ErrnoException) => [e.code!]);
    expect(left.filter((n) => n === 'manifest.json' || n === 'data.tar.gz').sort()).toEqual([
      'data.tar.gz',
      'manifest.json',
    ]);
  }, 300_000);

  it('mirror: never deletes the copy just made by giving it the name of a copy its prune judged superseded', async () => {
    // The sets, on this machine's backup disk (root's), recorded as written by this machine.
    const from = path.join(work, 'from');
    await fsp.mkdir(from, { mode: 0o755 });
    const mirrorState = path.join(work, 'state-mbox');
    const back = (at: string) => backup('mbox', at, { to: from, stateDir: mirrorState });
    const mirror = () =>
      runMirror(
        { from, to: stick.mountpoint, keep: 2, stateDir: mirrorState },
        { emit: () => undefined, interaction: autoConfirm },
      ).then(
        () => 'ok',
        (e: unknown) => String((e as { code?: string }).code ?? e),
      );
    const group = await deviceFolder('mbox');
    expect(await back('2026-11-01T10:00:00Z')).toBe('ok');
    expect(await back('2026-11-02T10:00:00Z')).toBe('ok');
    expect(await mirror()).toBe('ok');
    expect(await back('2026-11-03T10:00:00Z')).toBe('ok');
    expect(await back('2026-11-04T10:00:00Z')).toBe('ok');
    const c1 = path.join(group, 'Backup_hand_20261101_1000Z');
    const c2 = path.join(group, 'Backup_hand_20261102_1000Z');
    const c4 = path.join(group, 'Backup_hand_20261104_1000Z');
    // The account's bait: a folder named like a set whose manifest.json (sparse, 64 MiB: the most a manifest.json
    // may be) takes root a moment to hash, listed after the copies (Node lists a folder sorted by name).
    const last = 'Backup_zz_bait';
    await fsp.mkdir(path.join(group, last));
    const bait = path.join(group, last, 'manifest.json');
    execFileSync('truncate', ['-s', `${64 << 20}`, bait]);
    for (const x of [path.dirname(bait), bait]) await fsp.chown(x, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    const stop = path.join(work, 'stop-mirror');
    // While root hashes the bait in its prune (every copy judged; the new copy is there by then): the copy it will delete (c2) renamed aside, and the copy
    // this run just made (c4) renamed to c2's name.
    const racer = racerAsync(OWNER, ['rename-when-read', bait, c4, stop, '120', c2, `${c2}.judged`, c4, c2]);
    let outcome: string;
    try {
      outcome = await mirror();
    } finally {
      await fsp.writeFile(stop, '');
    }
    const said = await racer;
    expect({ outcome, said }).toEqual({ outcome: 'ok', said: { seen: true, renamed: [`${c2}.judged`, c2] } });
    expect(existsSync(c1)).toBe(false);
    // The copy just made is on the stick, under the name the account gave it, whole.
    const m = JSON.parse(await fsp.readFile(path.join(c2, 'manifest.json'), 'utf8').catch(() => '{}')) as {
      createdAt?: string;
    };
    expect(m.createdAt).toBe('2026-11-04T10:00:00.000Z');
  }, 300_000);

  it("mirror: never reads through a stick's manifest.json larger than any of ours (a sparse one of terabytes)", async () => {
    const from = path.join(work, 'from-h');
    await fsp.mkdir(from, { mode: 0o755 });
    const state = path.join(work, 'state-hbox');
    expect(await backup('hbox', '2026-11-01T10:00:00Z', { to: from, stateDir: state })).toBe('ok');
    const group = await deviceFolder('hbox');
    // The account's bait: a folder named like a set, its manifest.json sparse and larger than STICK_TEXT_MAX
    // (64 MiB). Terabytes cost the account nothing on a 256 MiB stick; the prune read them all, holding the job lock.
    const bait = path.join(group, 'Backup_hand_20990101_0000Z', 'manifest.json');
    await fsp.mkdir(path.dirname(bait));
    execFileSync('truncate', ['-s', `${65 << 20}`, bait]);
    await fsp.utimes(bait, 1000, 1000);
    const outcome = await runMirror(
      { from, to: stick.mountpoint, keep: 1, stateDir: state },
      { emit: () => undefined, interaction: autoConfirm },
    ).then(
      () => 'ok',
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
    // Left alone (never ours), and never read: its access time (relatime: a read moves it) did not move.
    expect({ outcome, atime: (await fsp.stat(bait)).atimeMs }).toEqual({ outcome: 'ok', atime: 1_000_000 });
    expect(existsSync(path.join(group, 'Backup_hand_20261101_1000Z', 'manifest.json'))).toBe(true);
  }, 300_000);
});
