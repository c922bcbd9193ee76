import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, verifyArchive, MANIFEST_PATH } from '../../src-main/engine/archive/index.js';
import { ReadHelper, SLOT_BYTES, sortedEntries } from '../../src-main/engine/archive/read-helper.js';
import { makeRichTree, mixedBlock, snapshotTree, tempDir } from '../helpers/datasets.js';

/**
 * The second reading thread (read-helper.ts) must not change a byte of the archive: the same tree archived with
 * and without it gives the same tar (up to the inner manifest's own header, which carries the time it was
 * written) and the same inner manifest; GNU tar restores it; the verify passes. The tree has what makes the
 * helper stop and hand back: folders mixing files, links and subfolders, a file larger than its slot, more
 * than a slot of small files in one folder, empty files.
 */
let work: string;
let src: string;

beforeAll(async () => {
  work = await tempDir('read-helper');
  src = path.join(work, 'src');
  await makeRichTree(path.join(src, 'rich'));
  for (let d = 0; d < 12; d++) {
    const dir = path.join(src, 'many', `d${String(d).padStart(2, '0')}`);
    await fsp.mkdir(dir, { recursive: true });
    for (let f = 0; f < 25; f++) {
      await fsp.writeFile(
        path.join(dir, `f${String(f).padStart(3, '0')}`),
        mixedBlock((f * 997 + d * 131) % 6000, f + d),
      );
    }
    if (d % 3 === 0) {
      await fsp.mkdir(path.join(dir, 'f010-sub'));
      await fsp.writeFile(path.join(dir, 'f010-sub', 'inner'), 'inner\n');
      await fsp.symlink('f000', path.join(dir, 'f005-link'));
    }
  }
  // The helper reads every other folder (d01, d03, …): one whose first file is larger than a slot, one with
  // more than a slot of small files, an empty one, one with an empty file.
  const more = async (name: string, files: [string, Buffer | string][]): Promise<void> => {
    await fsp.mkdir(path.join(src, 'many', name));
    for (const [f, data] of files) await fsp.writeFile(path.join(src, 'many', name, f), data);
  };
  await more('d12', []);
  await more('d13', [
    ['a-big', mixedBlock(SLOT_BYTES + 1000, 7)],
    ['b-small', 'small\n'],
  ]);
  await more('d14', [['x', 'x\n']]);
  await more(
    'd15',
    Array.from({ length: 120 }, (_, f) => [`f${String(f).padStart(3, '0')}`, mixedBlock(40 * 1024, f)]),
  );
  await more('d16', []);
  await more('d17', [['empty', '']]);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

function tarOf(dir: string): { tar: Buffer; manifestAt: number } {
  const tar = gunzipSync(readFileSync(path.join(dir, 'data.tar.gz')));
  const name = Buffer.from(`${MANIFEST_PATH}\0`);
  let at = tar.indexOf(name);
  while (at !== -1 && at % 512 !== 0) at = tar.indexOf(name, at + 1);
  expect(at).toBeGreaterThan(0);
  return { tar, manifestAt: at };
}

describe('archive reading helper', () => {
  it('writes exactly the archive one thread writes, which GNU tar restores and the verify accepts', async () => {
    const items = [{ id: 'data', path: src }];
    const one = path.join(work, 'one');
    const two = path.join(work, 'two');
    await fsp.mkdir(one);
    await fsp.mkdir(two);
    const a = await createArchive({ items, outDir: one, readHelper: false });
    const b = await createArchive({ items, outDir: two, readHelper: true });
    expect(b.files).toBe(a.files);
    expect(b.contentBytes).toBe(a.contentBytes);
    expect(b.dirs).toBe(a.dirs);
    expect(b.symlinks).toBe(a.symlinks);
    expect(b.owners).toEqual(a.owners);
    const ta = tarOf(one);
    const tb = tarOf(two);
    expect(tb.manifestAt).toBe(ta.manifestAt);
    expect(tb.tar.subarray(0, tb.manifestAt).equals(ta.tar.subarray(0, ta.manifestAt))).toBe(true);
    // The inner manifests: the same lines (after the manifest entry's header block).
    const body = (t: { tar: Buffer; manifestAt: number }): string =>
      t.tar.toString('utf8', t.manifestAt + 512).replace(/\0+$/, '');
    expect(body(tb)).toBe(body(ta));

    const out = path.join(work, 'restored');
    await fsp.mkdir(out);
    execFileSync('tar', ['-xzf', path.join(two, 'data.tar.gz'), '-C', out]);
    expect(snapshotTree(path.join(out, 'data'))).toEqual(snapshotTree(src));
    const v = await verifyArchive(two, { parts: b.parts, totalFiles: b.files });
    expect(v.files).toBe(b.files);
  });

  it('is stopped with the archive when the job is cancelled, leaving nothing behind', async () => {
    const out = path.join(work, 'cancelled');
    await fsp.mkdir(out);
    const ac = new AbortController();
    const job = createArchive(
      { items: [{ id: 'data', path: src }], outDir: out, readHelper: true, gzipLevel: 9 },
      { signal: ac.signal, onProgress: (p) => p.files > 0 && ac.abort() },
    );
    await expect(job).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(readdirSync(out)).toEqual([]);
  });

  it('reads a folder, and reports a file that reads shorter than its size says (sysfs) instead of writing it', async (ctx) => {
    const dir = '/sys/kernel/mm/transparent_hugepage';
    if (!existsSync(dir)) ctx.skip();
    const first = sortedEntries(dir)[0]!;
    expect(first.isFile()).toBe(true);
    const helper = new ReadHelper();
    try {
      // A plain folder: all its files, in the archive's order (the first test proves the bytes).
      const d01 = path.join(src, 'many', 'd01') + path.sep;
      helper.ask(d01, 'data/many/d01/');
      const ok = await helper.take(d01)!;
      expect(ok.reply?.names).toEqual(sortedEntries(d01).map((e) => e.name));
      expect(ok.reply?.done).toBe(25);
      ok.release();
      helper.ask(`${dir}/`, 'thp/');
      const got = await helper.take(`${dir}/`)!;
      expect(got.reply?.done).toBe(0);
      expect(got.reply?.shrank).toBe(first.name);
      got.release();
    } finally {
      await helper.close();
    }
    expect(readdirSync(dir).length).toBeGreaterThan(0);
  });
});
