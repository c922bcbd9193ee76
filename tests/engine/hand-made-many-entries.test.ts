import { spawnSync } from 'node:child_process';
import { createWriteStream, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptArchiveJob } from '../../src-main/engine/archive/adopt.js';
import { keptBytes } from '../helpers/kept-memory.js';

/**
 * Handed over by attack2; fixed by the lead: reading a hand-made archive kept one in-memory record per entry
 * (adopt.ts's `written`, every path written so far, to find duplicates and missing parents, as a Map of strings):
 * ~370–470 bytes per entry, some 4 GB for a tar.gz of 10 million empty files (about 90 MB on the stick).
 * `verify`, `adopt` and a restore's first step read hand-made archives, which have no manifest to stop at. The
 * paths are now 64-bit fingerprints in a typed-array table (archive/path-set.ts, 13–26 bytes per path).
 *
 * Measured as what the read-through keeps (heap plus array buffers, after a full garbage collection at each
 * progress report, in this process): memory, not speed, so a faster or busier machine measures the same. The peak
 * resident memory of a whole `verify` process (an earlier version of this test) also counted garbage not yet
 * collected, which varies with the machine's load: 200,000 against 600,000 entries gave 3.7 MB apart alone and
 * 30.7 MB beside other test files. Kept from 100,000 to 300,000 entries, measured here: 19.0 MB with the Map,
 * −1.7 MB with PathSet.
 */
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

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-many-entries-'));
  await writeManyEmptyFiles(path.join(work, 'many.tar.gz'), 400_000);
}, 120_000);
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('verify of a hand-made tar.gz with very many entries', () => {
  it('GNU tar lists the archives (valid ustar)', () => {
    const r = spawnSync('tar', ['-tzf', path.join(work, 'many.tar.gz')], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(400_001);
  });

  // Failed before PathSet (archive/path-set.ts): the Map kept ~96 bytes per entry (19 MB for 200,000 here).
  it('keeps what it holds nearly flat: from 50,000 to 350,000 entries read, less than 10 MB more', async () => {
    const kept: { files: number; bytes: number }[] = [];
    const r = await adoptArchiveJob(
      { source: path.join(work, 'many.tar.gz'), items: [{ id: 'Configuration', parents: [] }] },
      {
        progress: (p) => {
          kept.push({ files: p.files, bytes: keptBytes() });
        },
        willCreate: () => undefined,
      },
    );
    expect(r.files).toBe(400_000);
    const early = kept.find((k) => k.files >= 50_000);
    const late = kept.findLast((k) => k.files <= 350_000);
    expect(early, 'a measure after 50,000 entries').toBeDefined();
    expect(late!.files - early!.files, 'measures far enough apart').toBeGreaterThan(250_000);
    // PathSet itself doubles once or twice in between: +1–3.5 MB.
    expect((late!.bytes - early!.bytes) / 2 ** 20).toBeLessThan(10);
  }, 240_000);
});
