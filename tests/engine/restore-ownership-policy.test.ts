import { describe, expect, it } from 'vitest';
import { compilePolicy, globToRegExp } from '../../src-main/engine/restore/ownership-policy.js';

describe('ownership policy rules', () => {
  it('matches ** across folders (including none) and * within one name', () => {
    const re = globToRegExp('Configuration/**/*.key');
    expect(re.test('Configuration/a.key')).toBe(true);
    expect(re.test('Configuration/certs/deep/a.key')).toBe(true);
    expect(re.test('Configuration/a.key.bak')).toBe(false);
    expect(re.test('Storage/a.key')).toBe(false);
    expect(globToRegExp('Storage/*.json').test('Storage/sub/x.json')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it('gives folders and files the policy modes, later exceptions winning', () => {
    const p = compilePolicy({
      user: 'u',
      group: 'g',
      dirMode: 0o755,
      fileMode: 0o644,
      exceptions: [
        { glob: 'Configuration/**/*.key', fileMode: 0o600 },
        { glob: 'Configuration/secret', dirMode: 0o700 },
        { glob: 'Configuration/secret/public.key', fileMode: 0o640 },
      ],
    });
    expect(p.modeFor('Configuration/x.json', 'file')).toBe(0o644);
    expect(p.modeFor('Configuration/certs/a.key', 'file')).toBe(0o600);
    expect(p.modeFor('Configuration/secret', 'dir')).toBe(0o700);
    expect(p.modeFor('Configuration/secret', 'file')).toBe(0o644);
    expect(p.modeFor('Configuration/secret/public.key', 'file')).toBe(0o640);
    expect(p.modeFor('Storage', 'dir')).toBe(0o755);
  });
});
