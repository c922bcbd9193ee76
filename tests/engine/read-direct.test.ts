import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, promises as fsp, readFileSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, verifyArchive } from '../../src-main/engine/archive/index.js';
import { tempDir } from '../helpers/datasets.js';
import { createLoopMount, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

/**
 * A read-back proves what is on the medium only if it reads the medium: parts are read with O_DIRECT where the
 * filesystem takes it (read-pipeline.ts). Here the bytes of a part are changed on the device underneath the
 * kernel's cached copy of the file (through the loop device's image); the cached copy still holds the old bytes,
 * and the verify must see the new ones.
 */

let work: string;
let src: string;

beforeAll(async () => {
  work = await tempDir('read-direct');
  src = path.join(work, 'src');
  await fsp.mkdir(path.join(src, 'data'), { recursive: true });
  // Random data does not compress: the part spans several 1 MiB reads and ends in a partial one.
  await fsp.writeFile(path.join(src, 'data', 'a.bin'), randomBytes(1024 * 1024 + 4099));
  await fsp.writeFile(path.join(src, 'data', 'b.bin'), randomBytes(1024 * 1024 + 17));
  await fsp.writeFile(path.join(src, 'data', 'c.txt'), 'small\n');
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** Where byte `at` of `file` lies in the filesystem's image (FIEMAP through filefrag: its first extent). */
function imageOffset(file: string, at: number): number {
  const out = execFileSync('filefrag', ['-v', file], { encoding: 'utf8' });
  const bs = Number(/blocks? of (\d+) bytes/.exec(out)?.[1]);
  const first = /^\s*0:\s+0\.\.\s*(\d+):\s+(\d+)\.\./m.exec(out);
  if (!bs || !first) throw new Error(`cannot read the extents of ${file}:\n${out}`);
  const [lastLogical, physical] = [Number(first[1]), Number(first[2])];
  if (at >= (lastLogical + 1) * bs) throw new Error('the byte is not in the first extent');
  return physical * bs + at;
}

function byteAt(file: string, at: number, flags = 'r'): number {
  const fd = openSync(file, flags);
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  closeSync(fd);
  return b[0]!;
}

describe('the read-back reads the medium, not the page cache', () => {
  it.skipIf(skipLoopTests)(
    'sees bytes changed on the device under a cached copy of the part, and says it read directly',
    async () => {
      let m: LoopMount | null = null;
      try {
        m = await createLoopMount(64);
        const setDir = path.join(m.mountpoint, 'Backup_x');
        await fsp.mkdir(setDir);
        const r = await createArchive({ items: [{ id: 'data', path: path.join(src, 'data') }], outDir: setDir }, {});
        expect(r.parts).toHaveLength(1);
        const part = path.join(setDir, r.parts[0]!.name);
        expect(r.parts[0]!.size).toBeGreaterThan(2 * 1024 * 1024);
        const opts = { parts: r.parts, totalFiles: r.files, gzipMembers: r.gzipMembers };

        const ok = await verifyArchive(setDir, opts, {});
        expect(ok).toMatchObject({ files: 3, direct: true });

        // The whole part in the page cache, then one byte changed on the device underneath it.
        const cached = readFileSync(part);
        const at = 5000;
        const off = imageOffset(part, at);
        const fd = openSync(m.image, 'r+');
        const b = Buffer.alloc(1);
        readSync(fd, b, 0, 1, off);
        expect(b[0]).toBe(cached[at]); // the extent map is right: the image holds the part's byte there
        b[0] = b[0]! ^ 0x5a;
        writeSync(fd, b, 0, 1, off);
        closeSync(fd);
        // The cached copy still says the old byte (else this test would prove nothing) …
        expect(byteAt(part, at)).toBe(cached[at]);

        // … and the verify reads the new one.
        const err = await verifyArchive(setDir, opts, {}).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'BACKUP_CORRUPT', details: { part: r.parts[0]!.name } });
      } finally {
        await m?.cleanup();
      }
    },
    60_000,
  );

  // ramfs takes no O_DIRECT (tmpfs does since Linux 6.6, FUSE and the disk filesystems do).
  it.skipIf(skipLoopTests)(
    'reads through the cache where the filesystem refuses O_DIRECT (ramfs), and says so',
    async () => {
      const mnt = path.join(work, 'ramfs');
      await fsp.mkdir(mnt);
      execFileSync('mount', ['-t', 'ramfs', 'none', mnt]);
      try {
        const setDir = path.join(mnt, 'Backup_x');
        await fsp.mkdir(setDir);
        const r = await createArchive({ items: [{ id: 'data', path: path.join(src, 'data') }], outDir: setDir }, {});
        const v = await verifyArchive(setDir, { parts: r.parts, totalFiles: r.files, gzipMembers: r.gzipMembers }, {});
        expect(v).toMatchObject({ files: 3, direct: false });
        // A damaged part is still found.
        const part = path.join(setDir, r.parts[0]!.name);
        const fd = openSync(part, 'r+');
        writeSync(fd, Buffer.from([byteAt(part, 3000) ^ 0x5a]), 0, 1, 3000);
        closeSync(fd);
        const err = await verifyArchive(setDir, { parts: r.parts, gzipMembers: r.gzipMembers }, {}).catch(
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: 'BACKUP_CORRUPT', details: { part: r.parts[0]!.name } });
      } finally {
        execFileSync('umount', [mnt]);
      }
    },
    60_000,
  );
});
