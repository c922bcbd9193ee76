import { spawnSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarFormatError, TarReader } from '../../src-main/engine/archive/tar-reader.js';
import type { TarEntryHeader } from '../../src-main/engine/archive/tar-header.js';
import { isRoot } from '../helpers/datasets.js';
import { buildCorpus, type CorpusCase } from '../helpers/tar-corpus.js';

/**
 * Differential test: for every archive of the corpus (GNU tar's own output and byte edits of it), our
 * reader either lists exactly what `tar -tv` (GNU tar 1.34) lists, or refuses the archive. RESTORE.txt
 * tells technicians to extract with GNU tar as root, so a difference is a hole.
 */
const TYPE_CHAR: Record<string, string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  hardlink: 'h',
  char: 'c',
  block: 'b',
  fifo: 'p',
};

function modeString(m: number): string {
  const bit = (b: number, c: string): string => (m & b ? c : '-');
  const x = (b: number, special: number, on: string, off: string): string =>
    m & special ? (m & b ? on : off) : m & b ? 'x' : '-';
  return (
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    x(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    x(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    x(0o001, 0o1000, 't', 'T')
  );
}

/** Our reader's listing, in tar -tv's words (without the date column). */
function ourListing(file: string): string[] | TarFormatError {
  const lines: string[] = [];
  const reader = new TarReader({
    entry(h: TarEntryHeader) {
      const owner = `${h.uname || h.uid}/${h.gname || h.gid}`;
      const size = h.type === 'char' || h.type === 'block' ? `${h.devmajor},${h.devminor}` : String(h.size);
      const link = h.type === 'symlink' ? ` -> ${h.linkpath}` : h.type === 'hardlink' ? ` link to ${h.linkpath}` : '';
      lines.push(
        `${TYPE_CHAR[h.type]}${modeString(h.mode & 0o7777)} ${owner} ${size} ${h.path.replace(/\/$/, '')}${link}`,
      );
    },
    data() {},
    end() {},
  });
  try {
    const buf = readFileSync(file);
    // Odd chunking on purpose: headers and bodies split across pushes.
    for (let off = 0; off < buf.length; off += 777) reader.push(buf.subarray(off, off + 777));
    reader.finish();
  } catch (e) {
    if (e instanceof TarFormatError) return e;
    throw e;
  }
  return lines;
}

function gnuListing(file: string): { ok: boolean; lines: string[]; stderr: string } {
  const r = spawnSync('tar', ['--full-time', '--quoting-style=literal', '-tvf', file], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' },
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S{10}) (\S+) +(\S+) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? +(.*)$/.exec(l);
      if (!m) return `unparsed: ${l}`;
      const [, mode, owner, size, rest] = m;
      const name = rest!.replace(/^(.*?)\/( -> | link to |$)/, '$1$2');
      return `${mode} ${owner} ${size} ${name}`;
    });
  return { ok: r.status === 0, lines, stderr: r.stderr };
}

let work: string;
let corpus: CorpusCase[];
beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-tar-diff-'));
  corpus = await buildCorpus(work, isRoot);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('our tar reader against GNU tar 1.34', () => {
  it('lists every archive of the corpus exactly as tar -tv does, or refuses it', () => {
    expect(corpus.length).toBeGreaterThan(30);
    const refused: string[] = [];
    for (const c of corpus) {
      const ours = ourListing(c.file);
      if (ours instanceof TarFormatError) {
        expect(c.want, `${c.name} must be listed, was refused: ${ours.message}`).toBe('either');
        refused.push(c.name);
        continue;
      }
      const gnu = gnuListing(c.file);
      expect(gnu.ok, `${c.name}: we list it, GNU tar fails: ${gnu.stderr}`).toBe(true);
      expect(ours, c.name).toEqual(gnu.lines);
    }
    // The archives GNU tar reads normally are all read; the crafted ambiguous ones are refused.
    expect(refused.sort()).toEqual(
      corpus
        .filter((c) => c.want === 'either')
        .map((c) => c.name)
        .sort(),
    );
  });

  it('frames a body by the pax size, so data hidden after the ustar size is never read as entries', () => {
    const larger = corpus.find((c) => c.name === 'edit-pax-size-larger')!;
    const ours = ourListing(larger.file) as string[];
    expect(ours.join('\n')).not.toMatch(/evil-disk|app\/etc/);
    const smaller = corpus.find((c) => c.name === 'edit-pax-size-smaller')!;
    // GNU tar sees the block device here: so do we (and the entry screen refuses it).
    expect((ourListing(smaller.file) as string[]).some((l) => l.startsWith('b') && l.includes('app/evil-disk'))).toBe(
      true,
    );
  });
});
