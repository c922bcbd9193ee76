import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const RECORDER = fileURLToPath(new URL('../helpers/record-imports.mjs', import.meta.url));
const HEAVY = ['zod', 'ws', 'age-encryption', 'drivelist', 'node-disk-info', 'react', 'tar'];

/** The packages (node_modules/<name>) a CLI invocation resolved. */
async function packagesLoaded(args: string[]): Promise<{ code: number; stdout: string; packages: Set<string> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cli-startup-'));
  const file = path.join(dir, 'imports.txt');
  try {
    const r = await runCli(args, { env: { RECORD_IMPORTS: file }, nodeArgs: ['--import', RECORDER] });
    const urls = (await fsp.readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const packages = new Set(
      urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((p): p is string => !!p),
    );
    return { code: r.code, stdout: r.stdout, packages };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Start-up cost (issue 9): a command loads what it needs when it runs, so --help and profiles stay light. */
describe('CLI start-up loads only what the command needs', () => {
  it('--help and profiles load commander and none of the heavy packages; backup --help neither', async () => {
    for (const args of [['--help'], ['profiles'], ['backup', '--help']]) {
      const r = await packagesLoaded(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.packages.has('commander'), `${args.join(' ')}: the recorder saw the program load`).toBe(true);
      expect(
        [...r.packages].filter((p) => HEAVY.includes(p)),
        args.join(' '),
      ).toEqual([]);
    }
  });

  it('profiles --json parses the profiles (loads the schema library), and lists the same ids as the table', async () => {
    const table = await packagesLoaded(['profiles']);
    const json = await packagesLoaded(['profiles', '--json']);
    expect(json.packages.has('zod')).toBe(true);
    const ids = (JSON.parse(json.stdout) as { id: string }[]).map((p) => p.id);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(table.stdout).toMatch(new RegExp(`^${id}\\s`, 'm'));
  });
});
