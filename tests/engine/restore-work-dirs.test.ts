import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemPlan } from '../../src-main/engine/restore/journal.js';
import {
  holdWorkDirs,
  inWorkDir,
  releaseWorkDirs,
  removeWorkDirs,
  workDirFor,
} from '../../src-main/engine/restore/steps-swap.js';

/**
 * The restore's work folders as rollback and clean-up hold them (restore-races has the raced cases): a target whose
 * parent folder was never made (a restore stopped before it unpacked) holds nothing and makes nothing; a folder
 * another account put by a work folder's name is left alone; root's own work folder is removed.
 */
const isRoot = process.getuid?.() === 0;

function plan(target: string): ItemPlan {
  return {
    id: 'Data',
    target,
    staging: path.join(workDirFor(target, 'r1'), 'Data'),
    setAside: `${target}.before-restore-x`,
    hadOriginal: null,
  };
}

describe('the work folders of a rollback or clean-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'work-dirs-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("holds nothing and makes nothing where the target's parent folder does not exist", async () => {
    const i = plan(path.join(dir, 'missing', 'opt', 'Data'));
    const held = await holdWorkDirs([i]);
    try {
      expect(inWorkDir(held, i.staging)).toBe(i.staging);
      removeWorkDirs([i], held);
    } finally {
      releaseWorkDirs(held);
    }
    expect(existsSync(path.join(dir, 'missing'))).toBe(false);
  });

  it('makes, holds and removes its own work folder, through the descriptor', async () => {
    await fsp.mkdir(path.join(dir, 'own'));
    const i = plan(path.join(dir, 'own', 'Data'));
    const held = await holdWorkDirs([i]);
    try {
      expect((await fsp.stat(path.dirname(i.staging))).mode & 0o777).toBe(0o700);
      await fsp.mkdir(inWorkDir(held, i.staging));
      await fsp.writeFile(path.join(i.staging, 'f'), 'x');
      removeWorkDirs([i], held);
    } finally {
      releaseWorkDirs(held);
    }
    expect(existsSync(path.dirname(i.staging))).toBe(false);
  });

  it.skipIf(!isRoot)("leaves alone a folder another account put by the work folder's name", async () => {
    await fsp.mkdir(path.join(dir, 'theirs'));
    const i = plan(path.join(dir, 'theirs', 'Data'));
    const work = path.dirname(i.staging);
    await fsp.mkdir(work, { mode: 0o755 });
    await fsp.writeFile(path.join(work, 'theirs'), 'x');
    execFileSync('chown', ['-R', '65534:65534', work]);
    removeWorkDirs([i]);
    expect(await fsp.readdir(work)).toEqual(['theirs']);
  });
});
