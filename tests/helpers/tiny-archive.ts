import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createArchive } from '../../src-main/engine/archive/index.js';

/**
 * A backup smaller than one read (eight small files, ~7 KiB of archive) in `work`/tiny: one read takes it all before
 * the first entry has been checked or unpacked, which is where a meter at "100 %" could run ahead of the files.
 */
export async function tinyArchive(
  work: string,
): Promise<{ out: string; r: Awaited<ReturnType<typeof createArchive>> }> {
  const tiny = path.join(work, 'tiny-src');
  await fsp.mkdir(tiny);
  for (let i = 0; i < 8; i++) await fsp.writeFile(path.join(tiny, `f${i}.json`), `{"n":${i}}\n`.repeat(40 + i));
  const out = path.join(work, 'tiny');
  await fsp.mkdir(out);
  const r = await createArchive({ items: [{ id: 'eds', path: tiny }], outDir: out }, {});
  return { out, r };
}
