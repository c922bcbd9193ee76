import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync, readdirSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, extractArchive, verifyArchive, type ArchivePart } from '../../src-main/engine/archive/index.js';
import { manifestLine, type ManifestLine } from '../../src-main/engine/archive/manifest.js';
import { BLOCK } from '../../src-main/engine/archive/tar-header.js';
import { isRoot, makeRichTree, snapshotTree, tempDir } from '../helpers/datasets.js';
import { tarEntry } from '../helpers/tar-corpus.js';
import { tinyArchive } from '../helpers/tiny-archive.js';

let work: string;
let src: string;

beforeAll(async () => {
  work = await tempDir('archive-extract');
  src = path.join(work, 'src');
  await fsp.mkdir(src);
  await makeRichTree(src);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

function partOf(dir: string, name: string): ArchivePart {
  const b = readFileSync(path.join(dir, name));
  return { name, size: b.length, sha256: createHash('sha256').update(b).digest('hex') };
}

type HandEntry = { path: string; type: 'file' | 'dir' | 'symlink'; data?: string; target?: string };

function line(e: HandEntry): string {
  const m: ManifestLine = {
    path: e.path.replace(/\/$/, ''),
    type: e.type,
    size: e.data?.length ?? 0,
    mode: e.type === 'dir' ? 0o755 : 0o644,
    mtime: 1_600_000_000,
    uname: 'root',
    gname: 'root',
    uid: 0,
    gid: 0,
  };
  if (e.type === 'file')
    m.sha256 = createHash('sha256')
      .update(e.data ?? '')
      .digest('hex');
  if (e.target !== undefined) m.target = e.target;
  return manifestLine(m);
}

/** A tar.gz built by hand from headers we control, plus an inner manifest that lists exactly those entries. */
async function handArchive(
  name: string,
  entries: HandEntry[],
  manifestEntries = entries,
): Promise<{ dir: string; parts: ArchivePart[]; manifestFile: string }> {
  const dir = path.join(work, name);
  await fsp.mkdir(dir);
  const blocks: Buffer[] = [];
  for (const e of entries) {
    tarEntry(blocks, {
      path: e.path,
      type: e.type,
      data: Buffer.from(e.data ?? ''),
      mode: e.type === 'dir' ? 0o755 : 0o644,
      ...(e.target !== undefined ? { linkpath: e.target } : {}),
    });
  }
  const manifest =
    [
      JSON.stringify({ format: 'edge-recovery-files', version: 1, items: [{ id: 'app' }] }),
      ...manifestEntries.map(line),
    ].join('\n') + '\n';
  tarEntry(blocks, { path: '.edge-recovery/files.jsonl', type: 'file', data: Buffer.from(manifest) });
  blocks.push(Buffer.alloc(2 * BLOCK));
  await fsp.writeFile(path.join(dir, 'data.tar.gz'), gzipSync(Buffer.concat(blocks)));
  const manifestFile = path.join(dir, 'files.jsonl');
  await fsp.writeFile(manifestFile, manifest);
  return { dir, parts: [partOf(dir, 'data.tar.gz')], manifestFile };
}

/** A tar.gz made by GNU tar in `cwd` from `args`, with a manifest listing the given lines. */
async function gnuArchive(
  name: string,
  cwd: string,
  args: string[],
  manifestEntries: HandEntry[],
): Promise<{ dir: string; parts: ArchivePart[]; manifestFile: string }> {
  const dir = path.join(work, name);
  await fsp.mkdir(dir);
  execFileSync('tar', ['-czf', path.join(dir, 'data.tar.gz'), ...args], { cwd, stdio: 'pipe' });
  const manifestFile = path.join(dir, 'files.jsonl');
  const manifest =
    [
      JSON.stringify({ format: 'edge-recovery-files', version: 1, items: [{ id: 'app' }] }),
      ...manifestEntries.map(line),
    ].join('\n') + '\n';
  await fsp.writeFile(manifestFile, manifest);
  return { dir, parts: [partOf(dir, 'data.tar.gz')], manifestFile };
}

/**
 * Refused, with nothing left behind, both ways the extraction holds an archive to its inner manifest: entry by
 * entry against a verified copy (manifestFile), and in one pass (the restore's way: the manifest is compared at
 * the end, so what only the manifest tells is BACKUP_CORRUPT there; `onePass` says when it differs).
 */
async function expectRefused(
  a: { dir: string; parts: ArchivePart[]; manifestFile: string },
  entry: RegExp,
  code = 'HOSTILE_ARCHIVE',
  onePass: { entry: RegExp; code: string } = { entry, code },
): Promise<void> {
  for (const mode of ['verified manifest', 'one pass'] as const) {
    const stage = path.join(work, `stage-${path.basename(a.dir)}`);
    const before = readdirSync(work).sort();
    const err = await extractArchive(
      a.dir,
      mode === 'one pass'
        ? { parts: a.parts, targets: { app: stage }, manifestOut: path.join(work, 'kept-files.jsonl') }
        : { parts: a.parts, manifestFile: a.manifestFile, targets: { app: stage } },
      {},
    ).catch((e) => e);
    const want = mode === 'one pass' ? onePass : { entry, code };
    expect(err, mode).toMatchObject({ code: want.code });
    expect(err.message, mode).toMatch(want.entry);
    expect(existsSync(stage), mode).toBe(false);
    expect(readdirSync(work).sort(), mode).toEqual(before);
  }
}

describe('extractArchive', () => {
  it('restores files, modes, mtimes, links and empty folders exactly, into a new staging folder', async () => {
    const out = path.join(work, 'ok');
    await fsp.mkdir(out);
    const r = await createArchive({ items: [{ id: 'eds', path: src }], outDir: out, splitSize: 1024 * 1024 }, {});
    const manifestFile = path.join(work, 'ok-files.jsonl');
    await verifyArchive(out, { parts: r.parts, manifestOut: manifestFile }, {});
    const stage = path.join(work, 'ok-stage');
    const old = process.umask(0o077);
    try {
      const seen: { phase: string; files: number; totalFiles: number | null }[] = [];
      const x = await extractArchive(
        out,
        { parts: r.parts, manifestFile, targets: { eds: stage }, totalFiles: r.files },
        { onProgress: (p) => seen.push({ phase: p.phase, files: p.files, totalFiles: p.totalFiles }) },
      );
      expect(x).toMatchObject({ files: r.files, contentBytes: r.contentBytes });
      // "Unpacking", counting files against their total.
      expect(seen.filter((p) => p.phase !== 'starting').length).toBeGreaterThan(0);
      // (The worker says "starting" until its first own report.)
      expect(
        seen.filter((p) => p.phase !== 'starting').every((p) => p.phase === 'unpacking' && p.totalFiles === r.files),
      ).toBe(true);
      expect(seen.at(-1)!.files).toBe(r.files);
    } finally {
      process.umask(old);
    }
    // Exactly, except what extraction never applies from an archive: setuid/setgid/sticky and group/other
    // write (the source's setgid 2775 folder comes back 0755; a policy, when given, sets final modes).
    const want = snapshotTree(src);
    for (const e of Object.values(want)) if (e.type !== 'symlink') e.mode &= 0o755;
    expect(want['data']!.mode).toBe(0o755);
    expect(snapshotTree(stage)).toEqual(want);
    // No chown without a policy: owners come from the restore's policy, by name.
    if (isRoot) expect((await fsp.stat(path.join(stage, 'conf', 'app.json'))).uid).toBe(0);
  });

  it('is never 100 % read while files are still not unpacked, on a backup smaller than one read', async () => {
    const { out, r } = await tinyArchive(work);
    const manifestFile = path.join(work, 'tiny-files.jsonl');
    await verifyArchive(out, { parts: r.parts, manifestOut: manifestFile }, {});
    for (let run = 0; run < 3; run++) {
      const seen: { bytes: number; totalBytes: number | null; files: number; totalFiles: number | null }[] = [];
      await extractArchive(
        out,
        { parts: r.parts, manifestFile, targets: { eds: path.join(work, `tiny-stage-${run}`) }, totalFiles: r.files },
        { onProgress: (p) => p.phase === 'unpacking' && seen.push({ ...p }) },
      );
      expect(seen.length).toBeGreaterThan(0);
      // The wizard's "Read 100 %" beside "Files unpacked": all of them, never fewer (the CLI's "100% …, 0/8 files").
      expect(seen.filter((p) => p.totalBytes !== null && p.bytes >= p.totalBytes && p.files < p.totalFiles!)).toEqual(
        [],
      );
      expect(seen.at(-1)).toMatchObject({ files: 8, totalFiles: 8 });
    }
  });

  it('refuses a staging folder that already exists and leaves it alone', async () => {
    const a = await handArchive('exists', [{ path: 'app/', type: 'dir' }]);
    const stage = path.join(work, 'existing-stage');
    await fsp.mkdir(stage);
    await fsp.writeFile(path.join(stage, 'keep.txt'), 'keep');
    await expect(
      extractArchive(a.dir, { parts: a.parts, manifestFile: a.manifestFile, targets: { app: stage } }, {}),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(readFileSync(path.join(stage, 'keep.txt'), 'utf8')).toBe('keep');
  });

  it('refuses an absolute path (GNU tar -P)', async () => {
    const victim = path.join(work, 'victim.txt');
    await fsp.writeFile(victim, 'original');
    const a = await gnuArchive('absolute', work, ['-P', victim], []);
    await expectRefused(a, /absolute path/);
    expect(readFileSync(victim, 'utf8')).toBe('original');
  });

  it("refuses a path with '..' that would land outside the staging folder", async () => {
    const a = await handArchive('dotdot', [
      { path: 'app/', type: 'dir' },
      { path: 'app/../escaped.txt', type: 'file', data: 'pwned' },
    ]);
    await expectRefused(a, /'\.\.'/);
    expect(existsSync(path.join(work, 'escaped.txt'))).toBe(false);
  });

  it('refuses a symlink to /etc before a file could be written through it', async () => {
    const a = await handArchive('link-etc', [
      { path: 'app/', type: 'dir' },
      { path: 'app/etc', type: 'symlink', target: '/etc' },
      { path: 'app/etc/erw-pwned', type: 'file', data: 'pwned' },
    ]);
    await expectRefused(a, /app\/etc.*absolute/);
    expect(existsSync('/etc/erw-pwned')).toBe(false);
  });

  it("refuses a symlink escaping its folder with '..'", async () => {
    const a = await handArchive('link-up', [
      { path: 'app/', type: 'dir' },
      { path: 'app/up', type: 'symlink', target: '../../..' },
    ]);
    await expectRefused(a, /leaving its folder/);
  });

  it('refuses to write through a symlink even when the link itself stays inside', async () => {
    const a = await handArchive('through-link', [
      { path: 'app/', type: 'dir' },
      { path: 'app/real/', type: 'dir' },
      { path: 'app/l', type: 'symlink', target: 'real' },
      { path: 'app/l/x.txt', type: 'file', data: 'via link' },
    ]);
    await expectRefused(a, /app\/l\/x\.txt/);
  });

  it('refuses hard links and device nodes made by GNU tar', async () => {
    const tree = path.join(work, 'gnu-src');
    await fsp.mkdir(path.join(tree, 'app'), { recursive: true });
    await fsp.writeFile(path.join(tree, 'app', 'a'), 'a');
    await fsp.link(path.join(tree, 'app', 'a'), path.join(tree, 'app', 'b'));
    const hl = await gnuArchive(
      'hardlink',
      tree,
      ['app/a', 'app/b'],
      [
        { path: 'app/a', type: 'file', data: 'a' },
        { path: 'app/b', type: 'file', data: 'a' },
      ],
    );
    await expectRefused(hl, /hard link/);
    if (isRoot) {
      execFileSync('mknod', [path.join(tree, 'app', 'null'), 'c', '1', '3']);
      const dev = await gnuArchive('device', tree, ['app/null'], [{ path: 'app/null', type: 'file' }]);
      await expectRefused(dev, /device node/);
      execFileSync('mkfifo', [path.join(tree, 'app', 'fifo')]);
      const fifo = await gnuArchive('fifo', tree, ['app/fifo'], [{ path: 'app/fifo', type: 'file' }]);
      await expectRefused(fifo, /fifo/);
    }
  });

  it('refuses an entry the inner manifest does not list, and an extra entry at the end', async () => {
    const entries: HandEntry[] = [
      { path: 'app/', type: 'dir' },
      { path: 'app/a.txt', type: 'file', data: 'a' },
      { path: 'app/sneaky.txt', type: 'file', data: 'sneaky' },
    ];
    await expectRefused(
      await handArchive('not-listed', entries, [entries[0]!, entries[2]!]),
      /app\/a\.txt/,
      undefined,
      {
        entry: /the archive has app\/a\.txt where the inner manifest lists app\/sneaky\.txt/,
        code: 'BACKUP_CORRUPT',
      },
    );
    await expectRefused(
      await handArchive('extra', entries, entries.slice(0, 2)),
      /app\/sneaky\.txt.*not listed/,
      undefined,
      {
        entry: /app\/sneaky\.txt is in the archive but not in the inner manifest/,
        code: 'BACKUP_CORRUPT',
      },
    );
  });

  it('refuses an entry for a folder that is not being restored', async () => {
    const a = await handArchive('other-item', [{ path: 'other/', type: 'dir' }], [{ path: 'other/', type: 'dir' }]);
    await expectRefused(a, /not one of the folders/);
  });

  it('removes the staging folder when a truncated encrypted archive fails at its end', async () => {
    const out = path.join(work, 'trunc-age');
    await fsp.mkdir(out);
    const r = await createArchive({ items: [{ id: 'eds', path: src }], outDir: out, passphrase: 'pw' }, {});
    const manifestFile = path.join(work, 'trunc-files.jsonl');
    await verifyArchive(out, { parts: r.parts, passphrase: 'pw', manifestOut: manifestFile }, {});
    const file = path.join(out, 'data.tar.gz.age');
    truncateSync(file, r.parts[0]!.size - 40);
    // Parts re-recorded as if the set were made that way: only the age stream itself can tell.
    const parts = [partOf(out, 'data.tar.gz.age')];
    const stage = path.join(work, 'trunc-stage');
    await expect(
      extractArchive(out, { parts, passphrase: 'pw', manifestFile, targets: { eds: stage } }, {}),
    ).rejects.toMatchObject({ code: 'BACKUP_CORRUPT' });
    expect(existsSync(stage)).toBe(false);
  });
});
