import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdopt } from '../../src-main/engine/backup/hand-made.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm, type RunbookIO } from '../../src-main/engine/runbook/runner.js';
import {
  accountStick,
  asAccountArgs,
  giveTo,
  runAsAtFirstDirOpen,
  swapOnFirstOpen,
  expectHeldReadAfterSwap,
} from '../helpers/as-account.js';
import { isRoot } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { createLoopMount, fatStickUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * `adopt <archive> --to <stick>` makes a backup set of a hand-made archive on a stick another account may write (its
 * own ext4 stick, a FAT stick mounted for the desktop user). It made EdgeRecovery/<device> without following links,
 * then made the set folder, wrote the parts, SHA256SUMS, RESTORE.txt and manifest.json, and read them back, all by
 * the set's path. That account (a real unprivileged user, through setpriv) waits for the set folder to appear, makes
 * a folder of the same name in a folder of its own, moves EdgeRecovery aside and puts a link to its folder by that
 * name: root then wrote the whole set into the account's folder, read it back from there and called it good. Now the
 * device and set folders are held open from their making, everything goes in through them, and the set's path must
 * still name the held folder before manifest.json and around the read-back (else UNSAFE_PATH, the held set removed).
 */
const OWNER = 'edge-bsr';

describe.skipIf(!isRoot || skipLoopTests)('adopt onto a stick another account may write, swapped under it', () => {
  let work = '';
  let archive = '';
  let stick: LoopMount;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'adopt-set-race-'));
    await fsp.chmod(work, 0o755);
    // A hand-made archive large enough that the set folder exists for a while before its parts are done.
    const src = path.join(work, 'src', 'Configuration');
    await fsp.mkdir(src, { recursive: true });
    await fsp.writeFile(path.join(src, 'app.json'), '{"a":1}\n');
    await fsp.writeFile(path.join(src, 'history.bin'), randomBytes(12 << 20));
    archive = path.join(work, 'product-backup.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', path.dirname(src), 'Configuration']);
    stick = await accountStick(OWNER, 96, ['hand-made']);
  }, 180_000);

  afterAll(async () => {
    await stick?.cleanup();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('writes the set only into the folders it made and holds, never into the account folder a link leads to', async () => {
    const edge = path.join(stick.mountpoint, 'EdgeRecovery');
    // The account's own folder, shaped like the stick's: a copy of the set folder appears in it.
    const evil = path.join(work, 'evil');
    await fsp.mkdir(path.join(evil, 'hand-made'), { recursive: true });
    await giveTo(OWNER, evil, path.join(evil, 'hand-made'));
    // As soon as the set folder appears: a folder of that name in the account's folder, EdgeRecovery moved aside,
    // and a link to the account's folder by its name.
    const mirror = spawn('setpriv', [
      ...asAccountArgs(OWNER),
      'timeout',
      '60',
      'sh',
      '-c',
      'echo watching; while :; do for d in "$1"/hand-made/Backup_*; do if [ -d "$d" ]; then ' +
        'mkdir -p "$2/hand-made/${d##*/}" && mv "$1" "$1.aside" && ln -s "$2" "$1"; exit 0; fi; done; done',
      'sh',
      edge,
      evil,
    ]);
    const raced = new Promise<number | null>((resolve) => mirror.on('exit', (code) => resolve(code)));
    // The account watches before the adoption starts (a loaded machine may start it late).
    await new Promise<void>((resolve) => mirror.stdout!.once('data', () => resolve()));
    const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');
    const io: RunbookIO = { emit: () => undefined, interaction: autoConfirm };
    const outcome = await runAdopt({ source: archive, profile, to: stick.mountpoint }, io).then(
      (r) => `ok: ${r.setDir}`,
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
    mirror.kill();
    const swapped = await raced;
    const copies = (await fsp.readdir(path.join(evil, 'hand-made'))).filter((x) => x.startsWith('Backup_'));
    const inCopies = (await Promise.all(copies.map((x) => fsp.readdir(path.join(evil, 'hand-made', x))))).flat();
    // The account's copy of the set folder was there in time (else this proves nothing) and got nothing from root.
    // Before: { outcome: 'ok: …', copies: 1, inCopies: [ 'RESTORE.txt', 'SHA256SUMS', 'data.tar.gz', 'manifest.json' ] }.
    expect({ swapped, outcome, copies: copies.length, inCopies }).toEqual({
      swapped: 0,
      outcome: 'UNSAFE_PATH',
      copies: 1,
      inCopies: [],
    });
    // The set root made (where the account moved it) is removed, and nothing else there.
    expect(await fsp.readdir(path.join(`${edge}.aside`, 'hand-made'))).toEqual([]);
    await fsp.rm(edge, { force: true });
    await fsp.rename(`${edge}.aside`, edge);
  }, 180_000);

  it.skipIf(fatStickUnavailable !== null)(
    'measures the split size on the device folder it holds, not where its path leads once swapped for a link',
    async () => {
      // Where the account's link leads: a FAT32 stick's folder of the device's name (there, parts would be split).
      const fat = await createLoopMount(40, { fs: 'fat32' });
      const edge = path.join(stick.mountpoint, 'EdgeRecovery');
      try {
        await fsp.mkdir(path.join(fat.mountpoint, 'hand-made'));
        // At the first open of the device folder (adopt holding it): EdgeRecovery moved aside, a link by its name.
        const watcher = await runAsAtFirstDirOpen(
          OWNER,
          path.join(edge, 'hand-made'),
          'mv "$1" "$1.aside" && ln -s "$2" "$1"',
          edge,
          fat.mountpoint,
        );
        const logs: string[] = [];
        const io: RunbookIO = {
          emit: (e) => {
            if (e.type === 'log') logs.push(e.message);
          },
          interaction: autoConfirm,
        };
        const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');
        await runAdopt({ source: archive, profile, to: stick.mountpoint }, io).catch(() => undefined);
        const events = await watcher.stop();
        // The swap landed at that open (else this proves nothing); the stick the set goes on is ext4: no split.
        // Before: the FAT32 folder the link led to was measured ("… is vfat: files are limited …, so the archive
        // is split").
        expect({ events: events.slice(0, 2), split: logs.filter((l) => l.includes('split')) }).toEqual({
          events: ['open', 'swapped'],
          split: [],
        });
      } finally {
        await fsp.rm(edge, { force: true });
        await fsp.rename(`${edge}.aside`, edge).catch(() => undefined);
        await fat.cleanup();
      }
    },
    180_000,
  );

  it('reads the set back from the folder it holds, never through a link swapped in after its check', async () => {
    const edge = path.join(stick.mountpoint, 'EdgeRecovery');
    const device = path.join(edge, 'hand-made');
    const evil = path.join(work, 'evil-read');
    await fsp.mkdir(path.join(evil, 'hand-made'), { recursive: true });
    await giveTo(OWNER, evil, path.join(evil, 'hand-made'));
    // The first open of data.tar.gz after the set is written is dd's (dropping it from the page cache, after the check
    // that the set's path names the held folder, before the read-back): held until the account has swapped
    // EdgeRecovery for a link to its folder, which holds a file of the same size named like the part.
    const watcher = await swapOnFirstOpen(OWNER, device, evil, 'data.tar.gz');
    const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');
    const io: RunbookIO = { emit: () => undefined, interaction: autoConfirm };
    const outcome = await runAdopt({ source: archive, profile, to: stick.mountpoint }, io).then(
      (r) => `ok: ${r.setDir}`,
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
    const events = await watcher.stop();
    // The swap landed before the read-back, which then read the part root holds, never the account's file; the path
    // moved, so the set is not reported as made. Before: the read-back opened the account's file (BACKUP_CORRUPT).
    expectHeldReadAfterSwap(outcome, events, 'data.tar.gz');
    // The set root made is removed where the account moved it.
    expect(await fsp.readdir(path.join(`${edge}.aside`, 'hand-made'))).toEqual([]);
  }, 180_000);
});
