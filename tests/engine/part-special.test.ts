import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, verifyArchive, type ArchiveResult } from '../../src-main/engine/archive/index.js';
import { tempDir } from '../helpers/datasets.js';

/**
 * A stick's backup set is untrusted: a part that is a link or a FIFO must not be followed or waited on. Here an
 * extra part recorded with size 0 (the sha256 of nothing) is planted in front of the real one.
 */
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

let work: string;
let set: { dir: string; r: ArchiveResult };
beforeAll(async () => {
  work = await tempDir('part-special');
  const src = path.join(work, 'src');
  await fsp.mkdir(src);
  await fsp.writeFile(path.join(src, 'a.txt'), 'hello\n');
  const dir = path.join(work, 'set');
  await fsp.mkdir(dir);
  set = { dir, r: await createArchive({ items: [{ id: 'eds', path: src }], outDir: dir }, {}) };
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function verifyWith(planted: { name: string; size: number; sha256: string }): Promise<unknown> {
  const parts = [planted, ...set.r.parts];
  return verifyArchive(set.dir, { parts, totalFiles: set.r.files, gzipMembers: set.r.gzipMembers }, {}).catch(
    (e: unknown) => e,
  );
}

describe('parts that are not regular files of the set', () => {
  it('refuses a part that is a link to a device, naming it (it passed as an empty part)', async () => {
    await fsp.symlink('/dev/null', path.join(set.dir, 'null-link'));
    expect(await verifyWith({ name: 'null-link', size: 0, sha256: EMPTY })).toMatchObject({
      code: 'BACKUP_CORRUPT',
      message: expect.stringMatching(/null-link is not a regular file \(it is a symbolic link\)/),
      details: { part: 'null-link' },
    });
  });

  it('refuses a part that is a link to a file outside the set, even one with the right bytes', async () => {
    const outside = path.join(work, 'outside');
    await fsp.copyFile(path.join(set.dir, set.r.parts[0]!.name), outside);
    await fsp.symlink(outside, path.join(set.dir, 'link'));
    const p = set.r.parts[0]!;
    expect(await verifyWith({ ...p, name: 'link' })).toMatchObject({
      code: 'BACKUP_CORRUPT',
      details: { part: 'link' },
    });
  });

  it('refuses a FIFO part without waiting for a writer', async () => {
    const fifo = path.join(set.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Without the check the open waits for a writer, forever: this one comes after 5 s and writes nothing, so
    // the unchecked read then takes the FIFO as an empty part that matches its checksum.
    let writer: ChildProcess | null = spawn('sh', ['-c', `sleep 5; : > '${fifo}'`], { stdio: 'ignore' });
    try {
      expect(await verifyWith({ name: 'fifo', size: 0, sha256: EMPTY })).toMatchObject({
        code: 'BACKUP_CORRUPT',
        message: expect.stringMatching(/fifo is not a regular file \(it is a FIFO/),
      });
    } finally {
      writer.kill('SIGKILL');
      writer = null;
    }
  }, 30_000);
});
