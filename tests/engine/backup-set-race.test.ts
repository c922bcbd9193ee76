import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm, type RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { createLoopMount, fatStickUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import {
  accountStick,
  asAccountArgs,
  runAsAtFirstDirOpen,
  shAs,
  swapOnFirstOpen,
  expectHeldReadAfterSwap,
} from '../helpers/as-account.js';

/**
 * A backup writes on a stick another account may write: its own ext4 stick (the stick's top folder is that
 * account's), or a FAT stick the desktop mounts for the desktop user. After the archive, the backup still wrote by
 * path: the product's own file (an artifact step, `mkdir -p` of artifacts/<step> in the set folder), RESTORE.txt,
 * SHA256SUMS, manifest.json, and the reports in the device folder. That account (a real unprivileged user here,
 * through setpriv) renames the set folder (or EdgeRecovery) away at the right moment and puts a link by its name to
 * a root-only folder: root then made folders and wrote the product's file (or the report) where the link led.
 * The swap is done from the backup's own step events, so it lands in that window every time.
 */
const OWNER = 'edge-bsr';

/** Runs `script` (sh -c, with `args` as $1 …) as the other account. */
const asOwner = (script: string, ...args: string[]): void => shAs(OWNER, script, ...args);

describe.skipIf(!isRoot || skipLoopTests)('a backup onto a stick another account may write, swapped under it', () => {
  let work: string;
  let root: string;
  let stick: LoopMount;
  let device: string;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'backup-set-race-'));
    await fsp.chmod(work, 0o755);
    root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration', 'app.conf'), 'setting=1\n');
    // The product's own backup file, which the artifact step copies into the set after the archive.
    await fsp.writeFile(path.join(root, 'opt/hand/export.bin'), randomBytes(256 << 10));
    // The other account's own stick: its top folder and the folders the tool files its sets in are that account's.
    stick = await accountStick(OWNER, 64, ['hand-box']);
    device = path.join(stick.mountpoint, 'EdgeRecovery', 'hand-box');
  }, 180_000);

  afterAll(async () => {
    await stick?.cleanup();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  /** A root-only folder of this machine holding one file of its own. */
  async function rootOnly(name: string): Promise<string> {
    const victim = path.join(work, name);
    await fsp.mkdir(victim, { mode: 0o700 });
    await fsp.writeFile(path.join(victim, 'keep'), 'root only\n', { mode: 0o600 });
    return victim;
  }

  /** Backs up the hand product with an artifact step, calling `onStep` on every step change. */
  async function backup(
    n: string,
    onStep: (id: string, state: string) => void,
    to?: { path: string; typed: true },
    onLog?: (message: string) => void,
  ): Promise<string> {
    const profile = parseProfile(
      {
        ...handProfile({ items: ['Configuration'] }),
        steps: [
          {
            id: 'export',
            title: 'Take the export',
            explain: "Copies the product's own backup file into the set.",
            at: 'backup.archive',
            kind: 'artifact',
            mode: 'produced',
            path: '{root}/opt/hand/export.bin',
          },
        ],
      },
      'test',
    );
    const io: RunbookIO = {
      emit: (e) => {
        if (e.type === 'step') onStep(e.step.id, e.step.state);
        if (e.type === 'log') onLog?.(e.message);
      },
      interaction: autoConfirm,
    };
    return runBackup(
      {
        profile,
        // As the CLI's --to: a path typed, no filesystem judged by the page.
        ...(to !== undefined
          ? { to: to.path }
          : { to: stick.mountpoint, toDevice: (await fsp.stat(stick.mountpoint)).dev }),
        root,
        deviceId: 'hand-box',
        stateDir: path.join(work, `state-${n}`),
      },
      io,
    ).then(
      () => 'ok',
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
  }

  it("makes --to below the stick's mount point without following a link the stick's owner put on the way", async () => {
    // The account's stick: a folder on the way to the --to the technician types is a link to a root-only folder.
    const victim = await rootOnly('root-only-to');
    const sub = path.join(stick.mountpoint, 'backups');
    asOwner('ln -s "$2" "$1"', sub, victim);
    try {
      const outcome = await backup('to-link', () => undefined, { path: path.join(sub, 'site-1'), typed: true });
      expect({ outcome, inVictim: await fsp.readdir(victim) }).toEqual({ outcome: 'UNSAFE_PATH', inVictim: ['keep'] });
    } finally {
      await fsp.rm(sub, { force: true });
    }
  }, 120_000);

  it.skipIf(fatStickUnavailable !== null)(
    'measures free space and the split size on the --to folder it holds, not where its path leads once swapped',
    async () => {
      // The account's folder on its stick, where the technician types --to; where its link will lead: a FAT32
      // stick's folder (there, parts would be split).
      const sub = path.join(stick.mountpoint, 'site-2');
      asOwner('mkdir "$1"', sub);
      const fat = await createLoopMount(40, { fs: 'fat32' });
      try {
        // At the first open of the --to folder (the backup holding it): moved aside, a link by its name.
        const watcher = await runAsAtFirstDirOpen(
          OWNER,
          sub,
          'mv "$1" "$1.aside" && ln -s "$2" "$1"',
          sub,
          fat.mountpoint,
        );
        const logs: string[] = [];
        const outcome = await backup(
          'measure',
          () => undefined,
          { path: sub, typed: true },
          (m) => logs.push(m),
        );
        const events = await watcher.stop();
        // The swap landed at that open (else this proves nothing); the folder held is on the ext4 stick: no split.
        // Before: the FAT32 folder the link led to was measured ("… is vfat: files are limited …, so the archive is
        // split"). The backup then stops at the link (UNSAFE_PATH) as before.
        expect({ outcome, events: events.slice(0, 2), split: logs.filter((l) => l.includes('split')) }).toEqual({
          outcome: 'UNSAFE_PATH',
          events: ['open', 'swapped'],
          split: [],
        });
      } finally {
        await fsp.rm(sub, { force: true });
        await fsp.rm(`${sub}.aside`, { recursive: true, force: true });
        await fat.cleanup();
      }
    },
    120_000,
  );

  it("writes the product's file only into the set folder it made, never through a link swapped in for it", async () => {
    const victim = await rootOnly('root-only-set');
    let swapped = 0;
    const outcome = await backup('set', (id, state) => {
      if (id !== 'export' || state !== 'running') return;
      // Between the archive and the artifact's copy: the set folder moved aside, a link to root's folder by its name.
      asOwner('for d in "$1"/Backup_*; do mv "$d" "$d.aside" && ln -s "$2" "$d"; done', device, victim);
      swapped++;
    });
    expect(swapped).toBe(1);
    const names = await fsp.readdir(device);
    const aside = names.find((x) => x.endsWith('.aside'))!;
    expect({ outcome, inVictim: await fsp.readdir(victim) }).toEqual({ outcome: 'UNSAFE_PATH', inVictim: ['keep'] });
    // The link is left as it is (never followed, never deleted through), and the set the backup made is emptied
    // where the account moved it: nothing of the product's data stays behind in its folder.
    const link = path.join(device, aside.slice(0, -'.aside'.length));
    expect(await fsp.readlink(link)).toBe(victim);
    expect(await fsp.readdir(path.join(device, aside))).toEqual([]);
    for (const x of names) await fsp.rm(path.join(device, x), { recursive: true, force: true });
  }, 120_000);

  it("writes the archive's parts only into the set folder it made, never through a link swapped in above it", async () => {
    const edge = path.dirname(device);
    // The account's own folder, shaped like the stick's: a copy of every set folder the backup makes appears in it.
    const evil = path.join(work, 'evil-parts');
    await fsp.mkdir(path.join(evil, 'hand-box'), { recursive: true });
    await fsp.chown(evil, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    await fsp.chown(path.join(evil, 'hand-box'), uidForUser(OWNER)!, gidForGroup(OWNER)!);
    let mirror: ReturnType<typeof spawn> | null = null;
    const outcome = await backup('parts', (id, state) => {
      if (id !== 'archive' || state !== 'running' || mirror) return;
      // As soon as the set folder appears (the backup holds its device folder by then): a folder of the same name in
      // the account's folder, EdgeRecovery moved aside, and a link to the account's folder by its name; all before
      // the archive's first part is written.
      mirror = spawn('setpriv', [
        ...asAccountArgs(OWNER),
        'timeout',
        '30',
        'sh',
        '-c',
        'while :; do for d in "$1"/hand-box/Backup_*; do if [ -d "$d" ]; then ' +
          'mkdir -p "$2/hand-box/${d##*/}" && mv "$1" "$1.aside" && ln -s "$2" "$1"; exit 0; fi; done; done',
        'sh',
        edge,
        evil,
      ]);
    });
    const m = mirror as ReturnType<typeof spawn> | null;
    m?.kill();
    expect(m).not.toBeNull();
    const copies = (await fsp.readdir(path.join(evil, 'hand-box'))).filter((x) => x.startsWith('Backup_'));
    const inCopies = (await Promise.all(copies.map((x) => fsp.readdir(path.join(evil, 'hand-box', x))))).flat();
    // The account's copy of the set folder was there in time (else this test proves nothing) and got nothing.
    expect({ outcome, copies: copies.length, inCopies }).toEqual({ outcome: 'UNSAFE_PATH', copies: 1, inCopies: [] });
    await fsp.rm(edge, { force: true });
    await fsp.rename(`${edge}.aside`, edge);
    for (const x of await fsp.readdir(device)) await fsp.rm(path.join(device, x), { recursive: true, force: true });
  }, 120_000);

  it('reads back the parts from the set folder it holds, never through a link swapped in after its check', async () => {
    const edge = path.dirname(device);
    const evil = path.join(work, 'evil-read');
    await fsp.mkdir(path.join(evil, 'hand-box'), { recursive: true });
    await fsp.chown(evil, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    await fsp.chown(path.join(evil, 'hand-box'), uidForUser(OWNER)!, gidForGroup(OWNER)!);
    // The first open of data.tar.gz after the archive step is dd's (dropping it from the page cache, right after the
    // check that the set's path names the held folder, before the read-back opens it): held until the account has
    // swapped EdgeRecovery for a link to its folder, which holds a file of the same size named like the part.
    const watcher = await swapOnFirstOpen(OWNER, device, evil, 'data.tar.gz');
    const outcome = await backup('read', () => undefined);
    const events = await watcher.stop();
    // The swap landed between the drop from the cache and the read-back (else this test proves nothing): the part
    // root holds was opened after it. The account's file never was; the path moved, so the set is not declared
    // complete. Before: the read-back opened the account's file and called the backup damaged (BACKUP_CORRUPT).
    expectHeldReadAfterSwap(outcome, events, 'data.tar.gz');
    await fsp.rm(edge, { force: true });
    await fsp.rename(`${edge}.aside`, edge);
    for (const x of await fsp.readdir(device)) await fsp.rm(path.join(device, x), { recursive: true, force: true });
  }, 120_000);

  it('writes the reports only into the device folder it holds, never through a link swapped in for EdgeRecovery', async () => {
    const victim = await rootOnly('root-only-reports');
    const edge = path.dirname(device);
    let swapped = 0;
    const outcome = await backup('reports', (id, state) => {
      if (id !== 'retention' || state !== 'done') return;
      // The backup is complete; the reports are written next, into EdgeRecovery/hand-box.
      asOwner('mv "$1" "$1.aside" && ln -s "$2" "$1"', edge, victim);
      swapped++;
    });
    expect(swapped).toBe(1);
    expect({ outcome, inVictim: await fsp.readdir(victim) }).toEqual({ outcome: 'ok', inVictim: ['keep'] });
    // They are where the backup is: in the device folder it made, wherever the account moved it.
    const there = await fsp.readdir(path.join(`${edge}.aside`, 'hand-box'));
    expect(there.filter((x) => /^report-backup-.*\.(json|html)$/.test(x))).toHaveLength(2);
    expect(there.filter((x) => x.startsWith('Backup_hand_'))).toHaveLength(1);
  }, 120_000);
});
