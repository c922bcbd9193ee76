import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/** What the command line says to a technician who mistyped something: what is wrong, what to do, the exit code. */
describe('command-line words on bad input', () => {
  let work: string;
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-cli-words-'));
  });
  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('list of a path that does not exist says so and fails, instead of "No backups under" with exit 0', async () => {
    const missing = path.join(work, 'media', 'STICK');
    const r = await runCli(['list', missing]);
    expect(r.stdout).not.toContain('No backups under');
    expect(r.stderr).toContain(`There is no folder ${missing}`);
    expect(r.stderr).toMatch(/What to do: Check the stick is plugged in and mounted/);
    expect(r.code).toBe(1);
    // An empty folder that exists still just has no backups.
    const empty = path.join(work, 'empty');
    await fsp.mkdir(empty);
    const e = await runCli(['list', empty]);
    expect(e.stdout).toContain(`No backups under ${empty}.`);
    expect(e.code).toBe(0);
  });
});
