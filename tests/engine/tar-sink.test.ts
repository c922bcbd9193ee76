import { createHash } from 'node:crypto';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarSink } from '../../src-main/engine/archive/tar-sink.js';
import { tempDir } from '../helpers/datasets.js';

/**
 * The sink's two ways in (without a promise when the entry fits in the current batch, awaited when a batch is due)
 * must give the same bytes as the plain stream, at every batch boundary: small batches make every case happen.
 */
describe('tar sink batching', () => {
  it('writes exactly header, data and padding for each file, whichever path each one takes', async () => {
    const dir = await tempDir('sink');
    const batches: Buffer[] = [];
    const sink = new TarSink(async (b, done) => {
      batches.push(Buffer.from(b));
      done();
    }, 4096);
    const expected: Buffer[] = [];
    let fast = 0;
    let slow = 0;
    for (let i = 0; i < 60; i++) {
      const size = (i * 397) % 3000; // 0 … 2999 bytes: some fit, some straddle a batch end
      const data = Buffer.alloc(size, i + 1);
      const file = path.join(dir, `f${i}`);
      await fsp.writeFile(file, data);
      const header = Buffer.alloc(512, 200 + (i % 50));
      const pad = Buffer.alloc((512 - (size % 512)) % 512);
      expected.push(header, data, pad);
      const fd = openSync(file, 'r');
      const hash = createHash('sha256');
      let digest: string | false | null = null;
      if (sink.tryWrite(header)) digest = sink.copySmallFile(fd, size);
      else await sink.write(header);
      if (digest === null) {
        slow++;
        digest = (await sink.copyFile(fd, size, hash, () => undefined)) && hash.digest('hex');
      } else fast++;
      closeSync(fd);
      expect(digest).toBe(createHash('sha256').update(data).digest('hex'));
    }
    await sink.end();
    expect(fast).toBeGreaterThan(5);
    expect(slow).toBeGreaterThan(5);
    const all = Buffer.concat(batches);
    const body = Buffer.concat(expected);
    expect(all.subarray(0, body.length).equals(body)).toBe(true);
    // Then two zero blocks and zeros up to a whole 10 KiB record.
    expect(all.length % 10240).toBe(0);
    expect(all.subarray(body.length).every((b) => b === 0)).toBe(true);
    expect(batches.slice(0, -1).every((b) => b.length === 4096)).toBe(true);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reports a file that came up short on the path without a promise too', async () => {
    const dir = await tempDir('sink-short');
    const file = path.join(dir, 'f');
    await fsp.writeFile(file, Buffer.alloc(100, 1));
    const sink = new TarSink(async (_b, done) => done(), 4096);
    const fd = openSync(file, 'r');
    expect(sink.copySmallFile(fd, 200)).toBe(false);
    closeSync(fd);
    await fsp.rm(dir, { recursive: true, force: true });
  });
});
