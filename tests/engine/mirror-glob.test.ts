import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileNameGlob } from '../../src-main/engine/schedule/mirror.js';
import { runCli } from '../helpers/cli.js';

/**
 * `mirror --glob` is typed by the technician and tested against every name in a folder: it is matched by a walk
 * (time: the pattern's length times the name's), not a backtracking regular expression.
 */
let work: string;
beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'mirror-glob-'));
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('mirror --glob', () => {
  it('matches whole file names: * any run, ? one character, everything else literal', () => {
    const g = fileNameGlob('*.tar.gz.enc');
    expect(g.test('opencrvs-2026-11-29.tar.gz.enc')).toBe(true);
    expect(g.test('.tar.gz.enc')).toBe(true);
    expect(g.test('a.tar.gz.enc.sha256')).toBe(false);
    expect(g.test('a.tar.gzxenc')).toBe(false);
    expect(fileNameGlob('backup-??.zip').test('backup-01.zip')).toBe(true);
    expect(fileNameGlob('backup-??.zip').test('backup-1.zip')).toBe(false);
    expect(fileNameGlob('[ab]+(x).zip').test('[ab]+(x).zip')).toBe(true);
    expect(fileNameGlob('[ab]+(x).zip').test('a+x.zip')).toBe(false);
    expect(fileNameGlob('**.enc').test('x.enc')).toBe(true);
    expect(() => fileNameGlob('sub/*.enc')).toThrow(/must be a file-name pattern, not a path/);
  });

  it('answers at once for a pattern of many stars against a long name (a regular expression never ended)', async () => {
    const from = path.join(work, 'own');
    await fsp.mkdir(from);
    await fsp.writeFile(path.join(from, 'a'.repeat(200)), 'not a backup');
    const state = path.join(work, 'state');
    await fsp.mkdir(state, { mode: 0o700 });
    // Killed after a minute (the old matcher's fate) rather than holding the test; the walk takes milliseconds.
    const r = await runCli(
      [
        'mirror',
        '--from',
        from,
        '--to',
        path.join(work, 'stick'),
        '--glob',
        '*a*a*a*a*a*a*a*a*b',
        '--state-dir',
        state,
      ],
      { prefix: ['timeout', '-s', 'KILL', '60'] },
    );
    expect(r.code, 'killed by the timeout').toBe(1); // BACKUP_NOT_FOUND
    expect(r.stderr).toMatch(/No files matching \*a\*a\*a\*a\*a\*a\*a\*a\*b in /);
  });
});
