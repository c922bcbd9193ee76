import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGivenFile } from '../../src-main/engine/util/given-path.js';
import { readStickText } from '../../src-main/engine/util/stick-file.js';
import { isRoot, tempDir } from '../helpers/datasets.js';

/**
 * A device node is not to be opened at all, not even O_NONBLOCK to fstat it: opening some devices acts (a watchdog
 * starts on open and reboots the machine unless fed; a tape rewinds). A stick formatted ext4 can carry device
 * nodes (and a stick mounted by hand has no nodev), and a profile names its version file. Here the node is a copy
 * of /dev/null, and the kernel's inotify says whether anyone opened it.
 */
const WATCH = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
names = {}
for p in sys.argv[1:]:
    names[libc.inotify_add_watch(fd, p.encode(), 0x20)] = p  # IN_OPEN
print('ready', flush=True)
while True:
    buf = os.read(fd, 4096)
    i = 0
    while i < len(buf):
        wd, mask, cookie, ln = struct.unpack_from('iIII', buf, i)
        print('open ' + names[wd], flush=True)
        i += 16 + ln
`;

let work: string;
beforeAll(async () => {
  work = await tempDir('device-node-open');
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** Runs `act` and says whether `node` was opened meanwhile (inotify's events come in order: a sentinel ends them). */
async function opened(node: string, act: () => Promise<unknown>): Promise<{ opened: boolean; result: unknown }> {
  const sentinel = path.join(work, `sentinel-${path.basename(node)}`);
  await fsp.writeFile(sentinel, '');
  const w: ChildProcess = spawn('python3', ['-c', WATCH, node, sentinel], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const until = (s: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(s)) resolve();
      };
      w.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      w.on('exit', () => reject(new Error(`the watcher ended: ${out}`)));
      check();
    });
  try {
    await until('ready\n');
    const result = await act().catch((e: unknown) => e);
    await fsp.readFile(sentinel);
    await until(`open ${sentinel}\n`);
    return { opened: out.includes(`open ${node}\n`), result };
  } finally {
    w.kill('SIGKILL');
  }
}

describe.skipIf(!isRoot)('device nodes are judged without being opened', () => {
  it('manifest.json on a stick that is a device node is damaged, and the device is never opened', async () => {
    const set = path.join(work, 'set');
    await fsp.mkdir(set);
    const node = path.join(set, 'manifest.json');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const r = await opened(node, () => readStickText(node));
    expect(r.result).toMatchObject({ code: 'BACKUP_CORRUPT' });
    expect(r.opened).toBe(false);
  });

  it("a profile's version file that is a device node is refused, and the device is never opened", async () => {
    const node = path.join(work, 'VERSION');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const r = await opened(node, () => readGivenFile(node, { what: 'the version file', max: 1024 }));
    expect(r.result).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/is not a regular file: it is a character device/),
    });
    expect(r.opened).toBe(false);
  });

  it('the watcher sees an open (the test can fail)', async () => {
    const node = path.join(work, 'null');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const r = await opened(node, async () => (await fsp.open(node, 'r')).close());
    expect(r.opened).toBe(true);
  });
});
