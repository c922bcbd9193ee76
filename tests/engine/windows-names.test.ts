import { describe, expect, it } from 'vitest';
import { EntryScreen, windowsNameProblem } from '../../src-main/engine/archive/entry-check.js';
import type { TarEntryHeader } from '../../src-main/engine/archive/tar-header.js';

/**
 * A restore on Windows (Edge Data Store runs there too) creates each entry by its name: a name Windows cannot hold
 * would write somewhere else than the archive says (`a:b` the stream `b` of the file `a`, `NUL.txt` the NUL device,
 * `x.` the file `x`, maybe another entry's). The screen every reader runs refuses them there, before anything is
 * written, and only there: on Linux they are ordinary names a product may have.
 */
const file = (p: string): TarEntryHeader => ({
  path: p,
  type: 'file',
  size: 0,
  mode: 0o644,
  mtime: 0,
  uid: 0,
  gid: 0,
  uname: '',
  gname: '',
  flag: '0',
});

const refused = [
  'Storage/a:b',
  'Storage/data.json:hidden',
  'Storage/what?',
  'Storage/star*',
  'Storage/pipe|x',
  'Storage/lt<gt>',
  'Storage/quote"d',
  'Storage/tab\there',
  'Storage/dot.',
  'Storage/blank ',
  'Storage/NUL',
  'Storage/nul.txt',
  'Storage/Con',
  'Storage/aux.tar.gz',
  'Storage/COM1',
  'Storage/lpt9.log',
  'Storage/COM\u00b9',
  'Storage/CONIN$',
  'Storage/NUL .txt',
  'Storage/sub./file',
  'Storage/PRN/file',
];
const kept = [
  'Storage/file.tar.gz',
  'Storage/CONFIG',
  'Storage/console.log',
  'Storage/nul_file',
  'Storage/com10',
  'Storage/lpt',
  'Storage/a b.txt',
  'Storage/.hidden',
  'Storage/日本語.json',
];

describe('names Windows cannot hold', () => {
  it('are refused by a restore on Windows, before anything is written, with what to do', () => {
    for (const p of refused) {
      const screen = new EntryScreen(new Set(['Storage']), undefined, 'win32');
      let err: unknown = null;
      try {
        screen.check(file(p));
      } catch (e) {
        err = e;
      }
      expect(err, p).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
      expect(String((err as Error).message), p).toMatch(/cannot be restored on Windows under its own name/);
      expect(String((err as { hint?: string }).hint)).toMatch(/Restore it on a Linux machine.*Nothing was changed/);
    }
  });

  it('are ordinary names on Linux, and ordinary names pass on Windows', () => {
    for (const p of refused) {
      expect(new EntryScreen(new Set(['Storage']), undefined, 'linux').check(file(p))).toEqual(p.split('/'));
    }
    for (const p of kept) {
      expect(windowsNameProblem(p.split('/')[1]!), p).toBeNull();
      expect(new EntryScreen(new Set(['Storage']), undefined, 'win32').check(file(p))).toEqual(p.split('/'));
    }
  });
});
