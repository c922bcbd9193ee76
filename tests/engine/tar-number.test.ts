import { describe, expect, it } from 'vitest';
import { TarFormatError, checksumOk, decodeHeader, encodeHeader } from '../../src-main/engine/archive/tar-header.js';

/** The rule the reader had before its fast path for plain octal (GNU tar's from_header, as a regex). */
function reference(field: Buffer): number | 'error' {
  const s = field.toString('latin1');
  const m = /^ *([0-7]*)(?:[ \0]|$)/.exec(s);
  if (!m || (m[1] === '' && s.startsWith(' ') && /^ *$/.test(s))) return 'error';
  if (m[1] === '') return 0;
  const n = parseInt(m[1]!, 8);
  return Number.isSafeInteger(n) ? n : 'error';
}

/**
 * Numeric header fields are read without a string or a regex when they are plain octal; every field must still
 * read exactly as the general rule reads it (the differential test against GNU tar relies on that rule).
 */
describe('tar numeric fields', () => {
  it('read the same with and without the fast path, for plain, padded and malformed fields', () => {
    const block = encodeHeader({
      path: 'a',
      type: 'file',
      size: 1,
      mode: 0o644,
      mtime: 1,
      uid: 0,
      gid: 0,
      uname: 'root',
      gname: 'root',
    });
    const alphabet = ['0', '1', '7', '8', ' ', '\0', 'x', '5'];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const cases: string[] = [
      '00000000001\0',
      '00000000001 ',
      '777777777777',
      '           1',
      '            ',
      '1 x',
      ' 1',
      '',
    ];
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = rnd(13);
      for (let k = 0; k < len; k++) s += alphabet[rnd(alphabet.length)];
      cases.push(s);
    }
    for (const c of cases) {
      const field = Buffer.alloc(12);
      field.write(c.slice(0, 12), 'latin1');
      const b = Buffer.from(block);
      field.copy(b, 124);
      const want = reference(field);
      let got: number | 'error';
      try {
        got = decodeHeader(b).size;
      } catch (e) {
        expect(e).toBeInstanceOf(TarFormatError);
        got = 'error';
      }
      expect(got, JSON.stringify(c)).toBe(want);
    }
  });

  it('checks the header checksum', () => {
    const b = encodeHeader({
      path: 'dir/file',
      type: 'file',
      size: 1234,
      mode: 0o600,
      mtime: 1_700_000_000,
      uid: 1000,
      gid: 1000,
      uname: 'u',
      gname: 'g',
    });
    expect(checksumOk(b)).toBe(true);
    for (const at of [0, 147, 156, 300, 511]) {
      const bad = Buffer.from(b);
      bad[at] = bad[at]! ^ 1;
      expect(checksumOk(bad), `byte ${at}`).toBe(false);
    }
  });
});
