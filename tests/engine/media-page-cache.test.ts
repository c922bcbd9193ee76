import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropPageCache } from '../../src-main/engine/media/page-cache.js';
import { SafeDir } from '../../src-main/engine/util/atomic-fs.js';

/** Bytes of `file` held in the page cache, from util-linux's fincore. */
function residentBytes(file: string): number {
  return Number(
    execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim(),
  );
}

const fincore = existsSync('/usr/bin/fincore');
if (!fincore && process.env.CI) throw new Error('fincore (util-linux) is needed to check the page cache');

describe.skipIf(!fincore || process.platform !== 'linux')('dropping the page cache before a verify', () => {
  it('makes the next read of a written, fsynced file come from the disk, not memory', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'page-cache-'));
    const file = path.join(dir, 'data.tar.gz');
    try {
      const fh = await fsp.open(file, 'w');
      await fh.writeFile(randomBytes(8 * 1024 * 1024));
      await fh.sync();
      await fh.close();
      await fsp.readFile(file);
      expect(residentBytes(file)).toBeGreaterThan(4 * 1024 * 1024);
      expect(await dropPageCache(file)).toBe(true);
      expect(residentBytes(file)).toBe(0);
      expect(await dropPageCache(path.join(dir, 'missing'))).toBe(false);
      // Named through the folder held open (SafeDir.at, /proc/self/fd/N/…: how a backup names its own parts), which
      // dd, a child process, does not share: dropped all the same. Before: false, the cached copy stayed.
      await fsp.readFile(file);
      expect(residentBytes(file)).toBeGreaterThan(4 * 1024 * 1024);
      const held = await SafeDir.open(dir);
      try {
        expect(await dropPageCache(held.at('data.tar.gz'))).toBe(true);
      } finally {
        await held.close();
      }
      expect(residentBytes(file)).toBe(0);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
