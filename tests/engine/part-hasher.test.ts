import { randomBytes } from 'node:crypto';
import { closeSync, openSync, promises as fsp, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createArchive, verifyArchive, type ArchiveResult } from '../../src-main/engine/archive/index.js';
import { PartHasher } from '../../src-main/engine/archive/part-hasher.js';
import { readArchive } from '../../src-main/engine/archive/read-pipeline.js';
import { ProgressMeter } from '../../src-main/engine/progress.js';
import { tempDir } from '../helpers/datasets.js';

/**
 * Sets of 64 MiB and more have their parts' sha256 computed on a thread of its own (part-hasher.ts), from the
 * reading thread's shared buffers: the digests must be exactly the parts', part after part, and a damaged part
 * must still be named, plain or encrypted.
 */

const MiB = 1024 * 1024;
let work: string;
let src: string;
let plain: { dir: string; r: ArchiveResult };
let enc: { dir: string; r: ArchiveResult };

beforeAll(async () => {
  work = await tempDir('part-hasher');
  src = path.join(work, 'src');
  await fsp.mkdir(src);
  // Random data does not compress: ~70 MiB of parts, split in 24 MiB parts.
  await fsp.writeFile(path.join(src, 'a.bin'), randomBytes(30 * MiB + 123));
  await fsp.writeFile(path.join(src, 'b.bin'), randomBytes(30 * MiB));
  await fsp.writeFile(path.join(src, 'c.bin'), randomBytes(10 * MiB + 7));
  for (const [name, passphrase] of [
    ['plain', undefined],
    ['enc', 'pass phrase'],
  ] as const) {
    const dir = path.join(work, name);
    await fsp.mkdir(dir);
    const r = await createArchive(
      { items: [{ id: 'data', path: src }], outDir: dir, splitSize: 24 * MiB, ...(passphrase ? { passphrase } : {}) },
      {},
    );
    if (name === 'plain') plain = { dir, r };
    else enc = { dir, r };
  }
}, 120_000);
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function flipByte(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  writeSync(fd, Buffer.from([b[0]! ^ 0x5a]), 0, 1, at);
  closeSync(fd);
}

async function copySet(from: { dir: string }, name: string): Promise<string> {
  const d = path.join(work, name);
  await fsp.cp(from.dir, d, { recursive: true });
  return d;
}

describe('the parts hashed on their own thread', () => {
  it('gives each part its own digest, part after part, and the read succeeds', async () => {
    expect(plain.r.parts.length).toBeGreaterThanOrEqual(3);
    expect(plain.r.parts.reduce((a, p) => a + p.size, 0)).toBeGreaterThan(64 * MiB);
    const sums: string[] = [];
    // Count the digests the reading thread asks for, and check each against SHA256SUMS's value.
    const real = PartHasher.prototype.digest;
    const spy = vi.spyOn(PartHasher.prototype, 'digest').mockImplementation(async function (this: PartHasher) {
      const hex = await real.call(this);
      sums.push(hex);
      return hex;
    });
    let files = 0;
    await readArchive(
      plain.dir,
      plain.r.parts,
      undefined,
      { entry: () => undefined, data: () => undefined, end: () => void files++ },
      new ProgressMeter('verifying', { bytes: null, files: null }, () => undefined),
      undefined,
      plain.r.gzipMembers,
    );
    expect(spy).toHaveBeenCalledTimes(plain.r.parts.length);
    expect(sums).toEqual(plain.r.parts.map((p) => p.sha256));
    expect(files).toBeGreaterThanOrEqual(3);
  });

  it('verifies a plain and an encrypted set', async () => {
    await expect(
      verifyArchive(plain.dir, { parts: plain.r.parts, gzipMembers: plain.r.gzipMembers }, {}),
    ).resolves.toMatchObject({ files: 3 });
    await expect(
      verifyArchive(enc.dir, { parts: enc.r.parts, passphrase: 'pass phrase', gzipMembers: enc.r.gzipMembers }, {}),
    ).resolves.toMatchObject({ files: 3 });
  }, 60_000);

  it('names the damaged part, plain or encrypted', async () => {
    for (const [set, name, opts] of [
      [plain, 'plain-flipped', {}],
      [enc, 'enc-flipped', { passphrase: 'pass phrase' }],
    ] as const) {
      const d = await copySet(set, name);
      const second = set.r.parts[1]!;
      flipByte(path.join(d, second.name), Math.floor(second.size / 2));
      const err = await verifyArchive(d, { parts: set.r.parts, gzipMembers: set.r.gzipMembers, ...opts }, {}).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'BACKUP_CORRUPT', details: { part: second.name } });
    }
  }, 60_000);

  it('names a part that differs only where nothing but its checksum looks', async () => {
    // Bytes 4-7 of a gzip member are its MTIME, which gunzip ignores: only the part's sha256 sees a change there.
    const d = await copySet(plain, 'mtime-flipped');
    const first = plain.r.parts[0]!;
    flipByte(path.join(d, first.name), 5);
    const err = await verifyArchive(d, { parts: plain.r.parts, gzipMembers: plain.r.gzipMembers }, {}).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'BACKUP_CORRUPT', details: { part: first.name } });
  }, 60_000);
});
