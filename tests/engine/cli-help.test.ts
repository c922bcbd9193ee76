import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src-main/cli/main.js';
import { runCli } from '../helpers/cli.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(REPO, 'bin/edge-recovery.js');
const RECORDER = fileURLToPath(new URL('../helpers/record-imports.mjs', import.meta.url));

/** The built CLI (bin/edge-recovery.js, as installed), without a terminal. */
function runBin(
  args: string[],
  nodeArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

/**
 * `--help`, `--version` and `profiles` are answered by the bin from dist/cli-quick.json, written at build time
 * from the program itself (start-up CPU, issue 9). They must say exactly what the program says.
 */
describe('the CLI answers --help, --version and profiles without loading the program', () => {
  it('prints exactly what the program prints, and --help lists every command the program has', async () => {
    expect(existsSync(path.join(REPO, 'dist/cli-quick.json')), 'run `npm run build` first').toBe(true);
    for (const args of [['--help'], ['-h'], ['--version'], ['profiles']]) {
      const built = await runBin(args);
      const program = await runCli(args);
      expect(built.code, args.join(' ')).toBe(0);
      expect(program.code, args.join(' ')).toBe(0);
      expect(built.stdout, args.join(' ')).toBe(program.stdout);
    }
    const help = (await runBin(['--help'])).stdout;
    const listed = help
      .slice(help.indexOf('Commands:'))
      .split('\n')
      .slice(1)
      .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
    const commands = buildProgram()
      .commands.map((c) => c.name())
      .filter((n) => n !== 'help');
    expect(commands.length).toBeGreaterThan(5);
    for (const c of commands) expect(listed, `--help lists ${c}`).toContain(c);
  });

  it('loads no package and not the program for them; other commands still go to the program', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cli-help-'));
    try {
      for (const args of [['--help'], ['profiles'], ['--version']]) {
        const file = path.join(dir, `${args[0]}.txt`);
        const r = await runBin(args, ['--import', RECORDER], { RECORD_IMPORTS: file });
        expect(r.code).toBe(0);
        const urls = (await fsp.readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
        expect(
          urls.some((u) => u.endsWith('/bin/edge-recovery.js')),
          'the recorder saw the bin',
        ).toBe(true);
        expect(
          urls.filter((u) => u.includes('/node_modules/') || u.includes('/dist/')),
          args.join(' '),
        ).toEqual([]);
      }
      const file = path.join(dir, 'json.txt');
      const json = await runBin(['profiles', '--json'], ['--import', RECORDER], { RECORD_IMPORTS: file });
      expect(json.code).toBe(0);
      expect((JSON.parse(json.stdout) as unknown[]).length).toBeGreaterThan(0);
      expect(await fsp.readFile(file, 'utf8')).toMatch(/\/dist\/cli\.js/);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
