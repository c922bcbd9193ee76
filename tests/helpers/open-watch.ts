import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';

/**
 * Says whether anyone opened a file (a device node copy, in the tests that prove a device is never opened): the
 * kernel's inotify reports every open (IN_OPEN) of the watched inodes, in order. An O_PATH descriptor, which names
 * an inode without opening it, is not reported. A `sentinel` file, watched too and read by `settle`, ends the
 * events of everything done before it.
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

export interface OpenWatch {
  /** Whether `p` was opened so far (events may still be on their way: see settle). */
  saw(p: string): boolean;
  /** Waits until every open before this call has been reported. */
  settle(): Promise<void>;
  stop(): void;
}

export async function watchOpens(paths: string[], sentinel: string): Promise<OpenWatch> {
  await fsp.writeFile(sentinel, '');
  const w: ChildProcess = spawn('python3', ['-c', WATCH, ...paths, sentinel], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let waiters: Array<() => void> = [];
  let ended = false;
  w.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const f of waiters) f();
  });
  w.on('exit', () => {
    ended = true;
    for (const f of waiters) f();
  });
  const until = (s: string, from: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.indexOf(s, from) === -1 && !ended) return;
        waiters = waiters.filter((f) => f !== check);
        if (out.indexOf(s, from) !== -1) resolve();
        else reject(new Error(`the inotify watcher ended: ${out}`));
      };
      waiters.push(check);
      check();
    });
  await until('ready\n', 0);
  return {
    saw: (p) => out.includes(`open ${p}\n`),
    settle: async () => {
      const from = out.length;
      await fsp.readFile(sentinel);
      await until(`open ${sentinel}\n`, from);
    },
    stop: () => {
      w.kill('SIGKILL');
    },
  };
}
