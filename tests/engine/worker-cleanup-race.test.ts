import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, extractArchive } from '../../src-main/engine/archive/index.js';
import { BLOCK } from '../../src-main/engine/archive/tar-header.js';
import { giveTo, runAsAtFirstOpen } from '../helpers/as-account.js';
import { isRoot } from '../helpers/datasets.js';
import { watchOpens } from '../helpers/open-watch.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { tarEntry } from '../helpers/tar-corpus.js';

/**
 * A job in a worker thread tells the host what it is about to create, so that the host removes it if the job fails or
 * is cancelled (the worker terminated). The host removed those paths by name, following every link on the way: an
 * account that may write the folder above (a service account owning the folder beside a restore's targets, where the
 * restore's root-only work folder and its staging folders are made) moved the work folder aside and put a link by its
 * name to a folder of its choosing, and when the unpacking failed root deleted, recursively, whatever bore the staging
 * folder's name there (here a root-only folder of the account's choosing). Now what the host removes is looked up in
 * the folder the job held (same device and inode), never through a link.
 */
const OWNER = 'edge-wcr';

describe.skipIf(!isRoot)('the clean-up of a failed worker job, raced by an account that may write above', () => {
  let work = '';

  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'worker-cleanup-race-'));
    await fsp.chmod(work, 0o755);
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  /** The account's folder `name` beside the targets, with the restore's root-only work folder in it. */
  async function besideTargets(name: string, id: string): Promise<{ beside: string; workDir: string }> {
    const beside = path.join(work, name);
    await fsp.mkdir(beside, { mode: 0o755 });
    await giveTo(OWNER, beside);
    const workDir = path.join(beside, `.edge-recovery-${id}`);
    await fsp.mkdir(workDir, { mode: 0o700 });
    return { beside, workDir };
  }

  it('never deletes, through a link the account put in place of the work folder, a folder of its choosing', async () => {
    // The set: an archive the unpacking refuses half-way ('..'), so the job fails after making its staging folder.
    const set = path.join(work, 'set');
    await fsp.mkdir(set, { mode: 0o700 });
    const blocks: Buffer[] = [];
    tarEntry(blocks, { path: 'app/', type: 'dir', mode: 0o755 });
    tarEntry(blocks, { path: 'app/ok.txt', type: 'file', data: Buffer.from('fine\n') });
    tarEntry(blocks, { path: 'app/../escaped.txt', type: 'file', data: Buffer.from('pwned\n') });
    blocks.push(Buffer.alloc(2 * BLOCK));
    const data = gzipSync(Buffer.concat(blocks));
    const part = path.join(set, 'data.tar.gz');
    await fsp.writeFile(part, data);
    const parts = [{ name: 'data.tar.gz', size: data.length, sha256: createHash('sha256').update(data).digest('hex') }];
    const { workDir } = await besideTargets('product', 'r1');
    // Root's folder the account wants gone: it holds a folder named like the staging folder.
    const victim = path.join(work, 'root-only');
    await fsp.mkdir(path.join(victim, 'app'), { recursive: true, mode: 0o755 });
    await fsp.writeFile(path.join(victim, 'app', 'precious.txt'), 'root data\n', { mode: 0o600 });
    const kept = path.join(work, 'state');
    await fsp.mkdir(kept, { mode: 0o700 });
    // At the job's first open of the part (its staging folder made by then), the account swaps the work folder.
    const watcher = await runAsAtFirstOpen(OWNER, part, 'mv "$1" "$1.aside" && ln -s "$2" "$1"', workDir, victim);
    let events: string[] = [];
    const outcome = await extractArchive(
      set,
      { parts, targets: { app: path.join(workDir, 'app') }, manifestOut: path.join(kept, 'files.jsonl') },
      {},
    )
      .then(() => 'ok')
      .catch((e: unknown) => (e as { code?: string }).code ?? String(e))
      .finally(async () => {
        events = await watcher.stop();
      });
    // The race was live (swapped at the first open, the staging folder made before it), and the job failed.
    expect({ outcome, events: events.slice(0, 2) }).toEqual({
      outcome: 'HOSTILE_ARCHIVE',
      events: ['open', 'swapped'],
    });
    expect((await fsp.lstat(workDir)).isSymbolicLink()).toBe(true);
    // Root's folder behind the account's link is untouched; the staging folder the job made is gone from where it is.
    expect(existsSync(path.join(victim, 'app', 'precious.txt'))).toBe(true);
    expect(readFileSync(path.join(victim, 'app', 'precious.txt'), 'utf8')).toBe('root data\n');
    expect(await fsp.readdir(`${workDir}.aside`)).toEqual([]);
  }, 120_000);

  it('flushes the staging folders it holds, never what a link put in place of the work folder leads to', async () => {
    // A good archive this time (made by this tool): the unpacking succeeds, then flushes its staging folders to disk.
    const src = path.join(work, 'src');
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, 'ok.txt'), 'fine\n');
    const set = path.join(work, 'good-set');
    await fsp.mkdir(set, { mode: 0o700 });
    const { parts } = await createArchive({ items: [{ id: 'app', path: src }], outDir: set }, {});
    const part = path.join(set, parts[0]!.name);
    const { beside, workDir } = await besideTargets('product2', 'r2');
    // A device node (a copy of /dev/null standing for /dev/watchdog, which starts when opened).
    const node = path.join(work, 'watchdog-like');
    execFileSync('mknod', ['-m', '666', node, 'c', '1', '3']);
    // The account's folder, where the staging folder's name is a link to the device.
    const theirs = path.join(beside, 'theirs');
    const watcher = await runAsAtFirstOpen(
      OWNER,
      part,
      'mkdir "$3" && ln -s "$2" "$3/app" && mv "$1" "$1.aside" && ln -s "$3" "$1"',
      workDir,
      node,
      theirs,
    );
    const watch = await watchOpens([node], path.join(work, 'sentinel'));
    let events: string[] = [];
    let outcome = '';
    try {
      outcome = await extractArchive(
        set,
        { parts, targets: { app: path.join(workDir, 'app') }, manifestOut: path.join(work, 'state', 'files2.jsonl') },
        {},
      )
        .then((r) => `ok: ${r.files}`)
        .catch((e: unknown) => (e as { code?: string }).code ?? String(e));
      await watch.settle();
    } finally {
      events = await watcher.stop();
      watch.stop();
    }
    expect({ outcome, events: events.slice(0, 2) }).toEqual({ outcome: 'ok: 1', events: ['open', 'swapped'] });
    expect(watch.saw(node)).toBe(false);
    // The staging folder was made, and filled, in the work folder the job held (moved aside by the account).
    expect(readFileSync(path.join(`${workDir}.aside`, 'app', 'ok.txt'), 'utf8')).toBe('fine\n');
  }, 120_000);
});
