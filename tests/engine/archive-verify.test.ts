import {
  existsSync,
  promises as fsp,
  readFileSync,
  truncateSync,
  openSync,
  writeSync,
  closeSync,
  readSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createArchive,
  MANIFEST_PATH,
  verifyArchive,
  type ArchiveResult,
} from '../../src-main/engine/archive/index.js';
import { encodeHeader } from '../../src-main/engine/archive/tar-header.js';
import { makeRichTree, tempDir } from '../helpers/datasets.js';
import { tinyArchive } from '../helpers/tiny-archive.js';

let work: string;
let src: string;
let split: { dir: string; r: ArchiveResult };
let enc: { dir: string; r: ArchiveResult };

/** A private copy of a backup set, so each test can damage its own. */
async function copySet(from: { dir: string; r: ArchiveResult }, name: string): Promise<string> {
  const d = path.join(work, name);
  await fsp.cp(from.dir, d, { recursive: true });
  return d;
}

function flipByte(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0x5a;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

beforeAll(async () => {
  work = await tempDir('archive-verify');
  src = path.join(work, 'src');
  await fsp.mkdir(src);
  await makeRichTree(src);
  const d1 = path.join(work, 'split');
  await fsp.mkdir(d1);
  split = {
    dir: d1,
    r: await createArchive({ items: [{ id: 'eds', path: src }], outDir: d1, splitSize: 1024 * 1024 }, {}),
  };
  const d2 = path.join(work, 'enc');
  await fsp.mkdir(d2);
  enc = {
    dir: d2,
    r: await createArchive({ items: [{ id: 'eds', path: src }], outDir: d2, passphrase: 'pass phrase' }, {}),
  };
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('verifyArchive', () => {
  it('accepts an intact split set and saves the inner manifest', async () => {
    const manifestOut = path.join(work, 'files.jsonl');
    const seen: { phase: string; files: number; totalFiles: number | null }[] = [];
    const v = await verifyArchive(
      split.dir,
      { parts: split.r.parts, manifestOut, totalFiles: split.r.files },
      { onProgress: (p) => seen.push({ phase: p.phase, files: p.files, totalFiles: p.totalFiles }) },
    );
    expect(v).toEqual({ files: split.r.files, contentBytes: split.r.contentBytes, direct: true });
    // Progress counts the files checked against their total ("1,234 of 30,007"), in the engine's own words.
    expect(seen.filter((p) => p.phase !== 'starting').length).toBeGreaterThan(0);
    // (The worker says "starting" until its first own report.)
    expect(
      seen
        .filter((p) => p.phase !== 'starting')
        .every((p) => p.phase === 'verifying' && p.totalFiles === split.r.files),
    ).toBe(true);
    expect(seen.at(-1)!.files).toBe(split.r.files);
    const lines = readFileSync(manifestOut, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'edge-recovery-files' });
    expect(lines.length).toBe(1 + split.r.files + split.r.dirs + split.r.symlinks);
    expect(existsSync(manifestOut + '.partial')).toBe(false);
  });

  it('is never 100 % read back while files are still unchecked, on a backup smaller than one read', async () => {
    const { out, r } = await tinyArchive(work);
    expect(r.files).toBe(8);
    for (let run = 0; run < 5; run++) {
      const seen: { bytes: number; totalBytes: number | null; files: number; totalFiles: number | null }[] = [];
      await verifyArchive(
        out,
        { parts: r.parts, totalFiles: r.files },
        { onProgress: (p) => p.phase === 'verifying' && seen.push({ ...p }) },
      );
      expect(seen.length).toBeGreaterThan(0);
      // What the wizard's meter shows as "Read back 100 %" beside "Files checked": all of them, never fewer.
      const early = seen.filter((p) => p.totalBytes !== null && p.bytes >= p.totalBytes && p.files < p.totalFiles!);
      expect(early).toEqual([]);
      expect(seen.at(-1)).toMatchObject({ bytes: seen.at(-1)!.totalBytes, files: 8, totalFiles: 8 });
    }
  });

  it('names the part holding a flipped byte', async () => {
    const d = await copySet(split, 'flipped');
    flipByte(path.join(d, 'data.tar.gz.002'), 1000);
    const manifestOut = path.join(work, 'never.jsonl');
    const err = await verifyArchive(d, { parts: split.r.parts, manifestOut }, {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'BACKUP_CORRUPT', details: { part: 'data.tar.gz.002' } });
    expect(err.message).toContain('data.tar.gz.002');
    expect(existsSync(manifestOut)).toBe(false);
    expect(existsSync(manifestOut + '.partial')).toBe(false);
  });

  it('names the file whose content does not match the inner manifest when part checksums agree', async () => {
    // Someone re-made the gzip and the part checksums after tampering: the per-file hashes still catch it.
    const d = path.join(work, 'tampered');
    await fsp.mkdir(d);
    await createArchive({ items: [{ id: 'eds', path: src }], outDir: d }, {});
    const file = path.join(d, 'data.tar.gz');
    const tarBytes = gunzipSync(readFileSync(file));
    const at = tarBytes.indexOf(Buffer.from('{"port": 5590}'));
    expect(at).toBeGreaterThan(0);
    tarBytes[at + 10] = '6'.charCodeAt(0);
    const rebuilt = gzipSync(tarBytes);
    await fsp.writeFile(file, rebuilt);
    const parts = [
      { name: 'data.tar.gz', size: rebuilt.length, sha256: createHash('sha256').update(rebuilt).digest('hex') },
    ];
    const err = await verifyArchive(d, { parts }, {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'BACKUP_CORRUPT', details: { file: 'eds/conf/app.json' } });
    expect(err.message).toContain('eds/conf/app.json');
  });

  it('names the first difference between the archive and its inner manifest, whatever it is', async () => {
    // The lists are compared as bytes first: every kind of difference must still be found and explained.
    const d = path.join(work, 'lists');
    await fsp.mkdir(d);
    await createArchive({ items: [{ id: 'eds', path: src }], outDir: d }, {});
    const file = path.join(d, 'data.tar.gz');
    const tar = gunzipSync(readFileSync(file));
    const name = Buffer.from(`${MANIFEST_PATH}\0`);
    let at = tar.indexOf(name);
    while (at % 512 !== 0) at = tar.indexOf(name, at + 1);
    const size = parseInt(tar.toString('latin1', at + 124, at + 135), 8);
    const lines = tar
      .toString('utf8', at + 512, at + 512 + size)
      .trimEnd()
      .split('\n');
    const withManifest = async (body: string[]): Promise<unknown> => {
      const text = Buffer.from(body.join('\n') + '\n');
      const head = encodeHeader({
        path: MANIFEST_PATH,
        type: 'file',
        size: text.length,
        mode: 0o644,
        mtime: 1,
        uid: 0,
        gid: 0,
        uname: 'root',
        gname: 'root',
      });
      const padded = Buffer.alloc(Math.ceil(text.length / 512) * 512 + 1024);
      text.copy(padded);
      const gz = gzipSync(Buffer.concat([tar.subarray(0, at), head, padded]));
      await fsp.writeFile(file, gz);
      const parts = [{ name: 'data.tar.gz', size: gz.length, sha256: createHash('sha256').update(gz).digest('hex') }];
      return verifyArchive(d, { parts }, {}).then(
        () => 'accepted',
        (e: { message: string }) => e.message,
      );
    };
    expect(await withManifest(lines)).toBe('accepted');
    const last = JSON.parse(lines.at(-1)!) as { path: string; mtime: number };
    expect(await withManifest(lines.slice(0, -1))).toContain(
      `${last.path} is in the archive but not in the inner manifest`,
    );
    const extra = JSON.stringify({ ...last, path: 'eds/zzz-not-there' });
    expect(await withManifest([...lines, extra])).toContain(
      'eds/zzz-not-there is listed in the inner manifest but missing',
    );
    const changed = JSON.stringify({ ...last, mtime: last.mtime + 1 });
    expect(await withManifest([...lines.slice(0, -1), changed])).toContain(
      `${last.path} differs from the inner manifest (mtime)`,
    );
    expect(await withManifest(['{"format":"other"}', ...lines.slice(1)])).toContain('no valid header line');
  });

  it('reports a truncated part as incomplete, naming it', async () => {
    const d = await copySet(split, 'truncated');
    truncateSync(path.join(d, 'data.tar.gz.003'), 5000);
    await expect(verifyArchive(d, { parts: split.r.parts }, {})).rejects.toMatchObject({
      code: 'BACKUP_INCOMPLETE',
      message: expect.stringContaining('data.tar.gz.003'),
    });
  });

  it('reports a missing part as incomplete, naming it', async () => {
    const d = await copySet(split, 'missing');
    await fsp.rm(path.join(d, 'data.tar.gz.004'));
    await expect(verifyArchive(d, { parts: split.r.parts }, {})).rejects.toMatchObject({
      code: 'BACKUP_INCOMPLETE',
      message: expect.stringContaining('data.tar.gz.004'),
    });
  });

  it('opens an encrypted set with its passphrase', async () => {
    await expect(verifyArchive(enc.dir, { parts: enc.r.parts, passphrase: 'pass phrase' }, {})).resolves.toEqual({
      files: enc.r.files,
      contentBytes: enc.r.contentBytes,
      direct: true,
    });
  });

  it('asks for the passphrase of an encrypted set', async () => {
    await expect(verifyArchive(enc.dir, { parts: enc.r.parts }, {})).rejects.toMatchObject({
      code: 'PASSPHRASE_REQUIRED',
    });
  });

  it('rejects a wrong passphrase without echoing it', async () => {
    const err = await verifyArchive(enc.dir, { parts: enc.r.parts, passphrase: 'wrong' }, {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect(err.message).not.toContain('wrong');
  });

  it('detects a flipped byte inside encrypted data', async () => {
    const d = await copySet(enc, 'enc-flipped');
    flipByte(path.join(d, 'data.tar.gz.age'), 2_000_000);
    await expect(verifyArchive(d, { parts: enc.r.parts, passphrase: 'pass phrase' }, {})).rejects.toMatchObject({
      code: 'BACKUP_CORRUPT',
      details: { part: 'data.tar.gz.age' },
    });
  });
});
