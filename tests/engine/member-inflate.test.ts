import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createArchive,
  extractArchive,
  verifyArchive,
  type ArchivePart,
  type ArchiveResult,
} from '../../src-main/engine/archive/index.js';
import { MEMBER_OUT_MAX, MemberInflater } from '../../src-main/engine/archive/member-inflate.js';
import { newAgeKey, type AgeKey } from '../../src-main/engine/archive/age-key.js';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { mixedBlock, snapshotTree, tempDir } from '../helpers/datasets.js';

/**
 * The backup records the compressed size of each gzip member (manifest.json's `archive.gzipMembers`); the
 * verify and the restore then inflate several members at once. What they read must be exactly what one gunzip
 * of the whole stream gives, and an index that does not fit the stream (damaged or hostile) must be refused,
 * never followed into a short file or a memory blow-up.
 */
let work: string;
let src: string;
let plain: { dir: string; r: ArchiveResult };
let enc: { dir: string; r: ArchiveResult };
const PASS = 'member pass phrase';
/** The encrypted archive's scrypt key, derived once (~1 s and 256 MiB each time), as a backup or restore job does. */
let key: AgeKey;

beforeAll(async () => {
  work = await tempDir('member-inflate');
  src = path.join(work, 'src');
  await fsp.mkdir(path.join(src, 'small'), { recursive: true });
  // ~3.5 MiB: files that cross member boundaries, and many small ones inside members.
  for (let i = 0; i < 3; i++) await fsp.writeFile(path.join(src, `big${i}.bin`), mixedBlock(1_100_000 + i * 977, i));
  for (let i = 0; i < 400; i++) await fsp.writeFile(path.join(src, 'small', `f${i}`), mixedBlock(i * 17, 100 + i));
  const make = async (name: string, extra: { ageKey?: AgeKey }): Promise<{ dir: string; r: ArchiveResult }> => {
    const dir = path.join(work, name);
    await fsp.mkdir(dir);
    // Parts of 1 MiB: members straddle the parts.
    const r = await createArchive({ items: [{ id: 'app', path: src }], outDir: dir, splitSize: 1 << 20, ...extra }, {});
    return { dir, r };
  };
  plain = await make('plain', {});
  key = await newAgeKey(PASS);
  enc = await make('enc', { ageKey: key });
});

afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

const limitsOf = (r: ArchiveResult): { files: number; contentBytes: number; entries: number } => ({
  files: r.files,
  contentBytes: r.contentBytes,
  entries: r.files + r.dirs + r.symlinks,
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof RecoveryError ? `${e.code}: ${e.message}` : `other: ${(e as Error).message}`;
  }
  return 'ok';
}

describe('the member index', () => {
  it('is recorded by the backup and adds up to the gzip stream', () => {
    expect(plain.r.gzipMembers.length).toBeGreaterThan(3);
    const total = plain.r.parts.reduce((a, p) => a + p.size, 0);
    expect(plain.r.gzipMembers.reduce((a, b) => a + b, 0)).toBe(total);
    // Each member is a whole gzip stream of its own: gunzip of the first one alone works.
    const all = Buffer.concat(plain.r.parts.map((p) => readFileSync(path.join(plain.dir, p.name))));
    const first = all.subarray(0, plain.r.gzipMembers[0]);
    expect(() => execFileSync('gzip', ['-dc'], { input: first })).not.toThrow();
    // Encrypted: the index is of the gzip stream inside age, the same shape.
    expect(enc.r.gzipMembers.length).toBe(plain.r.gzipMembers.length);
  });

  for (const which of ['plain', 'encrypted'] as const) {
    it(`verifies and unpacks the same with and without it (${which})`, async () => {
      const set = which === 'plain' ? plain : enc;
      const base = { parts: set.r.parts, limits: limitsOf(set.r) };
      // Encrypted: read once with the passphrase (scrypt from the archive's own header), then with the job's key.
      const without = await verifyArchive(set.dir, { ...base, ...(which === 'plain' ? {} : { passphrase: PASS }) }, {});
      const keyed = { ...base, ...(which === 'plain' ? {} : { ageKey: key }) };
      const withIdx = await verifyArchive(set.dir, { ...keyed, gzipMembers: set.r.gzipMembers }, {});
      expect(withIdx).toEqual(without);
      expect(withIdx.files).toBe(403);
      const stage = path.join(work, `stage-${which}`);
      const inner = path.join(work, `inner-${which}.jsonl`);
      const x = await extractArchive(
        set.dir,
        { ...keyed, gzipMembers: set.r.gzipMembers, targets: { app: stage }, manifestOut: inner },
        {},
      );
      expect(x.files).toBe(403);
      expect(snapshotTree(stage)).toEqual(snapshotTree(src));
      await fsp.rm(stage, { recursive: true });
    });
  }

  const wrong: Array<[string, (m: number[]) => number[], RegExp]> = [
    ['one member too long, the next too short', (m) => [m[0]! + 7, m[1]! - 7, ...m.slice(2)], /damaged/],
    ['one member too short, the next too long', (m) => [m[0]! - 7, m[1]! + 7, ...m.slice(2)], /damaged/],
    ['a member missing at the end', (m) => m.slice(0, -1), /more compressed data than its index/],
    ['one member too many', (m) => [...m, 100], /ends before its index/],
    ['two members listed as one', (m) => [m[0]! + m[1]!, ...m.slice(2)], /./],
  ];
  for (const [what, change, msg] of wrong) {
    it(`a wrong index is refused and leaves nothing behind: ${what}`, async () => {
      const members = change(plain.r.gzipMembers);
      const base = { parts: plain.r.parts, limits: limitsOf(plain.r), gzipMembers: members };
      const v = await codeOf(verifyArchive(plain.dir, base, {}));
      const stage = path.join(work, `stage-wrong-${what.length}`);
      const inner = path.join(work, `inner-wrong-${what.length}.jsonl`);
      const x = await codeOf(extractArchive(plain.dir, { ...base, targets: { app: stage }, manifestOut: inner }, {}));
      if (what === 'two members listed as one') {
        // Still exactly the stream's bytes, in order: gunzip reads two members from one slice. Fine either way,
        // as long as the result is the archive or a refusal (here the first two are 1 MiB each: within the cap).
        expect([v, x].every((c) => c === 'ok' || c.startsWith('BACKUP_CORRUPT'))).toBe(true);
      } else {
        expect(v).toMatch(/^BACKUP_CORRUPT: /);
        expect(v).toMatch(msg);
        expect(x).toMatch(/^BACKUP_CORRUPT: /);
      }
      if (x !== 'ok') {
        expect(existsSync(stage)).toBe(false);
        expect(existsSync(inner)).toBe(false);
      }
    });
  }

  it('refuses an index with a member far bigger than any backup writes', async () => {
    const members = [...plain.r.gzipMembers];
    members[0] = 64 * 1024 * 1024;
    const v = await codeOf(
      verifyArchive(plain.dir, { parts: plain.r.parts, limits: limitsOf(plain.r), gzipMembers: members }, {}),
    );
    expect(v).toMatch(/^BACKUP_CORRUPT: .*index of compressed blocks is invalid/);
  });
});

describe('MemberInflater', () => {
  it('gives the members’ output in stream order, however the input is cut', async () => {
    const blocks = Array.from({ length: 23 }, (_, i) => mixedBlock(200_000 + ((i * 7919) % 300_000), i));
    const members = blocks.map((b) => gzipSync(b, { level: 1 }));
    const stream = Buffer.concat(members);
    for (const cut of [1, 4096, 65_537, 1 << 20]) {
      const out: Buffer[] = [];
      const m = new MemberInflater(
        members.map((x) => x.length),
        (c) => out.push(Buffer.from(c)),
        3,
      );
      for (let off = 0; off < stream.length; off += cut) await m.write(stream.subarray(off, off + cut));
      await m.end();
      expect(Buffer.concat(out).equals(Buffer.concat(blocks))).toBe(true);
    }
  });

  it('refuses a member that inflates to more than a backup ever puts in one (a decompression bomb)', async () => {
    const bomb = gzipSync(Buffer.alloc(MEMBER_OUT_MAX + 1), { level: 9 });
    const m = new MemberInflater([bomb.length], () => undefined, 2);
    const r = await codeOf(m.write(bomb).then(() => m.end()));
    expect(r).toMatch(/^BACKUP_CORRUPT: .*inflates to more than/);
  });

  it('refuses a member cut short even when the sizes add up', async () => {
    const a = gzipSync(mixedBlock(300_000, 1));
    const b = gzipSync(mixedBlock(300_000, 2));
    const m = new MemberInflater([a.length - 10, b.length + 10], () => undefined, 2);
    const r = await codeOf(m.write(Buffer.concat([a, b])).then(() => m.end()));
    expect(r).not.toBe('ok');
  });

  it('a part of the archive is still named when it is the cause', async () => {
    const dir = path.join(work, 'flipped');
    await fsp.cp(plain.dir, dir, { recursive: true });
    const p: ArchivePart = plain.r.parts[1]!;
    const f = path.join(dir, p.name);
    const b = readFileSync(f);
    b[1000] = b[1000]! ^ 0x55;
    await fsp.writeFile(f, b);
    const v = await codeOf(
      verifyArchive(dir, { parts: plain.r.parts, limits: limitsOf(plain.r), gzipMembers: plain.r.gzipMembers }, {}),
    );
    expect(v).toMatch(new RegExp(`BACKUP_CORRUPT: .*${p.name.replace(/\./g, '\\.')} does not match its checksum`));
  });
});
