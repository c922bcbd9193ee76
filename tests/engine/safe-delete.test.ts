import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTreeNoFollow } from '../../src-main/engine/util/safe-delete.js';

/** The delete used for set-aside folders, staging and rollback's discard: links are removed, never followed. */
describe('removeTreeNoFollow', () => {
  let work = '';
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('deletes a nested tree and removes links to folders and files outside it without touching what they point to', () => {
    work = mkdtempSync(join(tmpdir(), 'safe-delete-'));
    const outside = join(work, 'outside');
    mkdirSync(join(outside, 'keep'), { recursive: true });
    writeFileSync(join(outside, 'keep', 'precious'), 'do not delete');
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(join(tree, 'a', 'b', 'c', 'f'), 'x');
    symlinkSync(outside, join(tree, 'a', 'to-outside'));
    symlinkSync(join(outside, 'keep', 'precious'), join(tree, 'a', 'b', 'to-file'));
    symlinkSync('../../..', join(tree, 'a', 'b', 'up'));
    removeTreeNoFollow(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readFileSync(join(outside, 'keep', 'precious'), 'utf8')).toBe('do not delete');
  });

  it('removes a link given as the folder itself, not the folder it points to; a missing folder is fine', () => {
    work = mkdtempSync(join(tmpdir(), 'safe-delete-'));
    mkdirSync(join(work, 'real'));
    writeFileSync(join(work, 'real', 'f'), 'x');
    symlinkSync(join(work, 'real'), join(work, 'link'));
    removeTreeNoFollow(join(work, 'link'));
    expect(existsSync(join(work, 'link'))).toBe(false);
    expect(readFileSync(join(work, 'real', 'f'), 'utf8')).toBe('x');
    expect(() => removeTreeNoFollow(join(work, 'missing'))).not.toThrow();
  });
});
