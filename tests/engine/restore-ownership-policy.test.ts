import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { compilePolicy, globMatcher } from '../../src-main/engine/restore/ownership-policy.js';
import { checkOwnership, checkOwnershipJob } from '../../src-main/engine/restore/repair-ownership.js';
import { gidOf, isRoot, tempDir, uidOf } from '../helpers/datasets.js';

describe('ownership policy rules', () => {
  it('matches ** across folders (including none) and * within one name', () => {
    const re = globMatcher('Configuration/**/*.key');
    expect(re.test('Configuration/a.key')).toBe(true);
    expect(re.test('Configuration/certs/deep/a.key')).toBe(true);
    expect(re.test('Configuration/a.key.bak')).toBe(false);
    expect(re.test('Storage/a.key')).toBe(false);
    expect(globMatcher('Storage/*.json').test('Storage/sub/x.json')).toBe(false);
    expect(globMatcher('a.b').test('axb')).toBe(false);
  });

  it('matches globs as the regular expressions did, in time the length of the path, whatever the glob', () => {
    // The regular expression the globs used to become (the reference for what matches).
    const asRegExp = (glob: string): RegExp =>
      new RegExp(
        `^${glob
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\/|\*\*|\*|\?/g, (w) =>
            w === '**/' ? '(?:.*/)?' : w === '**' ? '.*' : w === '*' ? '[^/]*' : '[^/]',
          )}$`,
      );
    const globs = ['a/**/b', '**', '**/*.key', 'C/*', 'C/?.k*', '*a*/b**', 'x**y', '***', 'C/**', 'a.b', '**/', '?'];
    const paths = [
      'a/b',
      'a/x/y/b',
      'ab',
      'C/a.key',
      'C/x/a.key',
      'C/',
      'C',
      'xy',
      'x/q/y',
      'a.b',
      'axb',
      'aaa/b',
      'b/',
    ];
    for (const g of globs) for (const p of paths) expect(globMatcher(g).test(p), `${g} ${p}`).toBe(asRegExp(g).test(p));
    // A profile's glob on a path from a stick: as a regular expression, seconds for 4 names of 60 characters, growing
    // with the power of the number of names (this one: 60^8 ways to try).
    const hostile = globMatcher('*a*/*a*/*a*/*a*/*a*/*a*/*a*/*a*/b');
    expect(hostile.test(`${Array(8).fill('a'.repeat(60)).join('/')}/c`)).toBe(false);
    expect(hostile.test(`${Array(8).fill('a'.repeat(60)).join('/')}/b`)).toBe(true);
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

describe('the ownership check after the swap (worker walk)', () => {
  it.skipIf(!isRoot)('counts every path and names each one whose owner or mode differs from the policy', async () => {
    const root = await tempDir('owners');
    const item = path.join(root, 'Configuration');
    await fsp.mkdir(path.join(item, 'certs'), { recursive: true });
    await fsp.writeFile(path.join(item, 'a.json'), '{}');
    await fsp.writeFile(path.join(item, 'certs', 'b.key'), 'k');
    await fsp.writeFile(path.join(item, 'certs', 'c.key'), 'k');
    await fsp.symlink('a.json', path.join(item, 'link'));
    const nobody = uidOf('nobody');
    const nogroup = gidOf('nogroup');
    for (const p of ['', 'a.json', 'certs', 'certs/b.key', 'certs/c.key']) {
      await fsp.chown(path.join(item, p), nobody, nogroup);
    }
    await fsp.lchown(path.join(item, 'link'), nobody, nogroup);
    await fsp.chmod(item, 0o755);
    await fsp.chmod(path.join(item, 'certs'), 0o755);
    await fsp.chmod(path.join(item, 'a.json'), 0o644);
    await fsp.chmod(path.join(item, 'certs', 'b.key'), 0o600);
    // Two faults: a key readable by all (the exception says 600), and a file root still owns.
    await fsp.chmod(path.join(item, 'certs', 'c.key'), 0o644);
    await fsp.chown(path.join(item, 'a.json'), 0, 0);
    const o = {
      user: 'nobody',
      group: 'nogroup',
      dirMode: 0o755,
      fileMode: 0o644,
      exceptions: [{ glob: 'Configuration/**/*.key', fileMode: 0o600 }],
    };
    const events: number[] = [];
    const r = await checkOwnership([{ id: 'Configuration', path: item }], o, (p) => events.push(p.files));
    expect(r.checked).toBe(6);
    expect(r.mismatches).toEqual([
      { path: path.join(item, 'a.json'), problem: 'owned by root:root, policy says nobody:nogroup' },
      { path: path.join(item, 'certs', 'c.key'), problem: 'mode 644, policy says 600' },
    ]);
    expect(events.at(-1)).toBe(6);
    await fsp.rm(root, { recursive: true, force: true });
  });

  it.skipIf(!isRoot)('splits the lstats between two walkers and still finds every mismatch exactly once', async () => {
    const root = await tempDir('owners-split');
    const item = path.join(root, 'Storage');
    const bad: string[] = [];
    for (let d = 0; d < 7; d++) {
      await fsp.mkdir(path.join(item, `d${d}`, 'deep'), { recursive: true });
      for (let i = 0; i < 150; i++) {
        const f = path.join(item, `d${d}`, i % 2 ? 'deep' : '', `f${i}`);
        await fsp.writeFile(f, '');
        await fsp.chmod(f, 0o644);
        if ((d * 150 + i) % 97 === 0) {
          await fsp.chmod(f, 0o666);
          bad.push(f);
        }
      }
    }
    const o = { user: 'root', group: 'root', dirMode: 0o755, fileMode: 0o644, exceptions: [] };
    for (const d of [
      '',
      ...Array.from({ length: 7 }, (_, d) => `d${d}`),
      ...Array.from({ length: 7 }, (_, d) => `d${d}/deep`),
    ]) {
      await fsp.chmod(path.join(item, d), 0o755);
    }
    const targets = [{ id: 'Storage', path: item }];
    const entries = 1 + 7 * 2 + 7 * 150;
    const one = checkOwnershipJob(targets, o, () => undefined, 0, 1);
    const a = checkOwnershipJob(targets, o, () => undefined, 0, 2);
    const b = checkOwnershipJob(targets, o, () => undefined, 1, 2);
    expect(one.checked).toBe(entries);
    // Each entry judged by exactly one of the two parts, and both parts do real work.
    expect(a.checked + b.checked).toBe(entries);
    expect(Math.min(a.checked, b.checked)).toBeGreaterThan(entries / 3);
    const paths = (r: { mismatches: { path: string }[] }) => r.mismatches.map((m) => m.path).sort();
    expect(paths(one)).toEqual([...bad].sort());
    expect([...paths(a), ...paths(b)].sort()).toEqual([...bad].sort());
    // The worker-thread version gives the same answer.
    const r = await checkOwnership(targets, o, () => undefined);
    expect(r.checked).toBe(entries);
    expect(r.mismatches.map((m) => m.path)).toEqual([...bad].sort());
    await fsp.rm(root, { recursive: true, force: true });
  });
});
