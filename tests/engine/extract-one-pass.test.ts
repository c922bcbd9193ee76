import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, extractArchive, type ArchivePart } from '../../src-main/engine/archive/index.js';
import { manifestLine, type ManifestLine } from '../../src-main/engine/archive/manifest.js';
import { BLOCK } from '../../src-main/engine/archive/tar-header.js';
import { isRoot, snapshotTree, tempDir } from '../helpers/datasets.js';
import { tarEntry } from '../helpers/tar-corpus.js';

/**
 * The restore reads a backup once: it unpacks into staging and holds what it unpacked to the inner manifest
 * (the archive's last entry) at the end, and small files are created by writer threads. Both must be exactly
 * as safe and as exact as the two-pass extraction: same tree as GNU tar, refusals leave nothing behind.
 */
let work: string;
let src: string;
const FILES = 2600; // above the count from which writer threads start

beforeAll(async () => {
  work = await tempDir('extract-one-pass');
  src = path.join(work, 'src');
  for (let d = 0; d < 26; d++) {
    const dir = path.join(src, `d${d}`);
    await fsp.mkdir(dir, { recursive: true });
    for (let i = 0; i < FILES / 26; i++) {
      const f = path.join(dir, `f${i}.txt`);
      // Sizes from 0 to ~70 KiB, some above one batch's share; a few modes; distinct mtimes.
      await fsp.writeFile(f, `${d}:${i}:`.repeat((i * 37) % 7000));
      if (i % 5 === 0) await fsp.chmod(f, 0o600);
      if (i % 7 === 0) await fsp.chmod(f, 0o755);
      await fsp.utimes(f, 1_600_000_000 + i, 1_600_000_000 + i);
    }
    await fsp.utimes(dir, 1_500_000_000 + d, 1_500_000_000 + d);
  }
  // One file bigger than the writers take: written by the extracting thread itself, in the same run.
  await fsp.writeFile(path.join(src, 'big.bin'), Buffer.alloc(600_000, 7));
});

afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('one-pass extraction with writer threads', () => {
  for (const writers of [undefined, 0, 1]) {
    it(`unpacks ${FILES} small files exactly as GNU tar does (writers: ${writers ?? 'by core count'})`, async () => {
      const out = path.join(work, `set-${writers}`);
      await fsp.mkdir(out);
      const r = await createArchive({ items: [{ id: 'app', path: src }], outDir: out }, {});
      const stage = path.join(work, `stage-${writers}`);
      const inner = path.join(work, `inner-${writers}.jsonl`);
      const progress: number[] = [];
      const x = await extractArchive(
        out,
        {
          parts: r.parts,
          targets: { app: stage },
          manifestOut: inner,
          totalFiles: r.files,
          limits: { files: r.files, contentBytes: r.contentBytes, entries: r.files + 27 },
          ...(writers !== undefined ? { writers } : {}),
        },
        { onProgress: (p) => progress.push(p.files) },
      );
      expect(x.files).toBe(FILES + 1);
      expect(x.contentBytes).toBe(r.contentBytes);
      expect(x.items).toEqual({ app: { files: FILES + 1, contentBytes: r.contentBytes } });
      expect(progress.at(-1)).toBe(FILES + 1);
      // The inner manifest was kept, as the archive holds it.
      const gnu = path.join(work, `gnu-${writers}`);
      await fsp.mkdir(gnu);
      execFileSync('tar', ['-xzpf', path.join(out, r.parts[0]!.name), '-C', gnu]);
      expect(readFileSync(inner, 'utf8')).toBe(readFileSync(path.join(gnu, '.edge-recovery/files.jsonl'), 'utf8'));
      // Same tree (without a policy the archive's modes minus group/other write: none here have it).
      expect(snapshotTree(stage)).toEqual(snapshotTree(path.join(gnu, 'app')));
      await fsp.rm(stage, { recursive: true });
    });
  }

  it.skipIf(!isRoot)(
    'gives every file the policy owner, mode and its time, also those the writers create',
    async () => {
      const out = path.join(work, 'set-owner');
      await fsp.mkdir(out);
      const r = await createArchive({ items: [{ id: 'app', path: src }], outDir: out }, {});
      const stage = path.join(work, 'stage-owner');
      const x = await extractArchive(
        out,
        {
          parts: r.parts,
          targets: { app: stage },
          totalFiles: r.files,
          owner: {
            uid: 65534,
            gid: 65534,
            dirMode: 0o750,
            fileMode: 0o640,
            exceptions: [{ glob: 'app/d3/**', fileMode: 0o664 }],
          },
        },
        {},
      );
      let n = 0;
      for (const d of readdirSync(stage)) {
        const dir = path.join(stage, d);
        const ds = statSync(dir);
        expect([ds.uid, ds.gid]).toEqual([65534, 65534]);
        if (!ds.isDirectory()) continue;
        expect(ds.mode & 0o7777).toBe(0o750);
        for (const f of readdirSync(dir)) {
          const st = statSync(path.join(dir, f));
          expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([65534, 65534, d === 'd3' ? 0o664 : 0o640]);
          expect(st.mtimeMs).toBe(statSync(path.join(src, d, f)).mtimeMs);
          n++;
        }
      }
      expect(n).toBe(FILES);
      // Every path looked at as the disk keeps it: 2600 small files, the big one, the 26 folders and the item.
      expect(x.owners).toEqual({ checked: FILES + 1 + 26 + 1, wrong: 0, first: [] });
    },
  );

  it('refuses a file whose data differs from the inner manifest, at the end, and leaves nothing behind', async () => {
    const a = await handArchive('bad-sum', 2100, (i, m) => (i === 1500 ? { ...m, sha256: '0'.repeat(64) } : m));
    await expectNothingLeft(a, /app\/d15\/f1500 does not match its checksum/, 'BACKUP_CORRUPT');
  });

  it('refuses a duplicate small file found by a writer thread, and leaves nothing behind', async () => {
    const a = await handArchive('dup', 2100, (_i, m) => m, 'd0/f7');
    await expectNothingLeft(a, /d0\/f7.*duplicate entry/, 'HOSTILE_ARCHIVE');
  });

  it('refuses an archive whose inner manifest is missing', async () => {
    const a = await handArchive('no-inner', 2100, (_i, m) => m, undefined, false);
    await expectNothingLeft(a, /inner manifest is missing/, 'BACKUP_CORRUPT');
  });
});

/** A hand-made archive of `n` small files in folders of 100, with an inner manifest edited by `edit`. */
async function handArchive(
  name: string,
  n: number,
  edit: (i: number, m: ManifestLine) => ManifestLine,
  duplicate?: string,
  withInner = true,
): Promise<{ dir: string; parts: ArchivePart[]; files: number }> {
  const dir = path.join(work, name);
  await fsp.mkdir(dir);
  const blocks: Buffer[] = [];
  const lines: string[] = [JSON.stringify({ format: 'edge-recovery-files', version: 1, items: [{ id: 'app' }] })];
  const add = (p: string, type: 'file' | 'dir', data: Buffer, i: number): void => {
    const h = tarEntry(blocks, { path: p, type, data });
    const m: ManifestLine = { ...h, path: p };
    if (type === 'file') m.sha256 = createHash('sha256').update(data).digest('hex');
    lines.push(manifestLine(edit(i, m)));
  };
  add('app', 'dir', Buffer.alloc(0), -1);
  let files = 0;
  for (let i = 0; i < n; i++) {
    const d = `app/d${Math.floor(i / 100)}`;
    if (i % 100 === 0) add(d, 'dir', Buffer.alloc(0), -1);
    add(`${d}/f${i}`, 'file', Buffer.from(`file ${i}\n`.repeat(i % 50)), i);
    files++;
    if (duplicate !== undefined && i === 50) {
      add(`app/${duplicate}`, 'file', Buffer.from('again'), i);
      files++;
    }
  }
  if (withInner)
    tarEntry(blocks, { path: '.edge-recovery/files.jsonl', type: 'file', data: Buffer.from(lines.join('\n') + '\n') });
  blocks.push(Buffer.alloc(2 * BLOCK));
  const gz = gzipSync(Buffer.concat(blocks));
  await fsp.writeFile(path.join(dir, 'data.tar.gz'), gz);
  return {
    dir,
    parts: [{ name: 'data.tar.gz', size: gz.length, sha256: createHash('sha256').update(gz).digest('hex') }],
    files,
  };
}

async function expectNothingLeft(
  a: { dir: string; parts: ArchivePart[]; files: number },
  msg: RegExp,
  code: string,
): Promise<void> {
  const stage = path.join(work, `stage-${path.basename(a.dir)}`);
  const inner = path.join(work, `inner-${path.basename(a.dir)}.jsonl`);
  const before = readdirSync(work).sort();
  const err = await extractArchive(
    a.dir,
    { parts: a.parts, targets: { app: stage }, manifestOut: inner, totalFiles: a.files },
    {},
  ).catch((e: unknown) => e);
  expect(err).toMatchObject({ code });
  expect((err as Error).message).toMatch(msg);
  expect(existsSync(stage)).toBe(false);
  expect(existsSync(inner)).toBe(false);
  // Nothing else either: no partial inner manifest, no spool.
  expect(readdirSync(work).sort()).toEqual(before);
}
