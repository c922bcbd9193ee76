import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PartWriter } from '../../src-main/engine/archive/part-writer.js';
import { tempDir } from '../helpers/datasets.js';

const MiB = 1024 * 1024;

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Waits until the background flushes have let go of their descriptors (they close when their fdatasync ends). */
async function descriptorsBackTo(n: number): Promise<number> {
  for (let i = 0; i < 100 && openDescriptors() > n; i++) await new Promise((r) => setTimeout(r, 50));
  return openDescriptors();
}

/**
 * Every 32 MiB the part is flushed to the medium in the background (fdatasync on a second descriptor) while
 * writing goes on: the parts must still hold exactly the bytes written, with the right sizes and sha256, and
 * no descriptor may be left open, whether the writer commits or aborts.
 */
describe.runIf(process.platform === 'linux')('part writer with background flushes', () => {
  it('writes split parts byte for byte past several flushes and leaves no descriptor open', async () => {
    const dir = await tempDir('part-writer-');
    const before = openDescriptors();
    const w = new PartWriter(dir, 'data.tar.gz', 40 * MiB, () => undefined);
    const chunks: Buffer[] = [];
    // 100 MiB in uneven pieces: several background flushes in the first part, a part boundary mid-piece.
    for (let i = 0; i < 50; i++) {
      const b = randomBytes(2 * MiB + (i % 3) * 1000);
      chunks.push(b);
      w.write(b);
    }
    const parts = w.finish();
    w.commit();
    const all = Buffer.concat(chunks);
    expect(parts.map((p) => p.name)).toEqual(['data.tar.gz.001', 'data.tar.gz.002', 'data.tar.gz.003']);
    let off = 0;
    for (const p of parts) {
      const got = readFileSync(path.join(dir, p.name));
      expect(got.length).toBe(p.size);
      expect(got.equals(all.subarray(off, off + p.size))).toBe(true);
      expect(createHash('sha256').update(got).digest('hex')).toBe(p.sha256);
      off += p.size;
    }
    expect(off).toBe(all.length);
    expect(readdirSync(dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
    expect(await descriptorsBackTo(before)).toBe(before);
  });

  it('aborts mid-part with a flush under way: removes the partial file and closes every descriptor', async () => {
    const dir = await tempDir('part-writer-');
    const before = openDescriptors();
    const w = new PartWriter(dir, 'data.tar.gz', undefined, () => undefined);
    for (let i = 0; i < 17; i++) w.write(randomBytes(2 * MiB));
    w.abort();
    expect(readdirSync(dir)).toEqual([]);
    expect(await descriptorsBackTo(before)).toBe(before);
  });

  // Failed before: abort removed its `.partial` files by path (the folder's name joined to the file's), so a
  // folder renamed and replaced under it had root remove a file of that name in whatever now stood at the path,
  // and leave its own partial file behind.
  it('aborts in the folder it holds: a folder put in its place keeps its file of the same name', async () => {
    const root = await tempDir('part-writer-');
    const dir = path.join(root, 'set');
    mkdirSync(dir);
    const w = new PartWriter(dir, 'data.tar.gz', undefined, () => undefined);
    w.write(randomBytes(MiB));
    const [partial] = readdirSync(dir);
    expect(partial).toMatch(/\.partial$/);
    renameSync(dir, path.join(root, 'moved'));
    mkdirSync(dir);
    writeFileSync(path.join(dir, partial!), "not the writer's");
    w.abort();
    expect(readFileSync(path.join(dir, partial!), 'utf8')).toBe("not the writer's");
    expect(readdirSync(path.join(root, 'moved'))).toEqual([]);
  });
});
