import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * A stick is a filesystem someone else wrote: manifest.json or SHA256SUMS may be a FIFO (opening it for reading
 * waits for a writer that never comes: `list`, `verify` and the wizard's list of backups hung for ever, holding a
 * thread of the pool each), a link to /dev/zero (read until Node gives up at 2 GiB) or to any file of this machine.
 * Each is refused as a damaged backup at once.
 */
const SET = 'Backup_eds-linux_20261130_0700Z';
/** Ends a hung command: exit 124 is the hang. */
const IN_TIME = ['timeout', '-s', 'KILL', '30'];

describe('special files planted on a stick', () => {
  let work: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'stick-special-'));
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  async function stickWith(
    name: string,
    plant: (file: string) => Promise<void>,
  ): Promise<{ stick: string; set: string }> {
    const stick = path.join(work, name);
    const set = path.join(stick, 'EdgeRecovery', 'box-1', SET);
    await fsp.mkdir(set, { recursive: true });
    await fsp.writeFile(path.join(set, 'data.tar.gz'), 'x');
    await fsp.writeFile(path.join(set, 'SHA256SUMS'), `${'0'.repeat(64)}  data.tar.gz\n`);
    await plant(path.join(set, 'manifest.json'));
    return { stick, set };
  }

  for (const [kind, plant] of [
    ['a FIFO', async (f: string) => void execFileSync('mkfifo', [f])],
    ['a link to /dev/zero', (f: string) => fsp.symlink('/dev/zero', f)],
  ] as const) {
    it(`list and verify answer at once (damaged, exit 3) when manifest.json is ${kind}`, async () => {
      const { stick, set } = await stickWith(kind.replace(/\W+/g, '-'), plant);
      const list = await runCli(['list', stick], { prefix: IN_TIME });
      expect(list.code, `list hung or failed\n${list.stderr}`).toBe(0);
      expect(list.stdout + list.stderr).toContain(SET);
      const verify = await runCli(['verify', set], { prefix: IN_TIME });
      expect(verify.code, `verify hung\n${verify.stderr}`).toBe(3);
      expect(verify.stderr).toMatch(/manifest\.json/);
    });
  }
});
