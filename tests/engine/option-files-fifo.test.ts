import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, openSync, promises as fsp, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGivenFile } from '../../src-main/engine/util/given-path.js';
import { runCli } from '../helpers/cli.js';

/**
 * A FIFO given where the CLI reads a file (passphrase, credentials, profile; a scheduled run's passphrase file):
 * opened O_NONBLOCK, judged by fstat, refused with exit 2 saying what it is, instead of waiting forever on open.
 */
let dir: string;
let fifo: string;
let fifoJson: string;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'option-fifo-'));
  fifo = path.join(dir, 'fifo');
  fifoJson = path.join(dir, 'profile.json');
  execFileSync('mkfifo', [fifo, fifoJson]);
  await fsp.mkdir(path.join(dir, 'state'), { mode: 0o700 });
  for (const f of ['Configuration', 'Storage']) {
    await fsp.mkdir(path.join(dir, 'root/usr/share/OSIsoft/EdgeDataStore', f), { recursive: true });
  }
});

afterAll(async () => {
  // Had a reader been left waiting on a FIFO (the defect), a writer end lets it go before the folder goes.
  for (const f of [fifo, fifoJson]) {
    try {
      const fd = openSync(f, fsc.O_RDWR | fsc.O_NONBLOCK);
      writeSync(fd, '{}\n');
      closeSync(fd);
    } catch {
      // gone already
    }
  }
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('file options that name a FIFO', () => {
  it('are refused with exit 2 and the reason, never waited on, changing nothing', async () => {
    const state = ['--state-dir', path.join(dir, 'state')];
    const stick = path.join(dir, 'stick');
    const cases: Array<{ args: string[]; says: RegExp }> = [
      {
        args: ['backup', '--profile', 'eds-linux', '--root', path.join(dir, 'root'), '--to', stick, '--encrypt'],
        says: /The passphrase file \S+fifo is not a regular file: it is a FIFO \(named pipe\)/,
      },
      {
        args: ['credentials', '--credentials-file', fifo],
        says: /The credentials file \S+fifo is not a regular file: it is a FIFO \(named pipe\)/,
      },
      {
        args: ['backup', '--profile', fifoJson, '--to', stick],
        says: /The profile file \S+profile\.json is not a regular file: it is a FIFO \(named pipe\)/,
      },
      {
        args: ['schedule', 'install', '--profile', 'eds-linux', '--to', stick, '--every', 'daily', '--encrypt'],
        says: /The passphrase file \S+fifo is not a regular file: it is a FIFO \(named pipe\)/,
      },
    ];
    const results = await Promise.all(
      cases.map((c) =>
        runCli([
          ...c.args,
          ...(c.args.includes('--encrypt') ? ['--passphrase-file', fifo] : []),
          ...(c.args[0] === 'schedule' ? ['--dry-run'] : c.args[0] === 'credentials' ? state : ['--yes', ...state]),
        ]),
      ),
    );
    results.forEach((r, i) => {
      const what = cases[i]!.args.join(' ');
      expect(r.stderr, what).toMatch(cases[i]!.says);
      expect(r.code, what).toBe(2);
    });
    // No stick folder, no ticket note, no journal.
    expect((await fsp.readdir(dir)).sort()).toEqual(['fifo', 'profile.json', 'root', 'state']);
    expect(await fsp.readdir(path.join(dir, 'state'))).toEqual([]);
  }, 60_000);

  it('reads at most the cap of a regular file, and names a device for what it is', async () => {
    const big = path.join(dir, 'big');
    await fsp.writeFile(big, 'x'.repeat(70_000));
    await expect(readGivenFile(big, { what: 'the passphrase file', max: 64 * 1024 })).rejects.toThrow(
      /The passphrase file \S+big is 70000 bytes; at most 65536 are read/,
    );
    await expect(readGivenFile('/dev/zero', { what: 'the profile file', max: 1024 })).rejects.toThrow(
      /is not a regular file: it is a character device/,
    );
    expect((await readGivenFile(big, { what: 'a file', max: 70_000 })).length).toBe(70_000);
    await fsp.rm(big);
  });
});
