import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, MANIFEST_PATH } from '../../src-main/engine/archive/index.js';
import type { Progress } from '../../src-main/engine/progress.js';
import { groupNameForGid, userNameForUid } from '../../src-main/engine/util/system-users.js';
import { isRoot, makeRichTree, makeFiles, snapshotTree, tempDir } from '../helpers/datasets.js';

const hasAge = existsSync('/usr/bin/age');
const skipAge = !hasAge && !process.env.CI;

let src: string;
let work: string;

beforeAll(async () => {
  work = await tempDir('archive-create');
  src = path.join(work, 'src');
  await fsp.mkdir(src);
  await makeRichTree(src);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function outDir(name: string): Promise<string> {
  const d = path.join(work, name);
  await fsp.mkdir(d);
  return d;
}

function gnuExtract(archive: string, into: string): void {
  execFileSync('tar', ['-xzf', archive, '-C', into]);
}

describe('createArchive', () => {
  it('writes a gzip tar that GNU tar extracts to identical files, modes, mtimes, links and empty folders', async () => {
    const out = await outDir('plain');
    const r = await createArchive({ items: [{ id: 'eds', path: src }], outDir: out }, {});
    expect(r.parts.map((p) => p.name)).toEqual(['data.tar.gz']);
    expect(readdirSync(out)).toEqual(['data.tar.gz']);
    expect(r.encrypted).toBe(false);
    expect(r.files).toBe(7);
    expect(r.symlinks).toBe(2);
    const x = path.join(work, 'plain-x');
    await fsp.mkdir(x);
    gnuExtract(path.join(out, 'data.tar.gz'), x);
    expect(snapshotTree(path.join(x, 'eds'))).toEqual(snapshotTree(src));
    // The inner manifest is there, as the last entry.
    const list = execFileSync('tar', ['-tzf', path.join(out, 'data.tar.gz')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(list[0]).toBe('eds/');
    expect(list.at(-1)).toBe(MANIFEST_PATH);
  });

  it('puts owner and group names from /etc/passwd and /etc/group in every header', async () => {
    const out = await outDir('owners');
    const r = await createArchive({ items: [{ id: 'eds', path: src }], outDir: out }, {});
    const listing = execFileSync('tar', ['-tvzf', path.join(out, 'data.tar.gz')], { encoding: 'utf8' });
    const me = `${userNameForUid(process.getuid!())}/${groupNameForGid(process.getgid!())}`;
    for (const line of listing.trim().split('\n')) expect(line).toMatch(/^\S+ [^\s/]+\/[^\s/]+ /);
    expect(listing).toMatch(new RegExp(`^-\\S+ ${me} .* eds/run\\.sh$`, 'm'));
    if (isRoot) {
      expect(listing).toMatch(/^-\S+ nobody\/nogroup .* eds\/conf\/app\.json$/m);
      expect(r.owners).toContainEqual({ uname: 'nobody', gname: 'nogroup' });
    }
    const manifest = execFileSync('tar', ['-xzOf', path.join(out, 'data.tar.gz'), MANIFEST_PATH], { encoding: 'utf8' });
    const lines = manifest
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ format: 'edge-recovery-files', version: 1, items: [{ id: 'eds' }] });
    const app = lines.find((l) => l.path === 'eds/conf/app.json');
    expect(app).toMatchObject({ type: 'file', size: 15, mode: 0o644, mtime: 1_600_000_001 });
    if (isRoot) expect(app).toMatchObject({ uname: 'nobody', gname: 'nogroup' });
    expect(lines.find((l) => l.path === 'eds/current.json')).toMatchObject({
      type: 'symlink',
      target: 'conf/app.json',
    });
  });

  it('splits into parts that sha256sum -c accepts and that concatenate to a valid archive', async () => {
    const out = await outDir('split');
    const r = await createArchive({ items: [{ id: 'eds', path: src }], outDir: out, splitSize: 1024 * 1024 }, {});
    expect(r.parts.map((p) => p.name)).toEqual([
      'data.tar.gz.001',
      'data.tar.gz.002',
      'data.tar.gz.003',
      'data.tar.gz.004',
    ]);
    expect(r.parts.slice(0, -1).every((p) => p.size === 1024 * 1024)).toBe(true);
    expect(r.archiveBytes).toBe(r.parts.reduce((a, p) => a + p.size, 0));
    await fsp.writeFile(path.join(out, 'SHA256SUMS'), r.parts.map((p) => `${p.sha256}  ${p.name}\n`).join(''));
    execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out, stdio: 'pipe' });
    const joined = path.join(work, 'joined.tar.gz');
    execFileSync('sh', ['-c', `cat ${out}/data.tar.gz.0* > ${joined}`]);
    const x = path.join(work, 'split-x');
    await fsp.mkdir(x);
    gnuExtract(joined, x);
    expect(snapshotTree(path.join(x, 'eds'))).toEqual(snapshotTree(src));
  });

  it('skips fifos and sockets and lists them', async () => {
    const tree = path.join(work, 'with-fifo');
    await fsp.mkdir(tree);
    await fsp.writeFile(path.join(tree, 'a.txt'), 'a');
    execFileSync('mkfifo', [path.join(tree, 'pipe')]);
    const out = await outDir('fifo-out');
    const r = await createArchive({ items: [{ id: 'x', path: tree }], outDir: out }, {});
    expect(r.skipped).toEqual([{ path: path.join(tree, 'pipe'), reason: expect.stringContaining('fifo') }]);
    expect(execFileSync('tar', ['-tzf', path.join(out, 'data.tar.gz')], { encoding: 'utf8' })).not.toContain('pipe');
  });

  it('refuses a missing source folder without writing anything', async () => {
    const out = await outDir('missing');
    await expect(
      createArchive({ items: [{ id: 'eds', path: path.join(work, 'nope') }], outDir: out }, {}),
    ).rejects.toMatchObject({ code: 'SOURCE_MISSING' });
    expect(readdirSync(out)).toEqual([]);
  });

  it.skipIf(skipAge)('encrypts with a passphrase so that Debian age -d decrypts it', async () => {
    const out = await outDir('age');
    const r = await createArchive({ items: [{ id: 'eds', path: src }], outDir: out, passphrase: 'correct horse' }, {});
    expect(r.encrypted).toBe(true);
    expect(r.parts.map((p) => p.name)).toEqual(['data.tar.gz.age']);
    const enc = path.join(out, 'data.tar.gz.age');
    expect(readFileSync(enc).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    const plain = path.join(work, 'age-plain.tar.gz');
    // age reads passphrases only from a terminal: give it one with script(1).
    execFileSync('script', ['-q', '-e', '-c', `age -d -o ${plain} ${enc}`, '/dev/null'], {
      input: 'correct horse\n',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const x = path.join(work, 'age-x');
    await fsp.mkdir(x);
    gnuExtract(plain, x);
    expect(snapshotTree(path.join(x, 'eds'))).toEqual(snapshotTree(src));
  });

  it('reports progress at least 4 times a second on a job lasting over a second, and can be cancelled cleanly', async () => {
    // A job lasting over a second on any machine: 160 MiB took ~2 s here (2 cores) but packs in under a second
    // on a machine a few times faster, so more data is added until the job lasts long enough, and the figures
    // are checked on that run (one round here).
    const MiB = 1024 * 1024;
    const items: Array<{ id: string; path: string }> = [];
    let seen: Progress[] = [];
    let took = 0;
    for (let round = 0; took <= 1500 && round < 6; round++) {
      const tree = path.join(work, `progress-src-${round}`);
      await makeFiles(tree, 80, 2 * MiB);
      items.push({ id: `p${round}`, path: tree });
      const out = await outDir(`progress-${round}`);
      const run: Progress[] = [];
      const t0 = Date.now();
      await createArchive({ items, outDir: out, gzipLevel: 6 }, { onProgress: (p) => run.push(p) });
      took = Date.now() - t0;
      seen = run;
      await fsp.rm(out, { recursive: true });
    }
    expect(took).toBeGreaterThan(1000);
    expect(seen.length).toBeGreaterThanOrEqual(Math.floor((took / 1000) * 4) - 2);
    // Real progress from the worker, not only the host's heartbeat: the byte count moves all along.
    expect(new Set(seen.map((p) => p.bytes)).size).toBeGreaterThanOrEqual(Math.floor(took / 1000) * 2);
    const last = seen.at(-1)!;
    expect(last.totalBytes).toBe(items.length * 80 * 2 * MiB);
    expect(last.bytes).toBe(last.totalBytes);

    const out2 = await outDir('cancelled');
    const ac = new AbortController();
    const job = createArchive(
      { items, outDir: out2, gzipLevel: 6 },
      { signal: ac.signal, onProgress: (p) => p.bytes > 0 && ac.abort() },
    );
    await expect(job).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(readdirSync(out2)).toEqual([]);
  });
});
