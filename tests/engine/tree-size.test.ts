import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeSizes } from '../../src-main/engine/util/tree-size.js';
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
});
