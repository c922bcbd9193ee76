import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../helpers/cli.js';

/**
 * Handed over by attack2; fixed by the lead: reading a hand-made archive kept one in-memory record per entry
 * (adopt.ts's `written`, every path written so far, to find duplicates and missing parents, as a Map of strings):
 * ~370–470 bytes per entry, some 4 GB for a tar.gz of 10 million empty files (about 90 MB on the stick).
 * `verify`, `adopt` and a restore's first step read hand-made archives, which have no manifest to stop at. The
 * paths are now 64-bit fingerprints in a typed-array table (archive/path-set.ts, 13–26 bytes per path).
 *
 * Measured as the peak resident memory of the whole `edge-recovery verify` process (getrusage of the child,
 * through Python), for 200,000 and 600,000 empty files: memory, not speed, so a faster machine measures the same.
 * Both are past the heap's warm-up (20,000 entries peak ~30 MB lower than 200,000 whatever the reader, which made
 * a first version of this test, 20,000 against 200,000, pass or fail by the heap's sizing). Measured here: with
 * the Map, 94 MB more for the 400,000 more entries; with PathSet, 3.7 MB more (150 and 154 MB).
 */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let work: string;

/** Writes a ustar archive of `n` empty files under Configuration/, gzipped (what `tar czf` of such a folder gives). */
async function writeManyEmptyFiles(file: string, n: number): Promise<void> {
  const header = (name: string, type: '0' | '5'): Buffer => {
    const h = Buffer.alloc(512);
    h.write(name, 0, 'utf8');
    h.write(type === '5' ? '0000755\0' : '0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write('00000000000\0', 124);
    h.write('15000000000\0', 136);
    h.write('        ', 148);
    h.write(type, 156);
    h.write('ustar\x0000', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    return h;
  };
  async function* blocks(): AsyncGenerator<Buffer> {
    yield header('Configuration/', '5');
    for (let i = 0; i < n; i += 10_000) {
      const batch: Buffer[] = [];
      for (let k = i; k < Math.min(n, i + 10_000); k++) {
        batch.push(header(`Configuration/file-${String(k).padStart(8, '0')}.json`, '0'));
      }
      yield Buffer.concat(batch);
    }
    yield Buffer.alloc(1024);
  }
  await pipeline(Readable.from(blocks()), createGzip({ level: 1 }), createWriteStream(file));
}

/** Peak resident memory (KiB) of `edge-recovery verify <file>`, and its exit code. */
function verifyPeakKiB(file: string): { kib: number; code: number } {
  const py =
    'import resource, subprocess, sys\n' +
    'r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n' +
    'print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n';
  const r = spawnSync(PYTHON, ['-c', py, process.execPath, ...cliCommand(), 'verify', file], {
    encoding: 'utf8',
    env: { ...process.env, EDGE_RECOVERY_PDF: 'off' },
  });
  const [code, kib] = r.stdout.trim().split(' ').map(Number);
  return { kib: kib!, code: code! };
}

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-many-entries-'));
  await writeManyEmptyFiles(path.join(work, 'small.tar.gz'), 200_000);
  await writeManyEmptyFiles(path.join(work, 'large.tar.gz'), 600_000);
}, 120_000);
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('verify of a hand-made tar.gz with very many entries', () => {
  it('GNU tar lists the archives (valid ustar)', () => {
    const r = spawnSync('tar', ['-tzf', path.join(work, 'small.tar.gz')], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(200_001);
  });

  // Failed before PathSet (archive/path-set.ts): 94 MB more.
  it('keeps its memory flat: 400,000 more entries cost less than 20 MB more', () => {
    const small = verifyPeakKiB(path.join(work, 'small.tar.gz'));
    const large = verifyPeakKiB(path.join(work, 'large.tar.gz'));
    expect(small.code).toBe(0);
    expect(large.code).toBe(0);
    expect((large.kib - small.kib) / 1024).toBeLessThan(20);
  }, 240_000);
});
