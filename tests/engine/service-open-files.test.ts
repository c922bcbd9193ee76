import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findOpenFiles } from '../../src-main/engine/service/open-files.js';

describe.skipIf(process.platform !== 'linux')('findOpenFiles', () => {
  let dir: string;
  const children: number[] = [];

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'open-files-'));
    await fsp.mkdir(path.join(dir, 'data', 'sub'), { recursive: true });
  });

  afterEach(async () => {
    for (const pid of children.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function holder(file: string): Promise<number> {
    const code = `const fs=require('fs');fs.openSync(${JSON.stringify(file)},'a');console.log('open');setInterval(()=>{},1000)`;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child.pid!);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    return child.pid!;
  }

  it('names the process holding a file open inside the folder', async () => {
    const file = path.join(dir, 'data', 'sub', 'stream.dat');
    const pid = await holder(file);
    const found = await findOpenFiles([path.join(dir, 'data')]);
    expect(found).toContainEqual({
      pid,
      command: expect.stringContaining('openSync') as string,
      file: await fsp.realpath(file),
    });
  });

  it('finds it through a symlinked folder, and not in a sibling folder', async () => {
    const pid = await holder(path.join(dir, 'data', 'held.dat'));
    await fsp.symlink(path.join(dir, 'data'), path.join(dir, 'link'));
    await fsp.mkdir(path.join(dir, 'data-other'));
    expect((await findOpenFiles([path.join(dir, 'link')])).map((f) => f.pid)).toContain(pid);
    // "data-other" shares the prefix "data" but is another folder.
    expect((await findOpenFiles([path.join(dir, 'data-other')])).map((f) => f.pid)).not.toContain(pid);
  });

  it('finds nothing once the process has exited', async () => {
    const pid = await holder(path.join(dir, 'data', 'x.dat'));
    process.kill(pid, 'SIGKILL');
    await expect.poll(async () => (await findOpenFiles([path.join(dir, 'data')])).length, { timeout: 5000 }).toBe(0);
  });
});
