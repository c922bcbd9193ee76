import { describe, expect, it } from 'vitest';
import { isInside } from '../../src-main/engine/util/path-inside.js';

describe('isInside', () => {
  it('is the folder itself and what lies under it, nothing else', () => {
    expect(isInside('/a/b', '/a/b')).toBe(true);
    expect(isInside('/a/b', '/a/b/c/d')).toBe(true);
    expect(isInside('/a/b', '/a/bc')).toBe(false);
    expect(isInside('/a/b', '/a')).toBe(false);
    expect(isInside('/a/b', '/a/b/../c')).toBe(false);
  });

  it('counts a name that only starts with two dots as inside (the two copies it replaced did not)', () => {
    expect(isInside('/sandbox', '/sandbox/..cache/pid')).toBe(true);
  });
});
