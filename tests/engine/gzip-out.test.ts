import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GzipOut } from '../../src-main/engine/archive/gzip-out.js';
import type { PartWriter } from '../../src-main/engine/archive/part-writer.js';

/**
 * Batches are compressed as gzip members on reused compressors (each written with Z_FINISH, then reset) and written in
 * order whichever lane finishes first: stock gzip and Node's gunzip must read back exactly the batches.
 */
describe('gzip members on reused compressors', () => {
  it('writes every batch, in order, as members that gzip -d and gunzip read back', async () => {
    const written: Buffer[] = [];
    const writer = { write: (b: Buffer) => void written.push(Buffer.from(b)) } as unknown as PartWriter;
    const out = new GzipOut(1, null, writer, 3);
    const batches: Buffer[] = [];
    let consumed = 0;
    for (let i = 0; i < 25; i++) {
      // Compressible and incompressible, small, a whole batch, and one whose member is over zlib's output chunk
      // (a member is one write with Z_FINISH: then it takes a second pass, and the lane's buffer grows).
      const size = [1, 700, 64 * 1024, 1024 * 1024, 2560 * 1024][i % 5]!;
      const b = i % 2 === 0 ? randomBytes(size) : Buffer.alloc(size, i);
      batches.push(Buffer.from(b));
      await out.write(b, () => consumed++);
    }
    await out.end();
    expect(consumed).toBe(25);
    const gz = Buffer.concat(written);
    const all = Buffer.concat(batches);
    expect(gunzipSync(gz).equals(all)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 * 1024 * 1024 }).equals(all)).toBe(true);
    // One member per batch: each starts with the gzip magic and deflate method (1f 8b 08).
    let members = 0;
    for (
      let i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08]));
      i !== -1;
      i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), i + 1)
    ) {
      members++;
    }
    expect(members).toBeGreaterThanOrEqual(25);
  });
});
