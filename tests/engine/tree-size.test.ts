import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sizeTrees } from '../../src-main/engine/archive/index.js';
import { mergeTreeSizes, treeSizes } from '../../src-main/engine/util/tree-size.js';
import { tempDir } from '../helpers/datasets.js';

/** The backup's pre-check walk: its sizes are the space check and the archive's progress totals. */
let root: string;
beforeAll(async () => {
  root = await tempDir('tree-size');
  await fsp.mkdir(path.join(root, 'a', 'b', 'c'), { recursive: true });
  await fsp.mkdir(path.join(root, 'empty'));
  await fsp.writeFile(path.join(root, 'one'), 'x'.repeat(10));
  await fsp.writeFile(path.join(root, 'a', 'two'), 'y'.repeat(200));
  await fsp.writeFile(path.join(root, 'a', 'b', 'c', 'three'), 'z'.repeat(3000));
  await fsp.writeFile(path.join(root, 'a', 'b', 'zero'), '');
  await fsp.symlink('../two', path.join(root, 'a', 'b', 'inside'));
  await fsp.symlink('../../..', path.join(root, 'a', 'b', 'escapes'));
  await fsp.symlink('/etc/passwd', path.join(root, 'absolute'));
  execFileSync('mkfifo', [path.join(root, 'a', 'fifo')]);
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('treeSizes', () => {
  it('counts files, bytes, folders and the links that leave the folder, whichever way the root is written', () => {
    const missing = path.join(root, 'nope');
    for (const r of [root, `${root}/`, path.join(root, 'a', '..')]) {
      const [t, gone] = treeSizes([r, missing]);
      expect(t).toEqual({
        exists: true,
        bytes: 3210,
        files: 8,
        regularFiles: 4,
        dirs: 5,
        outsideLinks: [
          { path: 'absolute', target: '/etc/passwd' },
          { path: path.join('a', 'b', 'escapes'), target: '../../..' },
        ],
      });
      expect(gone!.exists).toBe(false);
    }
  });

  it('gives the same sizes when two walkers share the walk, whichever takes which sub-folder', () => {
    const missing = path.join(root, 'nope');
    const one = treeSizes([root, missing, path.join(root, 'a')]);
    // Walker 0 first takes every sub-folder, then walker 1 does (and then it gets none): both orders.
    for (const first of [0, 1]) {
      const claims = new Int32Array(new SharedArrayBuffer(12));
      const x = treeSizes([root, missing, path.join(root, 'a')], undefined, { claims, part: first });
      const y = treeSizes([root, missing, path.join(root, 'a')], undefined, { claims, part: 1 - first });
      const merged = mergeTreeSizes(first === 0 ? x : y, first === 0 ? y : x);
      expect(merged).toEqual(
        one.map((t) => ({ ...t, outsideLinks: [...t.outsideLinks].sort((l, m) => (l.path < m.path ? -1 : 1)) })),
      );
      expect(x[0]!.dirs).toBeGreaterThan(0);
      expect(y[0]!.exists).toBe(true);
    }
  });

  it('splits a wide tree between two worker threads and adds up to what one walk finds, with progress', async () => {
    const wide = await tempDir('tree-size-wide');
    try {
      for (let d = 0; d < 40; d++) {
        const dir = path.join(wide, `d${d}`, 'sub');
        await fsp.mkdir(dir, { recursive: true });
        for (let f = 0; f < 25; f++) await fsp.writeFile(path.join(dir, `f${f}`), 'q'.repeat(d + f));
      }
      await fsp.writeFile(path.join(wide, 'top'), 'top');
      const seen: number[] = [];
      const [two] = await sizeTrees([wide], { onProgress: (p) => seen.push(p.files) });
      const [one] = treeSizes([wide]);
      expect(two).toEqual(one);
      expect(two!.regularFiles).toBe(1001);
      expect(two!.dirs).toBe(81);
      expect(Math.max(...seen)).toBe(1001);
    } finally {
      await fsp.rm(wide, { recursive: true, force: true });
    }
  });
});
