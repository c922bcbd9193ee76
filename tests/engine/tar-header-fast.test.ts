import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  checksumOk,
  decodeHeader,
  encodeHeader,
  type WritableHeader,
} from '../../src-main/engine/archive/tar-header.js';
import { manifestLine, manifestLineObject, type ManifestLine } from '../../src-main/engine/archive/manifest.js';

/**
 * The per-entry text and blocks of a backup are built without strings for numbers, regexes or JSON.stringify of a
 * whole object (a header and a manifest line per file, 500,000 of each on a small-file backup, the lines again at
 * its read-back and restore). Each fast way must give exactly what the general way gives: the header bytes GNU tar
 * reads (RESTORE.txt), the manifest lines the read-back compares as text, the names the restore creates.
 */

let seed = 0x2545f491;
const rnd = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const odd = ['/', '.', 'é', '日', ' ', '"', '\\', '\n', '\u0001', '\u007f', '\ud800', '😀'];
const text = (max: number): string => {
  let s = '';
  const n = rnd(max + 1);
  for (let i = 0; i < n; i++) s += rnd(5) ? String.fromCharCode(97 + rnd(26)) : odd[rnd(odd.length)]!;
  return s;
};
const numbers = [0, 1, 7, 8, 0o7777, 0o7777777, 0o10000000, 2 ** 31, 2 ** 33, 0o77777777777, 0o77777777777 + 1];
const num = (): number => (rnd(3) ? rnd(2 ** 30) : numbers[rnd(numbers.length)]!);

/** The ustar block as the writer built it before its fast path: numbers as padded strings, the sum of all bytes. */
function referenceBlock(e: WritableHeader): Buffer {
  const b = Buffer.alloc(512);
  const p = e.type === 'dir' && !e.path.endsWith('/') ? e.path + '/' : e.path;
  const octal = (n: number, off: number, len: number): void => {
    b.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
  };
  b.write(p, 0, 100, 'utf8');
  octal(e.mode & 0o7777, 100, 8);
  octal(e.uid, 108, 8);
  octal(e.gid, 116, 8);
  octal(e.type === 'file' ? e.size : 0, 124, 12);
  octal(Math.max(0, Math.floor(e.mtime)), 136, 12);
  b.fill(0x20, 148, 156);
  b.write({ file: '0', dir: '5', symlink: '2' }[e.type], 156, 1, 'ascii');
  b.write(e.linkpath ?? '', 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'ascii');
  b.write(e.uname, 265, 32, 'utf8');
  b.write(e.gname, 297, 32, 'utf8');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'ascii');
  return b;
}

/** How the reader decoded a name field before its ASCII fast path (up to the first NUL, UTF-8, refused if not). */
function referenceName(b: Buffer, off: number, len: number): string | 'refused' {
  const end = b.indexOf(0, off);
  const bytes = b.subarray(off, end === -1 || end > off + len ? off + len : end);
  return isUtf8(bytes) ? bytes.toString('utf8') : 'refused';
}

describe('fast header and manifest line', () => {
  it('a plain entry gets the very block the general way wrote, and every entry a valid one that reads back', () => {
    let plain = 0;
    for (let i = 0; i < 20_000; i++) {
      const type = (['file', 'dir', 'symlink'] as const)[rnd(3)]!;
      const ascii = rnd(4) !== 0;
      const e: WritableHeader = {
        path: ascii ? `data/${'x'.repeat(rnd(110))}${i}` : `data/${text(rnd(3) ? 40 : 200)}`,
        type,
        size: type === 'file' ? num() : 0,
        mode: rnd(0o10000),
        mtime: rnd(3) ? 1_700_000_000 + rnd(1e8) : num(),
        uid: rnd(3) ? rnd(70_000) : num(),
        gid: rnd(3) ? rnd(70_000) : num(),
        uname: rnd(4) ? 'nobody' : ascii ? 'u'.repeat(rnd(40)) : text(40),
        gname: rnd(4) ? 'nogroup' : text(40),
        ...(type === 'symlink' ? { linkpath: ascii ? 'l'.repeat(rnd(120)) : text(150) } : {}),
      };
      const got = encodeHeader(e, Buffer.alloc(512, 0xaa));
      const fits =
        /^[\x20-\x7e]*$/.test(e.path + (type === 'dir' ? '/' : '') + (e.linkpath ?? '') + e.uname + e.gname) &&
        Buffer.byteLength(e.path) + (type === 'dir' && !e.path.endsWith('/') ? 1 : 0) <= 100 &&
        (e.linkpath ?? '').length <= 100 &&
        e.uname.length <= 31 &&
        e.gname.length <= 31 &&
        e.size <= 0o77777777777 &&
        e.mtime <= 0o77777777777 &&
        e.uid <= 0o7777777 &&
        e.gid <= 0o7777777;
      if (fits) {
        plain++;
        expect(got.equals(referenceBlock(e)), JSON.stringify(e)).toBe(true);
      }
      // Every header block (a pax header and its records first where a field does not fit): its checksum holds.
      expect(checksumOk(got.subarray(0, 512))).toBe(true);
      expect(checksumOk(got.subarray(got.length - 512))).toBe(true);
      expect(got.length === 512 || got[156] === 0x78).toBe(true);
      const last = decodeHeader(got.subarray(got.length - 512));
      expect(last.mode).toBe(e.mode & 0o7777);
      if (fits)
        expect([last.path, last.uname, last.gname, last.uid, last.size]).toEqual([
          type === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path,
          e.uname,
          e.gname,
          e.uid,
          e.size,
        ]);
    }
    expect(plain).toBeGreaterThan(3_000);
  });

  it('names decode as the UTF-8 rule decodes them, ASCII or not, refused when not UTF-8', () => {
    const block = encodeHeader({
      path: 'data/a',
      type: 'symlink',
      size: 0,
      mode: 0o777,
      mtime: 1,
      uid: 1,
      gid: 1,
      uname: 'u',
      gname: 'g',
      linkpath: 'b',
    });
    const bytes = [0, 0x41, 0x2f, 0x20, 0x7f, 0x80, 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xff];
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(block);
      for (let k = rnd(10); k > 0; k--) b[[0, 157, 345][rnd(3)]! + rnd(14)] = bytes[rnd(bytes.length)]!;
      const want = [referenceName(b, 0, 100), referenceName(b, 157, 100), referenceName(b, 345, 155)];
      if (want.includes('refused')) {
        refused++;
        expect(() => decodeHeader(b)).toThrow(/not UTF-8/);
        continue;
      }
      const h = decodeHeader(b);
      expect([h.path, h.linkpath]).toEqual([want[2] === '' ? want[0] : `${want[2]}/${want[0]}`, want[1]]);
    }
    expect(refused).toBeGreaterThan(1_000);
  });

  it('a manifest line is the JSON of its object, keys in order, for any field values', () => {
    for (let i = 0; i < 20_000; i++) {
      const m = {
        path: rnd(5) ? `data/${text(30)}` : text(10),
        type: rnd(10) ? (['file', 'dir', 'symlink'] as const)[rnd(3)] : text(5),
        size: num(),
        mode: rnd(0o10000),
        mtime: rnd(10) ? num() : [Number.NaN, Number.POSITIVE_INFINITY, -0, 1.5, undefined][rnd(5)],
        uname: rnd(20) ? text(12) : undefined,
        gname: text(12),
        uid: num(),
        gid: num(),
        ...(rnd(2) ? { sha256: 'ab'.repeat(32) } : {}),
        ...(rnd(3) === 0 ? { target: text(20) } : {}),
      } as ManifestLine;
      expect(manifestLine(m)).toBe(JSON.stringify(manifestLineObject(m)));
      expect(JSON.parse(manifestLine(m)) as unknown).toEqual(JSON.parse(JSON.stringify(manifestLineObject(m))));
    }
  });
});
