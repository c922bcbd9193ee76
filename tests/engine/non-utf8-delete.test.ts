import { existsSync, mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discardInto, removeTreeNoFollow } from '../../src-main/engine/util/safe-delete.js';

/**
 * Deleting by descriptor listed each folder's names as strings: a name that is not UTF-8 (ISO-8859-1 `caf\xE9`)
 * came back with U+FFFD, could not be removed by that name, and the folder never emptied ("Entries keep appearing
 * in a folder being deleted."). That broke `finish` (deleting the set-aside folders: a restore past its point of
 * no return that no resume could end), retention on the stick and the clean-up of staging folders.
 */
const latin1 = (dir: string, name: string, byte: number, rest = ''): Buffer =>
  Buffer.concat([Buffer.from(path.join(dir, name)), Buffer.from([byte]), Buffer.from(rest)]);

describe('deleting folders that hold names that are not UTF-8', () => {
  let work: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'non-utf8-delete-'));
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  function tree(at: string): void {
    mkdirSync(path.join(at, 'sub'), { recursive: true });
    writeFileSync(latin1(path.join(at, 'sub'), 'caf', 0xe9, '.json'), '{}\n');
    mkdirSync(latin1(at, 'dir', 0xff));
    writeFileSync(Buffer.concat([latin1(at, 'dir', 0xff), Buffer.from('/inner')]), 'x');
    writeFileSync(path.join(at, 'plain.txt'), 'x');
  }

  it('removeTreeNoFollow deletes the whole tree', () => {
    const t = path.join(work, 'tree');
    tree(t);
    removeTreeNoFollow(t);
    expect(existsSync(t)).toBe(false);
  });

  it('discardInto (how finish deletes a set-aside folder) deletes it too', () => {
    const victim = path.join(work, 'Configuration.before-restore-x');
    tree(victim);
    discardInto(path.join(work, '.edge-recovery-x'), victim, 'trash-Configuration');
    expect(existsSync(victim)).toBe(false);
  });
});
