import { closeSync, openSync, promises as fsp, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

/**
 * Reading a hand-made archive (verify, and the restore's checked copy) lists every entry's manifest line in a spool
 * file in the system's temporary folder (os.tmpdir(): /tmp, the system disk, where the product keeps its data too),
 * about 190 bytes per entry, while the product runs. A zip of empty files costs about 120 bytes per entry: a
 * hostile one (or a large hand-made one) made the spool grow until that disk was full. The copy's own disk was
 * watched (b684e5c), the spool's never. Here the temporary folder is a real 48 MiB ext4 (TMPDIR).
 */
let work: string;
let tmp: LoopMount;

/** A zip (stored, no compression) of `count` empty files Configuration/f<n>. */
function writeEmptyFilesZip(file: string, count: number): void {
  const fd = openSync(file, 'w');
  try {
    const central: Buffer[] = [];
    let off = 0;
    let chunk: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const name = Buffer.from(`Configuration/f${String(i).padStart(7, '0')}`);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(10, 4);
      local.writeUInt16LE(0x5921, 12);
      local.writeUInt16LE(name.length, 26);
      chunk.push(local, name);
      if (chunk.length > 2000) {
        writeSync(fd, Buffer.concat(chunk));
        chunk = [];
      }
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(0x031e, 4);
      cd.writeUInt16LE(10, 6);
      cd.writeUInt16LE(0x5921, 14);
      cd.writeUInt16LE(name.length, 28);
      cd.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      cd.writeUInt32LE(off, 42);
      central.push(cd, name);
      off += 30 + name.length;
    }
    writeSync(fd, Buffer.concat(chunk));
    const dir = Buffer.concat(central);
    // More than 65,535 entries: the zip64 end record and its locator, as zip writes them.
    const e64 = Buffer.alloc(56);
    e64.writeUInt32LE(0x06064b50, 0);
    e64.writeBigUInt64LE(44n, 4);
    e64.writeUInt16LE(45, 12);
    e64.writeUInt16LE(45, 14);
    e64.writeBigUInt64LE(BigInt(count), 24);
    e64.writeBigUInt64LE(BigInt(count), 32);
    e64.writeBigUInt64LE(BigInt(dir.length), 40);
    e64.writeBigUInt64LE(BigInt(off), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(off + dir.length), 8);
    loc.writeUInt32LE(1, 16);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(dir.length, 12);
    end.writeUInt32LE(off, 16);
    writeSync(fd, Buffer.concat([dir, e64, loc, end]));
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  if (skipLoopTests) return;
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-spool-space-'));
  await fsp.writeFile(path.join(work, 'hand.json'), JSON.stringify(handProfile()));
  tmp = await createLoopMount(48, { name: 'tmp' });
}, 120_000);
afterAll(async () => {
  if (skipLoopTests) return;
  await tmp?.cleanup();
  await fsp.rm(work, { recursive: true, force: true });
});

describe.skipIf(skipLoopTests)(
  `a hand-made archive's file list and the temporary folder's free space${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    it('verify stops (exit 4) while 16 MiB of the temporary folder are still free, its spool removed', async () => {
      // 260,000 entries: a 31 MB zip whose file list needs ~50 MB, more than the temporary folder holds.
      const zip = path.join(work, 'many.zip');
      writeEmptyFilesZip(zip, 260_000);
      const s0 = await fsp.statfs(tmp.mountpoint);
      const before = Number(s0.bavail) * Number(s0.bsize);
      let lowest = before;
      const watch = setInterval(() => {
        void fsp.statfs(tmp.mountpoint).then((s) => {
          lowest = Math.min(lowest, Number(s.bavail) * Number(s.bsize));
        });
      }, 5);
      let r;
      try {
        r = await runCli(['verify', zip, '--profile', path.join(work, 'hand.json')], {
          env: { EDGE_RECOVERY_PDF: 'off', TMPDIR: tmp.mountpoint },
        });
      } finally {
        clearInterval(watch);
      }
      expect(r.stderr, r.stdout + r.stderr).not.toMatch(/no space left|ENOSPC|medium is full/i);
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toMatch(/temporary folder/);
      // Other accounts (the product) never saw the disk nearly full, and the spool is gone again.
      expect(lowest / 2 ** 20).toBeGreaterThan(8);
      // It did get going (the disk had room for 16 MiB more at the start): the list grew by more than 8 MiB first.
      expect(before / 2 ** 20).toBeGreaterThan(32);
      expect((before - lowest) / 2 ** 20).toBeGreaterThan(8);
      const s1 = await fsp.statfs(tmp.mountpoint);
      expect(before - Number(s1.bavail) * Number(s1.bsize)).toBeLessThan(1024 * 1024);
    }, 300_000);
  },
);
