import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * RESTORE.txt is the way back when the tool is not at hand: a technician pastes its commands into a root shell.
 * They must do what they say for every folder a profile (or --folder) can name. Folder paths were pasted
 * unquoted into `mkdir -p` and `tar -C` (a space split them: `tar -C /srv/Site A/restore-tmp` unpacked into
 * /srv/Site and took "A/restore-tmp" for a member) and in double quotes into `mv`, `chown` and `find` (a `$` or
 * a backquote in a folder name was expanded by the shell: another path, or a command run as root).
 * Here the commands of steps 5–7 of a real backup's RESTORE.txt are run with bash, as pasted.
 */
let work: string;
let base: string;
const ITEMS = ['Configuration', 'Storage'];

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-restore-txt-'));
  // A site folder with a space, a `$`, a backquote and a quote in its name (all legal in a Linux folder name).
  base = path.join(work, 'Site A', "Product $HOME `id` it's");
  for (const id of ITEMS) {
    await fsp.mkdir(path.join(base, id, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(base, id, 'sub', `${id}.json`), `{"original":"${id}"}`);
  }
  const profile = {
    schemaVersion: 1,
    id: 'hand',
    productName: 'Hand-run product',
    platform: 'linux',
    service: { manager: 'none', name: 'hand' },
    items: ITEMS.map((id) => ({ id, path: path.join(base, id), required: true })),
    ownership: { user: 'root', group: 'root', dirMode: '755', fileMode: '644', exceptions: [] },
    version: { policy: 'any' },
  };
  await fsp.writeFile(path.join(work, 'hand.json'), JSON.stringify(profile));
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** The command lines of RESTORE.txt from step `from` up to (not including) step `to`. */
function commands(text: string, from: number, to: number): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${from}. `));
  const end = lines.findIndex((l) => l.startsWith(`${to}. `));
  return lines.slice(start + 1, end).filter((l) => /^ {5}\S/.test(l));
}

describe("RESTORE.txt's commands, pasted into bash", () => {
  it('restore folders whose path holds a space, $, a backquote and a quote, and write nowhere else', async () => {
    const stick = path.join(work, 'stick');
    await fsp.mkdir(stick);
    const r = await runCli(
      [
        'backup',
        '--profile',
        path.join(work, 'hand.json'),
        '--allow-profile-commands',
        '--to',
        stick,
        '--device-id',
        'box',
        '--yes',
      ],
      { env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_STATE_DIR: path.join(work, 'state') } },
    );
    expect(r.code, r.stderr).toBe(0);
    const device = path.join(stick, 'EdgeRecovery', 'box');
    const set = path.join(device, (await fsp.readdir(device)).find((n) => n.startsWith('Backup_'))!);
    const text = await fsp.readFile(path.join(set, 'RESTORE.txt'), 'utf8');

    // The machine after the disaster: the product's folders hold fresh defaults.
    for (const id of ITEMS) {
      await fsp.rm(path.join(base, id), { recursive: true });
      await fsp.mkdir(path.join(base, id));
      await fsp.writeFile(path.join(base, id, 'default.json'), '{}');
    }
    // Both folders share their parent: one folder made and one pass over the archive for both (before: a
    // `mkdir -p` and a whole `tar -xzpf` per folder, each reading the whole archive).
    const unpack = commands(text, 5, 6);
    expect(unpack).toHaveLength(2);
    expect(unpack[0]).toMatch(/^ {5}mkdir -p /);
    expect(unpack[1]).toMatch(/^ {5}tar -xzpf data\.tar\.gz -C .+ Configuration Storage$/);
    const script = [...unpack, ...commands(text, 6, 7), ...commands(text, 7, 8)];
    expect(script.length).toBeGreaterThan(6);
    execFileSync('bash', ['-e', '-c', script.join('\n')], { cwd: set, stdio: 'pipe' });

    for (const id of ITEMS) {
      expect(await fsp.readFile(path.join(base, id, 'sub', `${id}.json`), 'utf8')).toBe(`{"original":"${id}"}`);
      expect(await fsp.readFile(path.join(base, `${id}.before-restore`, 'default.json'), 'utf8')).toBe('{}');
    }
    // Nothing beside the site folder, nothing in the set folder (the shell's working directory).
    expect((await fsp.readdir(work)).sort()).toEqual(['Site A', 'hand.json', 'stick', 'state'].sort());
    expect((await fsp.readdir(set)).sort()).toEqual(['RESTORE.txt', 'SHA256SUMS', 'data.tar.gz', 'manifest.json']);
  });
});
