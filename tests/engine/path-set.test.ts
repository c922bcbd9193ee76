import { describe, expect, it } from 'vitest';
import { PathSet } from '../../src-main/engine/archive/path-set.js';

describe('PathSet (the paths a hand-made archive gave so far, by fingerprint)', () => {
  it('answers what was recorded, and nothing for what was not, across its growth', () => {
    const s = new PathSet(16);
    const n = 200_000;
    for (let i = 0; i < n; i++) s.set(`Storage/d${i % 97}/file-${i}.json`, i % 3 === 0 ? 'dir' : 'file');
    expect(s.size).toBe(n);
    expect(s.capacity).toBeGreaterThanOrEqual(n / 0.7);
    for (let i = 0; i < n; i++) expect(s.get(`Storage/d${i % 97}/file-${i}.json`)).toBe(i % 3 === 0 ? 'dir' : 'file');
    for (let i = n; i < n + 1000; i++) expect(s.get(`Storage/d${i % 97}/file-${i}.json`)).toBeUndefined();
    // Near neighbours are different paths: a character more, less, or swapped.
    expect(s.get('Storage/d0/file-0.jso')).toBeUndefined();
    expect(s.get('Storage/d0/file-0.jsonn')).toBeUndefined();
    expect(s.get('Storage/0d/file-0.json')).toBeUndefined();
  });

  it('replaces the type of a path recorded again, without counting it twice', () => {
    const s = new PathSet();
    s.set('Configuration/a', 'dir');
    s.set('Configuration/a', 'symlink');
    expect(s.get('Configuration/a')).toBe('symlink');
    expect(s.size).toBe(1);
    // Long and non-ASCII paths are kept as well as short ones.
    const long = 'Configuration/' + 'é/'.repeat(2000) + 'x';
    s.set(long, 'file');
    expect(s.get(long)).toBe('file');
    expect(s.get(long.slice(0, -1) + 'y')).toBeUndefined();
  });
});
