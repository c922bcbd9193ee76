import { constants as zc, createGunzip, createGzip, gzipSync, type Gunzip, type Gzip, type ZlibReset } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ZlibLane } from '../../src-main/engine/archive/zlib-lane.js';
import { mixedBlock } from '../helpers/datasets.js';

/**
 * The compressor and decompressor lanes keep one output chunk for a whole archive by rewinding Node's private
 * `_outOffset` once a member's output was taken (zlib-lane.ts). That is what holds the backup, verify and restore of
 * 500,000 small files under their memory bound (without it: 146–176 MiB). A Node version that renames the field
 * or changes how chunks fill would silently bring the growth back: this test says so instead.
 */
class Probe extends ZlibLane {
  readonly chunks = new Set<ArrayBufferLike>();
  out = 0;

  constructor(gz: (Gzip | Gunzip) & ZlibReset) {
    super(gz);
    // Like the lanes: the output is taken (counted) synchronously, so the chunk is free once the member is done.
    gz.on('data', (c: Buffer) => {
      this.chunks.add(c.buffer);
      this.out += c.length;
    });
  }

  async member(b: Buffer, reuse: boolean): Promise<void> {
    this.run(b, reuse);
    await this.pending;
  }
}

const CHUNK = 1024 * 1024 + 64 * 1024;
/** 12 members of 512 KiB of ~55 % compressible data: ~3 MiB of output, more than two chunks' worth. */
const members = Array.from({ length: 12 }, (_, i) => mixedBlock(512 * 1024, i));

async function chunksUsed(make: () => (Gzip | Gunzip) & ZlibReset, input: Buffer[], reuse: boolean): Promise<number> {
  const p = new Probe(make());
  for (const m of input) await p.member(m, reuse);
  expect(p.out).toBeGreaterThan(2 * CHUNK); // the output would not fit in one chunk without rewinding
  p.destroy();
  return p.chunks.size;
}

describe('zlib lanes reuse one output chunk from member to member', () => {
  it('compressor: one chunk for all members with reuse (and more than one without: the probe sees it)', async () => {
    const gzip = (): Gzip & ZlibReset =>
      createGzip({ level: 1, memLevel: 9, chunkSize: CHUNK, flush: zc.Z_FINISH }) as Gzip & ZlibReset;
    // Incompressible halves make each member's output large (~300 KiB).
    const input = members.map((m, i) => Buffer.concat([m.subarray(0, 256 * 1024), mixedBlock(256 * 1024, 100 + i)]));
    expect(await chunksUsed(gzip, input, false)).toBeGreaterThan(1);
    expect(await chunksUsed(gzip, input, true)).toBe(1);
  });

  it('decompressor: one chunk for all members with reuse (and more than one without)', async () => {
    const gunzip = (): Gunzip & ZlibReset =>
      createGunzip({ chunkSize: CHUNK, flush: zc.Z_FINISH }) as Gunzip & ZlibReset;
    const input = members.map((m) => gzipSync(m, { level: 1 }));
    expect(await chunksUsed(gunzip, input, false)).toBeGreaterThan(1);
    expect(await chunksUsed(gunzip, input, true)).toBe(1);
  });
});
