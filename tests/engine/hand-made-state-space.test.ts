import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, promises as fsp, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

/**
 * A restore of a hand-made archive first copies it, as a set of its own, into the state folder
 * (`<state>/restores/<id>/adopted`, /var/lib/edge-recovery: the system disk, where the product usually keeps its
 * data too), while the product still runs. Nothing checked the room for that copy: a large archive filled the
 * disk under the running product before the restore failed with "no space left". The staging copies are
 * checked before they are written; the adopted copy must be too.
 * The state folder here is a real 16 MiB ext4 (loop mount); the archive holds 24 MB of random data.
 */
let work: string;
let state: LoopMount;

/**
 * The loop disk stands for the machine's system disk: named as one of its own (EDGE_RECOVERY_OWN_FILESYSTEMS), or a
 * state folder on it is refused as one on a stick would be.
 */
function ownDisk(m: LoopMount): NodeJS.ProcessEnv {
  return { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_OWN_FILESYSTEMS: m.mountpoint };
}
let archive: string;

/**
 * A zip, as `zip -9` makes it, of Configuration/app.json and `count` files of 64 MiB of zeros in Storage/ (each
 * file its own deflate stream: no overlapping entries). 64 MiB of zeros deflate to ~65 KB at level 9 (1:1030),
 * and to ~290 KB at the level 1 our copy is written with (1:227): the copy comes out 4.5 times the archive.
 */
function writeZerosZip(file: string, count: number): void {
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  const data = deflateRawSync(zeros, { level: 9 });
  const crc = crc32(zeros);
  const entries: { name: Buffer; data: Buffer; crc: number; size: number }[] = [
    { name: Buffer.from('Configuration/app.json'), data: deflateRawSync(Buffer.from('{}')), crc: crc32('{}'), size: 2 },
  ];
  for (let i = 0; i < count; i++) {
    entries.push({ name: Buffer.from(`Storage/zeros-${i}.bin`), data, crc, size: zeros.length });
  }
  const fd = openSync(file, 'w');
  try {
    const central: Buffer[] = [];
    let off = 0;
    for (const e of entries) {
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(8, 8);
      local.writeUInt16LE(0x5921, 12);
      local.writeUInt32LE(e.crc, 14);
      local.writeUInt32LE(e.data.length, 18);
      local.writeUInt32LE(e.size, 22);
      local.writeUInt16LE(e.name.length, 26);
      writeSync(fd, Buffer.concat([local, e.name, e.data]));
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(0x031e, 4);
      cd.writeUInt16LE(20, 6);
      cd.writeUInt16LE(8, 10);
      cd.writeUInt16LE(0x5921, 14);
      cd.writeUInt32LE(e.crc, 16);
      cd.writeUInt32LE(e.data.length, 20);
      cd.writeUInt32LE(e.size, 24);
      cd.writeUInt16LE(e.name.length, 28);
      cd.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      cd.writeUInt32LE(off, 42);
      central.push(cd, e.name);
      off += 30 + e.name.length + e.data.length;
    }
    const dir = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(dir.length, 12);
    end.writeUInt32LE(off, 16);
    writeSync(fd, Buffer.concat([dir, end]));
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  if (skipLoopTests) return;
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-state-space-'));
  const src = path.join(work, 'src');
  await fsp.mkdir(path.join(src, 'Configuration'), { recursive: true });
  await fsp.mkdir(path.join(src, 'Storage'), { recursive: true });
  await fsp.writeFile(path.join(src, 'Configuration', 'app.json'), '{}');
  for (let i = 0; i < 3; i++) await fsp.writeFile(path.join(src, 'Storage', `s${i}.bin`), randomBytes(8_000_000));
  archive = path.join(work, 'hand.tar.gz');
  execFileSync('tar', ['-C', src, '-czf', archive, 'Configuration', 'Storage']);
  const root = path.join(work, 'root');
  for (const d of ['Configuration', 'Storage']) await fsp.mkdir(path.join(root, 'opt/hand', d), { recursive: true });
  await fsp.writeFile(path.join(root, 'opt/hand/Storage/live.dat'), 'the running product writes here');
  await fsp.writeFile(path.join(work, 'hand.json'), JSON.stringify(handProfile()));
  state = await createLoopMount(16, { name: 'state' });
}, 120_000);
afterAll(async () => {
  if (skipLoopTests) return;
  await state?.cleanup();
  await fsp.rm(work, { recursive: true, force: true });
});

describe.skipIf(skipLoopTests)(
  `a hand-made restore and the state folder's free space${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    it('is refused before the copy is written (exit 4) when the state folder cannot hold it', async () => {
      const before = (await fsp.statfs(state.mountpoint)).bavail;
      const r = await runCli(
        [
          'restore',
          archive,
          '--profile',
          path.join(work, 'hand.json'),
          '--allow-profile-commands',
          '--root',
          path.join(work, 'root'),
          '--state-dir',
          state.mountpoint,
          '--yes',
        ],
        { env: ownDisk(state) },
      );
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toMatch(/free/);
      // Nothing of the copy was written: the state disk has (about) the room it had.
      const after = (await fsp.statfs(state.mountpoint)).bavail;
      expect(before - after).toBeLessThan(64);
      expect(await fsp.readFile(path.join(work, 'root/opt/hand/Storage/live.dat'), 'utf8')).toBe(
        'the running product writes here',
      );
    });

    /**
     * attack7, MEDIUM: the room checked is the archive's size and a quarter, but the copy is recompressed at level 1.
     * A zip of zero-filled files made with `zip -9` (or a hostile one on a stick) comes out 4.5 times larger: the
     * check passed and the copy filled the state folder's disk (the system disk, where the product still runs and
     * writes) until "no space left on device". Failed before: the restore ended with ENOSPC from the copy, the disk
     * full for every account at that moment. Now the copy stops while 16 MiB are still free, and is removed.
     */
    it('stops the copy before the disk is full when it comes out larger than the archive (zip -9 of zeros)', async () => {
      const zip = path.join(work, 'zeros.zip');
      writeZerosZip(zip, 96);
      const big = await createLoopMount(48, { name: 'state2' });
      try {
        await copyRunsOutOfRoom(zip, big);
      } finally {
        await big.cleanup();
      }
    }, 300_000);
  },
);

/** The zip restored with the state folder on `state`, which has the room the check asks for and 1.5 MiB more. */
async function copyRunsOutOfRoom(zip: string, state: LoopMount): Promise<void> {
  const need = Math.ceil((await fsp.stat(zip)).size * 1.25) + 16 * 1024 * 1024;
  // The copy would need ~27 MiB.
  const filler = path.join(state.mountpoint, 'filler');
  const st = await fsp.statfs(state.mountpoint);
  const freeNow = Number(st.bavail) * Number(st.bsize);
  const fill = Math.floor((freeNow - need - 1.5 * 1024 * 1024) / 4096) * 4096;
  expect(fill, 'the state disk is large enough for the set-up').toBeGreaterThan(0);
  execFileSync('fallocate', ['-l', String(fill), filler]);
  try {
    const s0 = await fsp.statfs(state.mountpoint);
    const before = Number(s0.bavail) * Number(s0.bsize);
    expect(before).toBeGreaterThanOrEqual(need);
    let lowest = before;
    const watch = setInterval(() => {
      void fsp.statfs(state.mountpoint).then((s) => {
        lowest = Math.min(lowest, Number(s.bavail) * Number(s.bsize));
      });
    }, 5);
    let r;
    try {
      r = await runCli(
        [
          'restore',
          zip,
          '--profile',
          path.join(work, 'hand.json'),
          '--allow-profile-commands',
          '--root',
          path.join(work, 'root'),
          '--state-dir',
          state.mountpoint,
          '--yes',
        ],
        { env: ownDisk(state) },
      );
    } finally {
      clearInterval(watch);
    }
    expect(r.stderr, r.stdout + r.stderr).not.toMatch(/no space left|ENOSPC/i);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toMatch(/outgrew the free space.*before the disk was full/s);
    // Other accounts (the product) never saw the disk nearly full.
    expect(lowest / 2 ** 20).toBeGreaterThan(8);
    // The copy is gone again: the disk has (about) the room it had.
    const s1 = await fsp.statfs(state.mountpoint);
    expect(before - Number(s1.bavail) * Number(s1.bsize)).toBeLessThan(1024 * 1024);
    expect(await fsp.readFile(path.join(work, 'root/opt/hand/Storage/live.dat'), 'utf8')).toBe(
      'the running product writes here',
    );
  } finally {
    await fsp.rm(filler, { force: true });
  }
}
