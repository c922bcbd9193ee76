import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive } from '../../src-main/engine/archive/index.js';
import { isRoot, LONG_DIR, makeRichTree, tempDir, UNICODE_NAME } from '../helpers/datasets.js';

/**
 * A second, independent tar implementation (node-tar's parser) reads our archives the same way GNU tar does:
 * names, types, sizes, modes, mtimes, link targets and owner names. Our writer is our own (node-tar writes no
 * gname and is slow on small files), so this checks it against someone else's reading of the format.
 */
describe('our archives, read by node-tar', () => {
  let work: string;
  let archive: string;

  beforeAll(async () => {
    work = await tempDir('node-tar-');
    const src = path.join(work, 'src');
    await fsp.mkdir(src);
    await makeRichTree(src);
    const out = path.join(work, 'out');
    await fsp.mkdir(out);
    await createArchive({ items: [{ id: 'eds', path: src }], outDir: out }, {});
    archive = path.join(out, 'data.tar.gz');
  });

  afterAll(async () => {
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('lists every entry with the type, size, mode, mtime, link and owner names we wrote', async () => {
    const seen = new Map<string, tar.ReadEntry['header']>();
    await tar.t({ file: archive, onReadEntry: (e) => void seen.set(e.path, e.header) });
    const longFile = seen.get(`eds/data/${LONG_DIR}/${UNICODE_NAME}`);
    expect(longFile?.size).toBe(Buffer.byteLength('long and non-ASCII\n'));
    expect(longFile?.mtime?.getTime()).toBe(1_600_000_004_000);
    expect(seen.get('eds/conf/secret.key')).toMatchObject({ type: 'File', mode: 0o600 });
    expect(seen.get('eds/data/')).toMatchObject({ type: 'Directory', mode: 0o2775 });
    expect(seen.get('eds/conf/empty/')).toMatchObject({ type: 'Directory' });
    expect(seen.get('eds/current.json')).toMatchObject({ type: 'SymbolicLink', linkpath: 'conf/app.json' });
    expect(seen.get('eds/data/big.bin')?.size).toBe(3 * 1024 * 1024 + 17);
    if (isRoot) expect(seen.get('eds/conf/app.json')).toMatchObject({ uname: 'nobody', gname: 'nogroup' });
    // Every header carries both names (node-tar's own writer would leave gname out).
    for (const [p, h] of seen) {
      expect(h.uname, p).toBeTruthy();
      expect(h.gname, p).toBeTruthy();
    }
    // The inner manifest is the last entry.
    expect([...seen.keys()].at(-1)).toBe('.edge-recovery/files.jsonl');
  });
});
