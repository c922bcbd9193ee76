import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { closeSync, constants as fsc, openSync, promises as fsp, writeSync } from 'node:fs';
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

describe('a FIFO on the target stick where mirror looks for its earlier copy', () => {
  it('is not waited on: the copy is made again beside it and checked', async () => {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'special-mirror-'));
    const from = path.join(base, 'own');
    const files = path.join(base, 'mirror-stick', 'EdgeRecovery', 'files');
    await fsp.mkdir(from, { recursive: true });
    await fsp.mkdir(files, { recursive: true });
    await fsp.writeFile(path.join(from, 'a.tar.gz.enc'), 'product backup\n');
    await fsp.copyFile(path.join(from, 'a.tar.gz.enc'), path.join(files, 'a.tar.gz.enc'));
    const sums = path.join(files, 'a.tar.gz.enc.sha256');
    execFileSync('mkfifo', [sums]);
    try {
      const state = path.join(base, 'state');
      await fsp.mkdir(state, { mode: 0o700 });
      const r = await runCli(
        ['mirror', '--from', from, '--to', path.join(base, 'mirror-stick'), '--glob', '*.enc', '--state-dir', state],
        {},
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/copied and read back: .*a\.tar\.gz\.enc/);
      expect((await fsp.lstat(sums)).isFile()).toBe(true);
      expect(execFileSync('sha256sum', ['-c', 'a.tar.gz.enc.sha256'], { cwd: files, encoding: 'utf8' })).toMatch(
        /: OK/,
      );
    } finally {
      // Had the mirror waited on the FIFO (the defect), a writer end lets it go before the folder goes.
      try {
        const fd = openSync(sums, fsc.O_RDWR | fsc.O_NONBLOCK);
        writeSync(fd, 'x\n');
        closeSync(fd);
      } catch {
        // a regular file by now
      }
      await fsp.rm(base, { recursive: true, force: true });
    }
  }, 60_000);
});
