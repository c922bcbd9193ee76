import { describe, expect, it } from 'vitest';
import { getPointer } from '../../src-main/engine/appliance/json-pointer.js';
import { checkVersion } from '../../src-main/engine/appliance/version-compare.js';

describe('checkVersion', () => {
  it('"same" accepts versions equal in their significant parts and refuses others', () => {
    expect(checkVersion('same', 3, '1.1.1.46', '1.1.1.52')).toEqual({
      ok: true,
      reason: "The installed version 1.1.1.52 matches the backup's 1.1.1.46 (the first 3 parts compared: 1.1.1).",
    });
    // The whole version compared: said once, not "5.3.2 matches the backup's 5.3.2 (5.3.2)".
    expect(checkVersion('same', 3, '5.3.2', '5.3.2').reason).toBe(
      "The installed version 5.3.2 matches the backup's 5.3.2.",
    );
    const r = checkVersion('same', 3, '1.1.1.46', '1.1.2.1');
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('Install 1.1.1 first');
    expect(checkVersion('same', 4, '1.1.1.46', '1.1.1.52').ok).toBe(false);
  });

  it('"same-or-newer" accepts a newer installation and refuses an older one', () => {
    expect(checkVersion('same-or-newer', 3, '1.1.1.46', '1.2.0.1').ok).toBe(true);
    expect(checkVersion('same-or-newer', 3, '1.1.1.46', '1.1.1.46').ok).toBe(true);
    const r = checkVersion('same-or-newer', 3, '1.1.1.46', '1.0.9.99');
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/newer than the installed 1\.0\.9\.99/);
  });

  it('compares numerically, not as text', () => {
    expect(checkVersion('same-or-newer', 3, '1.9.0', '1.10.0').ok).toBe(true);
    expect(checkVersion('same-or-newer', 3, '1.10.0', '1.9.0').ok).toBe(false);
  });

  it('counts missing parts as zero', () => {
    expect(checkVersion('same', 3, '1.1', '1.1.0.7').ok).toBe(true);
  });

  it('"any" accepts everything, even unreadable versions', () => {
    expect(checkVersion('any', 3, 'weird', '1.0').ok).toBe(true);
  });

  it('refuses, saying which, when a version is not a dotted number', () => {
    const r = checkVersion('same-or-newer', 3, '1.1.1.46', 'unknown');
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('the installed version "unknown"');
  });
});

describe('getPointer (RFC 6901)', () => {
  const doc = { 'Edge Data Store': '1.1.1.46', 'a/b': { 'm~n': [10, 20] }, '': 'empty' };
  it('resolves keys with spaces, ~1 and ~0 escapes, and array indexes', () => {
    expect(getPointer(doc, '/Edge Data Store')).toBe('1.1.1.46');
    expect(getPointer(doc, '/a~1b/m~0n/1')).toBe(20);
    expect(getPointer(doc, '/')).toBe('empty');
    expect(getPointer(doc, '')).toBe(doc);
  });
  it('answers undefined for what is absent or malformed', () => {
    expect(getPointer(doc, '/nope')).toBeUndefined();
    expect(getPointer(doc, '/a~1b/m~0n/01')).toBeUndefined();
    expect(getPointer(doc, 'no-slash')).toBeUndefined();
    expect(getPointer(doc, '/toString')).toBeUndefined();
  });
});
