import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lsblk');

export interface FakeLsblk {
  /** The JSON the fake prints. */
  output: string;
  /** Argument lines of every call so far (one line per call). */
  calls: () => Promise<string[]>;
  restore: () => Promise<void>;
}

/**
 * Puts a fake `lsblk` first on PATH that prints `tests/fixtures/lsblk/<fixture>.json`, with each
 * `@NAME@` placeholder replaced by `vars.NAME` (JSON-escaped). drivelist drops loop devices, so
 * this is how a loop-mounted "stick" shows up in its list.
 */
export async function installFakeLsblk(fixture: string, vars: Record<string, string> = {}): Promise<FakeLsblk> {
  let text = await fsp.readFile(path.join(FIXTURES, `${fixture}.json`), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.split(`@${k}@`).join(JSON.stringify(v).slice(1, -1));
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`fixture ${fixture} still has placeholder ${left[0]}`);
  JSON.parse(text);

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-fake-lsblk-'));
  const out = path.join(dir, 'lsblk.json');
  const log = path.join(dir, 'calls.log');
  await fsp.writeFile(out, text);
  await fsp.writeFile(log, '');
  const script = `#!/bin/sh\necho "$*" >> '${log}'\nexec cat '${out}'\n`;
  await fsp.writeFile(path.join(dir, 'lsblk'), script, { mode: 0o755 });

  const oldPath = process.env.PATH;
  process.env.PATH = `${dir}${path.delimiter}${oldPath ?? ''}`;
  return {
    output: text,
    calls: async () => (await fsp.readFile(log, 'utf8')).split('\n').filter((l) => l !== ''),
    restore: async () => {
      process.env.PATH = oldPath;
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
