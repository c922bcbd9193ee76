import { execFileSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { encodeHeader } from '../../src-main/engine/archive/tar-header.js';

/**
 * A corpus of tar archives for the differential test against GNU tar: real archives made by GNU tar 1.34
 * (gnu, oldgnu, posix, ustar, v7; long names, links, devices, sparse files, duplicates, base-256 owners)
 * and small byte edits of them (pax/ustar size conflicts, base-256 sizes, junk where GNU headers keep
 * times, metadata headers stacked or left dangling). Each case says whether a reader may refuse it.
 */
export interface CorpusCase {
  name: string;
  file: string;
  /** 'list': our reader must list it (and equal GNU tar); 'either': listing equal to GNU tar's, or refused. */
  want: 'list' | 'either';
}

const BLOCK = 512;

interface HdrFields {
  name: string;
  flag: string;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  uname?: string;
  gname?: string;
  linkname?: string;
  magic?: 'posix' | 'gnu' | 'v7';
  prefix?: string;
  devmajor?: number;
  devminor?: number;
}

function oct(b: Buffer, n: number, off: number, len: number): void {
  b.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

/** Recomputes a header block's checksum after an edit (unsigned sum, checksum field as blanks). */
export function fixChecksum(b: Buffer): Buffer {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/** One header block written independently of the code under test. */
export function hdr(f: HdrFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'utf8');
  oct(b, f.mode ?? 0o644, 100, 8);
  oct(b, f.uid ?? 0, 108, 8);
  oct(b, f.gid ?? 0, 116, 8);
  oct(b, f.size ?? 0, 124, 12);
  oct(b, f.mtime ?? 1_600_000_000, 136, 12);
  b.write(f.flag, 156, 1, 'latin1');
  b.write(f.linkname ?? '', 157, 100, 'utf8');
  const magic = f.magic ?? 'posix';
  if (magic === 'posix') b.write('ustar\u000000', 257, 8, 'latin1');
  if (magic === 'gnu') b.write('ustar  \u0000', 257, 8, 'latin1');
  b.write(f.uname ?? 'root', 265, 32, 'utf8');
  b.write(f.gname ?? 'root', 297, 32, 'utf8');
  if (f.devmajor !== undefined) oct(b, f.devmajor, 329, 8);
  if (f.devminor !== undefined) oct(b, f.devminor, 337, 8);
  if (f.prefix) b.write(f.prefix, 345, 155, 'utf8');
  return fixChecksum(b);
}

/**
 * Appends one entry as this tool's own writer frames it (root-owned, a fixed mtime, mode 0644 unless told) with its
 * data and padding to `blocks`; returns its header fields.
 */
export function tarEntry(
  blocks: Buffer[],
  e: { path: string; type: 'file' | 'dir' | 'symlink'; data?: Buffer; mode?: number; linkpath?: string },
) {
  const data = e.data ?? Buffer.alloc(0);
  const h = {
    path: e.path,
    type: e.type,
    size: data.length,
    mode: e.mode ?? 0o644,
    mtime: 1_600_000_000,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}),
  };
  blocks.push(encodeHeader(h));
  if (data.length) blocks.push(padded(data));
  return h;
}

export function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A pax extended header ('x', or 'g' for global) with its records. */
export function paxHeader(records: Array<[string, string]>, flag: 'x' | 'g' = 'x'): Buffer {
  const body = Buffer.from(records.map(([k, v]) => paxRecord(k, v)).join(''));
  return Buffer.concat([hdr({ name: 'PaxHeaders/x', flag, size: body.length }), padded(body)]);
}

/** A GNU long name ('L') or long link ('K') header with its body. */
export function gnuLong(flag: 'L' | 'K', value: string): Buffer {
  const body = Buffer.from(value + '\0');
  return Buffer.concat([hdr({ name: '././@LongLink', flag, size: body.length, magic: 'gnu' }), padded(body)]);
}

export const END = Buffer.alloc(2 * BLOCK);

/** The header blocks' offsets of a well-formed archive (walked by the ustar size, for edits of GNU tar's output). */
function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length) {
    const b = tar.subarray(off, off + BLOCK);
    if (b.every((c) => c === 0)) break;
    out.push(off);
    const size = parseInt(b.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
    const flag = String.fromCharCode(b[156]!);
    const body = flag === '5' || flag === '1' || flag === '2' ? 0 : size;
    off += BLOCK + Math.ceil(body / BLOCK) * BLOCK;
  }
  return out;
}

function nameAt(tar: Buffer, off: number): string {
  return tar.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
}

/** The offset of the header of the entry called `name` (its ustar name field). */
function findHeader(tar: Buffer, name: string): number {
  const off = headerOffsets(tar).find((o) => nameAt(tar, o) === name);
  if (off === undefined) throw new Error(`no header ${name} in the archive`);
  return off;
}

function gnuTar(cwd: string, out: string, args: string[]): Buffer {
  execFileSync('tar', ['-cf', out, ...args], { cwd, stdio: 'pipe', env: { ...process.env, LC_ALL: 'C' } });
  return readFileSync(out);
}

export async function buildCorpus(work: string, asRoot: boolean): Promise<CorpusCase[]> {
  const tree = path.join(work, 'tree');
  const out = path.join(work, 'corpus');
  await fsp.mkdir(out, { recursive: true });
  const long = `${'long-folder-name-'.repeat(5)}/${'n'.repeat(120)}.txt`;
  await fsp.mkdir(path.join(tree, 'app', 'empty'), { recursive: true });
  await fsp.mkdir(path.join(tree, 'app', path.dirname(long)), { recursive: true });
  await fsp.writeFile(path.join(tree, 'app', 'a.txt'), 'alpha\n');
  const splittable = `${'p'.repeat(120)}/short.txt`;
  await fsp.mkdir(path.join(tree, 'app', 'p'.repeat(120)));
  await fsp.writeFile(path.join(tree, 'app', splittable), 'prefix\n');
  await fsp.writeFile(path.join(tree, 'app', long), 'long name\n');
  await fsp.writeFile(path.join(tree, 'app', 'setuid'), '#!/bin/sh\nid\n');
  await fsp.chmod(path.join(tree, 'app', 'setuid'), 0o4755);
  await fsp.writeFile(path.join(tree, 'app', 'ünïcødé.txt'), 'u\n');
  await fsp.symlink('a.txt', path.join(tree, 'app', 'link'));
  await fsp.symlink(`${'t'.repeat(150)}/target`, path.join(tree, 'app', 'long-link'));
  await fsp.link(path.join(tree, 'app', 'a.txt'), path.join(tree, 'app', 'hard'));
  execFileSync('mkfifo', [path.join(tree, 'app', 'fifo')]);
  if (asRoot) {
    execFileSync('mknod', [path.join(tree, 'app', 'null'), 'c', '1', '3']);
    execFileSync('mknod', [path.join(tree, 'app', 'disk'), 'b', '7', '200']);
  }
  // Link chain that reaches /etc only when resolved link by link.
  await fsp.mkdir(path.join(tree, 'chain', 'd'), { recursive: true });
  await fsp.symlink('..', path.join(tree, 'chain', 'd', 's1'));
  await fsp.symlink('s1/..', path.join(tree, 'chain', 'd', 's2'));
  await fsp.writeFile(path.join(tree, 'sparse'), '');
  execFileSync('truncate', ['-s', '1M', path.join(tree, 'sparse')]);
  await fsp.appendFile(path.join(tree, 'sparse'), 'end');
  for (const f of ['app/a.txt', 'app/setuid', 'app'])
    await fsp.utimes(path.join(tree, f), 1_600_000_000, 1_600_000_000);

  const cases: CorpusCase[] = [];
  const add = async (name: string, data: Buffer, want: CorpusCase['want']): Promise<void> => {
    const file = path.join(out, `${name}.tar`);
    await fsp.writeFile(file, data);
    cases.push({ name, file, want });
  };
  const real = (name: string, args: string[]): Buffer => gnuTar(tree, path.join(out, `${name}.tar`), args);

  // ---- made by GNU tar ----
  for (const format of ['gnu', 'oldgnu', 'posix', 'ustar']) {
    const files = format === 'ustar' ? ['app/a.txt', 'app/link', 'app/hard', 'app/setuid', 'app/empty'] : ['app'];
    await add(`gnu-tar-${format}`, real(`gnu-tar-${format}`, [`--format=${format}`, ...files]), 'list');
  }
  await add('gnu-tar-v7', real('gnu-tar-v7', ['--format=v7', 'app/a.txt', 'app/link', 'app/hard']), 'list');
  await add('gnu-tar-chain', real('gnu-tar-chain', ['--format=posix', 'chain']), 'list');
  await add(
    'gnu-tar-base256-owner',
    real('gnu-tar-base256-owner', ['--format=gnu', '--owner=big:5000000', '--group=big:5000000', 'app/a.txt']),
    'list',
  );
  await add(
    'gnu-tar-numeric-owner',
    real('gnu-tar-numeric-owner', ['--format=posix', '--numeric-owner', '--owner=1234', 'app/a.txt']),
    'list',
  );
  // Duplicate entries: the same name appended again with other content.
  {
    const f = path.join(out, 'dup.tar');
    gnuTar(tree, f, ['--format=posix', 'app/a.txt']);
    await fsp.writeFile(path.join(tree, 'app', 'a.txt'), 'changed, longer\n');
    execFileSync('tar', ['-rf', f, '--format=posix', 'app/a.txt'], { cwd: tree, stdio: 'pipe' });
    await fsp.writeFile(path.join(tree, 'app', 'a.txt'), 'alpha\n');
    await add('gnu-tar-duplicate', readFileSync(f), 'list');
  }
  await add('gnu-tar-sparse-gnu', real('gnu-tar-sparse-gnu', ['--format=gnu', '-S', 'sparse']), 'either');
  await add('gnu-tar-sparse-posix', real('gnu-tar-sparse-posix', ['--format=posix', '-S', 'sparse']), 'either');
  await add('gnu-tar-label', real('gnu-tar-label', ['--format=gnu', '-V', 'LABEL', 'app/a.txt']), 'either');

  // ---- byte edits of GNU tar's output ----
  const plain = real('base-ustar', ['--format=ustar', 'app/a.txt', 'app/setuid']);
  const aOff = findHeader(plain, 'app/a.txt');
  // An embedded archive fragment: a block device and a link to /etc, as a payload inside a body.
  const payload = Buffer.concat([
    hdr({ name: 'app/evil-disk', flag: '4', devmajor: 8, devminor: 0 }),
    hdr({ name: 'app/etc', flag: '2', linkname: '/etc' }),
  ]);
  {
    // pax size larger than the ustar size: GNU tar frames by the pax size, the payload is file data.
    const body = padded(Buffer.concat([Buffer.from('x'.repeat(BLOCK)), payload]));
    const h = Buffer.from(plain.subarray(aOff, aOff + BLOCK));
    oct(h, 10, 124, 12);
    fixChecksum(h);
    const rest = plain.subarray(findHeader(plain, 'app/setuid'));
    const tar = Buffer.concat([plain.subarray(0, aOff), paxHeader([['size', String(body.length)]]), h, body, rest]);
    await add('edit-pax-size-larger', tar, 'list');
  }
  {
    // pax size 0, ustar size covers the payload: GNU tar reads the payload as entries.
    const h = Buffer.from(plain.subarray(aOff, aOff + BLOCK));
    oct(h, payload.length, 124, 12);
    fixChecksum(h);
    await add('edit-pax-size-smaller', Buffer.concat([paxHeader([['size', '0']]), h, payload, END]), 'list');
  }
  {
    // GNU base-256 size field (what GNU tar writes for files of 8 GiB and more), here for 600 bytes.
    const data = Buffer.from('b'.repeat(600));
    const h = hdr({ name: 'app/b256', flag: '0', magic: 'gnu', size: 0 });
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h.writeUIntBE(600, 130, 6);
    await add('edit-base256-size', Buffer.concat([fixChecksum(h), padded(data), END]), 'list');
    const neg = Buffer.from(h);
    neg.fill(0xff, 124, 136);
    await add('edit-base256-negative-size', Buffer.concat([fixChecksum(neg), padded(data), END]), 'either');
  }
  {
    // GNU long name and pax path for one entry: pax wins. And a GNU long link with a pax linkpath.
    const tar = Buffer.concat([
      gnuLong('L', 'app/from-gnu-long-name'),
      paxHeader([['path', 'app/from-pax']]),
      hdr({ name: 'app/from-ustar', flag: '0', size: 3 }),
      padded(Buffer.from('abc')),
      gnuLong('K', 'target-from-gnu'),
      paxHeader([
        ['linkpath', 'target-from-pax'],
        ['uid', '4242'],
        ['gid', '4343'],
        ['uname', 'paxuser'],
        ['gname', 'paxgroup'],
        ['mtime', '1600000123.5'],
      ]),
      hdr({ name: 'app/l', flag: '2', linkname: 'target-from-ustar' }),
      gnuLong('L', `app/${'g'.repeat(200)}`),
      hdr({ name: 'app/ggg', flag: '0', size: 1, magic: 'gnu' }),
      padded(Buffer.from('g')),
      END,
    ]);
    await add('edit-precedence', tar, 'list');
  }
  {
    // A GNU header keeps times where POSIX keeps the prefix: GNU tar does not prepend them to the name.
    const g = real('base-gnu', ['--format=gnu', 'app/a.txt']);
    const off = findHeader(g, 'app/a.txt');
    g.write('00000000001\u0000', off + 345, 12, 'latin1');
    fixChecksum(g.subarray(off, off + BLOCK));
    await add('edit-gnu-atime-not-prefix', g, 'list');
  }
  {
    // POSIX prefix field (a long name split by GNU tar --format=ustar) is part of the name.
    const u = real('base-ustar-prefix', ['--format=ustar', `app/${splittable}`]);
    await add('gnu-tar-ustar-prefix', u, 'list');
  }
  const either = async (name: string, parts: Buffer[]): Promise<void> => add(name, Buffer.concat(parts), 'either');
  // Bodies on entries that have none in GNU tar's framing, depending on the type.
  await either('edit-dir-with-size', [hdr({ name: 'app/d/', flag: '5', size: BLOCK }), payload, END]);
  await either('edit-symlink-with-size', [hdr({ name: 'app/s', flag: '2', linkname: 'x', size: BLOCK }), payload, END]);
  await either('edit-hardlink-with-size', [
    hdr({ name: 'app/a', flag: '0', size: 1 }),
    padded(Buffer.from('a')),
    hdr({ name: 'app/h', flag: '1', linkname: 'app/a', size: BLOCK }),
    payload,
    END,
  ]);
  await either('edit-global-path', [paxHeader([['path', 'app/global']], 'g'), hdr({ name: 'app/x', flag: '0' }), END]);
  await either('edit-two-pax', [
    paxHeader([['path', 'app/one']]),
    paxHeader([['path', 'app/two']]),
    hdr({ name: 'app/x', flag: '0' }),
    END,
  ]);
  await either('edit-dangling-pax', [hdr({ name: 'app/x', flag: '0' }), paxHeader([['path', 'app/y']]), END]);
  await either('edit-bad-pax-record', [
    hdr({ name: 'PaxHeaders/x', flag: 'x', size: 12 }),
    padded(Buffer.from('99 path=a\n\n\n')),
    hdr({ name: 'app/x', flag: '0' }),
    END,
  ]);
  await either('edit-file-named-like-folder', [hdr({ name: 'app/x/', flag: '0' }), END]);
  await either('edit-truncated', [hdr({ name: 'app/x', flag: '0', size: 2000 }), Buffer.alloc(BLOCK)]);
  await either('edit-garbage-size', [
    (() => {
      const h = hdr({ name: 'app/x', flag: '0' });
      h.write('12x45', 124, 5, 'latin1');
      return fixChecksum(h);
    })(),
    END,
  ]);
  await either('edit-lone-zero-block', [
    hdr({ name: 'app/x', flag: '0' }),
    Buffer.alloc(BLOCK),
    hdr({ name: 'app/after-zero', flag: '0' }),
    END,
  ]);
  await either('edit-bad-checksum', [
    (() => {
      const h = hdr({ name: 'app/x', flag: '0' });
      h[0] = 0x41;
      return h;
    })(),
    END,
  ]);
  return cases;
}
