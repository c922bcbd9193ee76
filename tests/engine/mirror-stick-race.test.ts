import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { runMirror } from '../../src-main/engine/schedule/mirror.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { handBackupInto, handProfile } from '../helpers/hand-product.js';
import { createLoopMount, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { shAs } from '../helpers/as-account.js';

/**
 * `mirror` copies backups onto a stick as root, and the stick is a filesystem other accounts may write: an ext4
 * stick whose EdgeRecovery/<device> folder is another account's (it made it, or the stick came that way), a FAT
 * stick the desktop mounts for the desktop user. The mirror judged EdgeRecovery/<device> without following links
 * (mkdirNoFollow), then made its hidden copy folder there and wrote every file into it by path. A real unprivileged
 * account (racer.mjs swap-mirror-tmp) moves that copy folder aside as soon as it appears and puts a link to a
 * root-only folder by its name: root's copies (names and contents from the set, which may be the same account's own
 * set on a stick) were created in the root-only folder (e.g. /etc/cron.d), and the mirror reported success.
 */
const OWNER = 'edge-rt';
const RACER = fileURLToPath(new URL('../helpers/racer.mjs', import.meta.url));
const ROUNDS = 12;

describe.skipIf(!isRoot || skipLoopTests)('mirror onto a stick another account may write, racing it', () => {
  let work: string;
  let from: string;
  let stick: LoopMount;
  let group: string;

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'mirror-stick-race-'));
    await fsp.chmod(work, 0o755); // the racer sees the stop file; the victim folder stays root's alone
    from = path.join(work, 'from');
    // Incompressible, so each copy takes a little while: several files are written one after another.
    const b = await handBackupInto(work, from, { name: 'blob.bin', data: randomBytes(4 << 20) });
    expect(b.code, b.stderr).toBe(0);
    stick = await createLoopMount(64);
    await fsp.chmod(path.dirname(stick.mountpoint), 0o755);
    await fsp.chmod(stick.mountpoint, 0o755);
    // The other account's folders on the stick (as a stick handed over, or made by that account, comes).
    group = path.join(stick.mountpoint, 'EdgeRecovery', 'hand-box');
    await fsp.mkdir(group, { recursive: true, mode: 0o755 });
    for (const d of [path.dirname(group), group]) await fsp.chown(d, uidForUser(OWNER)!, gidForGroup(OWNER)!);
  }, 180_000);

  afterAll(async () => {
    await stick?.cleanup();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  /**
   * Runs `round` up to ROUNDS times while the racer swaps every new folder in the device folder matching `pattern`
   * for a link to a root-only folder; returns what landed there and how each round ended.
   */
  async function race(
    name: string,
    pattern: string | undefined,
    round: (r: number) => Promise<unknown>,
  ): Promise<{ written: string[]; outcomes: string[]; swapped: number }> {
    const victim = path.join(work, `root-only-${name}`);
    await fsp.mkdir(victim, { mode: 0o700 });
    const stop = path.join(work, `stop-${name}`);
    const racer = spawn(
      'setpriv',
      [
        `--reuid=${uidForUser(OWNER)!}`,
        `--regid=${gidForGroup(OWNER)!}`,
        '--clear-groups',
        process.execPath,
        RACER,
        'swap-mirror-tmp',
        group,
        victim,
        stop,
        '300',
        ...(pattern === undefined ? [] : [pattern]),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let said = '';
    racer.stdout.on('data', (d: Buffer) => (said += d.toString()));
    const racerDone = new Promise<void>((resolve) => racer.on('close', () => resolve()));
    const outcomes: string[] = [];
    try {
      for (let r = 0; r < ROUNDS && (await fsp.readdir(victim)).length === 0; r++) {
        outcomes.push(
          await round(r).then(
            () => 'ok',
            (e: unknown) => String((e as { code?: string }).code ?? e),
          ),
        );
        // Root clears what the round left in the other account's folder (its copies, the folders moved aside).
        for (const n of await fsp.readdir(group)) await fsp.rm(path.join(group, n), { recursive: true, force: true });
      }
    } finally {
      await fsp.writeFile(stop, '');
      await racerDone;
    }
    const swapped = (JSON.parse(said.trim() || '{}') as { swapped?: number }).swapped ?? 0;
    return { written: await fsp.readdir(victim), outcomes, swapped };
  }

  it('root never writes a copy through a link swapped in for its copy folder', async () => {
    const r = await race('mirror', undefined, async (n) =>
      runMirror(
        {
          from,
          to: stick.mountpoint,
          toDevice: (await fsp.stat(stick.mountpoint)).dev,
          keep: 1,
          stateDir: path.join(work, `state-${n}`),
        },
        { emit: () => undefined, interaction: autoConfirm },
      ),
    );
    expect(r).toMatchObject({ written: [] });
    expect(r.swapped, `the racer swapped the copy folder (outcomes ${r.outcomes.join(', ')})`).toBeGreaterThan(0);
  }, 240_000);

  it('a backup never writes its set through a link swapped in for its set folder', async () => {
    const r = await race('backup', '^Backup_', async (n) =>
      runBackup(
        {
          profile: parseProfile(handProfile({ items: ['Configuration'] }), 'test'),
          to: stick.mountpoint,
          toDevice: (await fsp.stat(stick.mountpoint)).dev,
          root: path.join(work, 'root'),
          deviceId: 'hand-box',
          stateDir: path.join(work, `state-backup-${n}`),
        },
        { emit: () => undefined, interaction: autoConfirm },
      ),
    );
    expect(r).toMatchObject({ written: [] });
    expect(r.swapped, `the racer swapped the set folder (outcomes ${r.outcomes.join(', ')})`).toBeGreaterThan(0);
  }, 240_000);

  it("makes the typed --to below the stick's mount point without following a link the stick's owner put on the way", async () => {
    // The account's folder on the stick holds a link, by the name of a folder on the way to the --to the technician
    // types, to a root-only folder (one with a folder of that next name in it).
    const victim = path.join(work, 'root-only-to');
    await fsp.mkdir(path.join(victim, 'site-1'), { recursive: true, mode: 0o700 });
    const share = path.join(stick.mountpoint, 'share');
    await fsp.mkdir(share, { mode: 0o755 });
    await fsp.chown(share, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    shAs(OWNER, 'ln -s "$2" "$1/backups"', share, victim);
    try {
      const outcome = await runMirror(
        { from, to: path.join(share, 'backups', 'site-1'), keep: 1, stateDir: path.join(work, 'state-to-link') },
        { emit: () => undefined, interaction: autoConfirm },
      ).then(
        () => 'ok',
        (e: unknown) => String((e as { code?: string }).code ?? e),
      );
      expect({ outcome, inVictim: await fsp.readdir(path.join(victim, 'site-1')) }).toEqual({
        outcome: 'UNSAFE_PATH',
        inVictim: [],
      });
    } finally {
      await fsp.rm(share, { recursive: true, force: true });
    }
  });

  it("a glob's source folder judged on the stick and then swapped for a link to a root-only folder: nothing copied", async () => {
    // What the page's judge saw: a folder of the stick (its filesystem's device number goes to the job).
    const mine = path.join(stick.mountpoint, 'mine');
    await fsp.mkdir(path.join(mine, 'src'), { recursive: true });
    await fsp.writeFile(path.join(mine, 'src', 'shadow.bak'), "the stick's own file\n");
    for (const d of [mine, path.join(mine, 'src')]) await fsp.chown(d, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    const fromDevice = (await fsp.stat(path.join(mine, 'src'))).dev;
    const secretDir = path.join(work, 'var-backups');
    await fsp.mkdir(secretDir, { mode: 0o700 });
    await fsp.writeFile(path.join(secretDir, 'shadow.bak'), 'root:$y$secret\n', { mode: 0o600 });
    // Then the account whose folder it is swaps it for a link to a root-only folder of this machine.
    shAs(OWNER, 'mv "$1/src" "$1/src.old" && ln -s "$2" "$1/src"', mine, secretDir);
    const outcome = await runMirror(
      {
        from: path.join(mine, 'src'),
        fromDevice,
        to: stick.mountpoint,
        toDevice: (await fsp.stat(stick.mountpoint)).dev,
        keep: 1,
        glob: 'shadow.bak',
        stateDir: path.join(work, 'state-glob'),
      },
      { emit: () => undefined, interaction: autoConfirm },
    ).then(
      () => 'ok',
      (e: unknown) => String((e as { code?: string }).code ?? e),
    );
    const copied = path.join(stick.mountpoint, 'EdgeRecovery', 'files', 'shadow.bak');
    const text = await fsp.readFile(copied, 'utf8').catch(() => null);
    expect({ outcome, text }).toEqual({ outcome: 'UNSAFE_PATH', text: null });
  });
});
