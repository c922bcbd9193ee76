import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * A Windows profile on a Linux machine (a technician's mistake, or a profile file copied from a Windows site):
 * its folders `C:\EdgeData\Configuration` are relative names on Linux. The restore unpacked into the process's
 * working directory, as folders literally named `C:\EdgeData\Configuration`, left its work folder there, and
 * ended "done" (exit 0). Likewise `--folder Storage=C:\Data\Storage` was taken as a folder under the working
 * directory. Both must be refused before anything is written (exit 2).
 */
let work: string;
let cwd: string;

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-other-platform-'));
  cwd = path.join(work, 'cwd');
  await fsp.mkdir(cwd);
  const src = path.join(work, 'src');
  for (const d of ['Configuration', 'Storage']) await fsp.mkdir(path.join(src, d), { recursive: true });
  await fsp.writeFile(path.join(src, 'Configuration', 'app.json'), '{"from":"backup"}');
  execFileSync('tar', ['-C', src, '-czf', path.join(work, 'hand.tar.gz'), 'Configuration', 'Storage']);
  await fsp.writeFile(
    path.join(work, 'win.json'),
    JSON.stringify({
      schemaVersion: 1,
      id: 'hand-win',
      productName: 'Hand-run product',
      platform: 'windows',
      service: { manager: 'none', name: 'hand' },
      items: [
        { id: 'Configuration', path: 'C:\\EdgeData\\Configuration' },
        { id: 'Storage', path: 'C:\\EdgeData\\Storage' },
      ],
      version: { policy: 'any' },
    }),
  );
  await fsp.writeFile(path.join(work, 'hand.json'), JSON.stringify(handProfile()));
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

const env = () => ({ EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_STATE_DIR: path.join(work, 'state') });

describe('a profile or folder of another system', () => {
  it('a restore with a Windows profile on Linux is refused (exit 2) and writes nothing in its working directory', async () => {
    const r = await runCli(
      [
        'restore',
        path.join(work, 'hand.tar.gz'),
        '--profile',
        path.join(work, 'win.json'),
        '--allow-profile-commands',
        '--yes',
      ],
      { cwd, env: env() },
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/is for Windows/);
    expect(await fsp.readdir(cwd)).toEqual([]);
  });

  it('a backup with --folder C:\\… on Linux is refused (exit 2) and reads nothing under its working directory', async () => {
    await fsp.mkdir(path.join(cwd, 'C:\\Data\\Storage'));
    await fsp.writeFile(path.join(cwd, 'C:\\Data\\Storage', 'not-the-product.txt'), 'x');
    const root = path.join(work, 'root');
    for (const d of ['Configuration', 'Storage']) await fsp.mkdir(path.join(root, 'opt/hand', d), { recursive: true });
    const stick = path.join(work, 'stick');
    await fsp.mkdir(stick);
    const r = await runCli(
      [
        'backup',
        '--profile',
        path.join(work, 'hand.json'),
        '--allow-profile-commands',
        '--root',
        root,
        '--folder',
        'Storage=C:\\Data\\Storage',
        '--to',
        stick,
        '--device-id',
        'box',
        '--yes',
      ],
      { cwd, env: env() },
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/absolute path on this Linux machine/);
    expect(await fsp.readdir(stick)).toEqual([]);
  });
});
