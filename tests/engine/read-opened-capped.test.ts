import { closeSync, openSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOpenedCapped, readOpenedCappedSync } from '../../src-main/engine/util/given-path.js';

/**
 * The one "read to its size and one byte, refuse if it grew" loop behind readGivenFile, readSmallFileSync,
 * readStickText and the report reader: exactly the bytes fstat promised, or null for a file that grew after it.
 */
let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'read-capped-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('readOpenedCapped', () => {
  it('reads the whole file, and an empty one', async () => {
    const f = path.join(dir, 'a');
    await fsp.writeFile(f, 'hello\n');
    const fh = await fsp.open(f, 'r');
    try {
      const st = await fh.stat();
      expect((await readOpenedCapped(fh, st.size))?.toString()).toBe('hello\n');
    } finally {
      await fh.close();
    }
    const e = path.join(dir, 'empty');
    await fsp.writeFile(e, '');
    const fe = await fsp.open(e, 'r');
    try {
      expect((await readOpenedCapped(fe, 0))?.length).toBe(0);
    } finally {
      await fe.close();
    }
  });

  it('is null for a file that grew after its fstat, async and sync', async () => {
    const f = path.join(dir, 'grows');
    await fsp.writeFile(f, '12345');
    const fh = await fsp.open(f, 'r');
    const fd = openSync(f, 'r');
    try {
      const size = (await fh.stat()).size;
      await fsp.appendFile(f, '6');
      expect(await readOpenedCapped(fh, size)).toBeNull();
      expect(readOpenedCappedSync(fd, size)).toBeNull();
      expect(readOpenedCappedSync(fd, size + 1)?.toString()).toBe('123456');
    } finally {
      await fh.close();
      closeSync(fd);
    }
  });

  it('returns what is there for a file that shrank', async () => {
    const f = path.join(dir, 'shrinks');
    await fsp.writeFile(f, '12345');
    const fh = await fsp.open(f, 'r');
    try {
      const size = (await fh.stat()).size;
      await fsp.truncate(f, 2);
      expect((await readOpenedCapped(fh, size))?.toString()).toBe('12');
    } finally {
      await fh.close();
    }
  });
});
