import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * A set folder or stick path that is a FIFO or a device: bad input (exit 2) named for what it is, never a wait on
 * the pipe, never "ENOTDIR", and nothing made anywhere.
 */
let dir: string;
let fifo: string;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'special-paths-'));
  fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  await fsp.mkdir(path.join(dir, 'state'), { mode: 0o700 });
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('a FIFO or a device given as a backup folder or stick', () => {
  it('is refused with exit 2 and what it is, by every command that takes one, changing nothing', async () => {
    const out = (n: string): string => path.join(dir, n);
    const state = ['--state-dir', out('state')];
    const cases: Array<{ args: string[]; says: RegExp }> = [
      { args: ['verify', fifo], says: /fifo is not a backup folder: it is a FIFO \(named pipe\)/ },
      { args: ['verify', '/dev/zero'], says: /\/dev\/zero is not a backup folder: it is a character device/ },
      { args: ['list', fifo], says: /fifo is not a stick or a folder of backups: it is a FIFO/ },
      { args: ['list', '/dev/zero'], says: /\/dev\/zero is not a stick or a folder of backups: it is a character/ },
      {
        args: ['restore', fifo, '--profile', 'eds-linux', '--yes', ...state],
        says: /fifo is not a backup folder: it is a FIFO/,
      },
      { args: ['adopt', fifo, '--to', out('adopted')], says: /fifo is not a hand-made archive: it is a FIFO/ },
      { args: ['adopt', '/dev/zero', '--to', out('adopted')], says: /is not a hand-made archive: it is a character/ },
      {
        args: ['mirror', '--from', fifo, '--to', out('mirror')],
        says: /fifo is not a folder of backups: it is a FIFO/,
      },
      {
        args: ['mirror', '--from', dir, '--to', '/dev/zero', ...state],
        says: /\/dev\/zero is not a stick or folder to copy backups to: it is a character device/,
      },
      {
        args: ['backup', '--profile', 'eds-linux', '--root', out('root'), '--to', fifo, '--yes', ...state],
        says: /fifo is not a stick or folder to write the backup to: it is a FIFO/,
      },
    ];
    const results = await Promise.all(cases.map((c) => runCli(c.args)));
    results.forEach((r, i) => {
      const what = cases[i]!.args.join(' ');
      expect(r.stderr, what).toMatch(cases[i]!.says);
      expect(r.stderr, what).toMatch(/Nothing was read or changed/);
      expect(r.stderr, what).not.toMatch(/ENOTDIR|EEXIST/);
      expect(r.code, what).toBe(2);
    });
    // Nothing was made: no set folder, no mirror folder, no journal.
    expect((await fsp.readdir(dir)).sort()).toEqual(['fifo', 'state']);
    expect(await fsp.readdir(path.join(dir, 'state'))).toEqual([]);
  });
});
