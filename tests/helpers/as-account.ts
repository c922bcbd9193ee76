import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { createLoopMount, type LoopMount } from './loop-device.js';

/**
 * The race tests' other account: a real unprivileged user (ensureTestOwner) doing what it may, through setpriv with
 * its uid and group and no supplementary groups.
 */

/** setpriv's arguments that run `cmd` as `user` (for spawn('setpriv', …) when the test races it). */
export function asAccountArgs(user: string, ...cmd: string[]): string[] {
  return [`--reuid=${uidForUser(user)!}`, `--regid=${gidForGroup(user)!}`, '--clear-groups', ...cmd];
}

/** Runs `cmd` as `user` and waits for it (throws if it fails). */
export function runAs(user: string, ...cmd: string[]): void {
  execFileSync('setpriv', asAccountArgs(user, ...cmd));
}

/** Runs the shell `script` as `user`, with `args` as $1 … */
export function shAs(user: string, script: string, ...args: string[]): void {
  runAs(user, 'sh', '-c', script, 'sh', ...args);
}

/** Gives `dirs` to `user` (its uid and group). */
export async function giveTo(user: string, ...dirs: string[]): Promise<void> {
  for (const d of dirs) await fsp.chown(d, uidForUser(user)!, gidForGroup(user)!);
}

/**
 * A loop-mounted ext4 stick of `mb` MiB that is `user`'s own (as its own stick is, or a FAT stick the desktop mounts
 * for the desktop user): its top folder, `EdgeRecovery` and the device folders `devices` in it are that account's.
 */
export async function accountStick(user: string, mb: number, devices: string[] = []): Promise<LoopMount> {
  const stick = await createLoopMount(mb);
  await fsp.chmod(path.dirname(stick.mountpoint), 0o755);
  const edge = path.join(stick.mountpoint, 'EdgeRecovery');
  await fsp.mkdir(edge, { mode: 0o755 });
  await giveTo(user, stick.mountpoint, edge);
  for (const d of devices) {
    await fsp.mkdir(path.join(edge, d), { mode: 0o755 });
    await giveTo(user, path.join(edge, d));
  }
  return stick;
}

/**
 * Root's watcher (swapOnFirstOpen): argv = device folder, the account's folder, the file's name, then setpriv's
 * arguments for the account.
 */
const SWAP_ON_OPEN = `
import ctypes, os, select, struct, subprocess, sys
device, evil, part, account = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
edge = os.path.dirname(device)
libc = ctypes.CDLL(None, use_errno=True)
libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
IN_MOVED_TO, IN_CREATE, IN_ISDIR, FAN_OPEN_PERM = 0x80, 0x100, 0x40000000, 0x10000
ino = libc.inotify_init()
fan = libc.fanotify_init(0x04, os.O_RDONLY)
if fan < 0:
    sys.exit('fanotify: errno %d' % ctypes.get_errno())
def permit(p):
    if libc.fanotify_mark(fan, 0x1, FAN_OPEN_PERM, -100, p.encode()) != 0:
        sys.exit('fanotify_mark: errno %d' % ctypes.get_errno())
    return os.stat(p).st_ino
watched = {libc.inotify_add_watch(ino, device.encode(), IN_CREATE): None}
which = {}
swapped = False
print('ready', flush=True)
while True:
    ready, _, _ = select.select([ino, fan], [], [])
    if ino in ready:
        buf = os.read(ino, 65536)
        i = 0
        while i < len(buf):
            wd, mask, cookie, ln = struct.unpack_from('iIII', buf, i)
            name = buf[i + 16:i + 16 + ln].rstrip(b'\\0').decode()
            i += 16 + ln
            if watched.get(wd) is None and mask & IN_CREATE and mask & IN_ISDIR and name.startswith('Backup_'):
                setname = name
                watched[libc.inotify_add_watch(ino, os.path.join(device, name).encode(), IN_MOVED_TO)] = name
            elif watched.get(wd) is not None and mask & IN_MOVED_TO and name == part:
                which[permit(os.path.join(device, setname, name))] = 'set'
    if fan in ready:
        buf = os.read(fan, 4096)
        i = 0
        while i < len(buf):
            ln, vers, _, mlen, mask, efd, pid = struct.unpack_from('IBBHQii', buf, i)
            i += ln
            where = which.get(os.fstat(efd).st_ino, '?')
            print('open ' + where + ' ' + part, flush=True)
            if where == 'set' and not swapped:
                swapped = True
                size = os.fstat(efd).st_size
                copy = os.path.join(evil, os.path.basename(device), setname)
                subprocess.run(['setpriv', *account, 'sh', '-c', 'mkdir -p "$1" && truncate -s "$2" "$1/$3"', 'sh', copy, str(size), part], check=True)
                which[permit(os.path.join(copy, part))] = 'evil'
                subprocess.run(['setpriv', *account, 'sh', '-c', 'mv "$1" "$1.aside" && ln -s "$2" "$1"', 'sh', edge, evil], check=True)
                print('swapped', flush=True)
            os.write(fan, struct.pack('iI', efd, 1))
            os.close(efd)
`;

/**
 * The swap at the first open of `file` in the set folder the job makes in `device` (a folder `user` may write, as on
 * its stick): root's watcher (the timing only: the set folder is root's alone) finds the set folder and `file` renamed
 * into it (inotify); every open of `file` from then on waits for the watcher (fanotify's FAN_OPEN_PERM) and is
 * reported in order ("open set <file>"). At the first one, `user` puts a file of that size named like it in a folder
 * of its own under `evil` named like the set, moves the folder above `device` aside and links `evil` by its name;
 * only then is the open let through ("swapped"), so no timing of this machine decides whether the swap comes in
 * time. Opens of the account's file are reported as "open evil <file>". `stop` ends the watcher and returns the lines.
 */
export async function swapOnFirstOpen(
  user: string,
  device: string,
  evil: string,
  file: string,
): Promise<{ stop(): Promise<string[]> }> {
  return startWatcher([SWAP_ON_OPEN, device, evil, file, ...asAccountArgs(user)]);
}

/**
 * Starts one of root's python watchers (`python3 -c <script> <args>`) and waits for its "ready"; `stop` ends it and
 * returns the lines it printed after that.
 */
async function startWatcher(scriptAndArgs: string[]): Promise<{ stop(): Promise<string[]> }> {
  const watcher = spawn('python3', ['-c', ...scriptAndArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  let said = '';
  watcher.stdout.on('data', (d: Buffer) => (said += d.toString()));
  await new Promise<void>((resolve, reject) => {
    watcher.stdout.on('data', () => said.includes('ready\n') && resolve());
    watcher.on('exit', (code) => reject(new Error(`the watcher ended (${code}) before it was ready`)));
  });
  return {
    async stop() {
      // Every line is printed before the open it reports is let through: a moment for the pipe, then the end.
      await new Promise((r) => setTimeout(r, 300));
      watcher.kill('SIGKILL');
      return said.split('\n').filter((l) => l !== '' && l !== 'ready');
    },
  };
}

/**
 * What swapOnFirstOpen's lines must show when the job stopped (UNSAFE_PATH) after reading `file` through the set
 * folder it holds: the swap landed at the first open (else the case proves nothing), root opened its own `file` after
 * it, and never the account's.
 */
export function expectHeldReadAfterSwap(outcome: string, events: string[], file: string): void {
  const swappedAt = events.indexOf('swapped');
  expect({ outcome, events: events.slice(0, swappedAt + 1) }).toMatchObject({
    outcome: 'UNSAFE_PATH',
    events: [`open set ${file}`, 'swapped'],
  });
  expect(events.slice(swappedAt + 1)).toContain(`open set ${file}`);
  expect(events.filter((e) => e.startsWith('open evil'))).toEqual([]);
}

/**
 * What root's fanotify watchers share: `mark(path, mask)`, and `opens()`, every open held (FAN_OPEN_PERM) as its
 * event's descriptor until `allow(efd)` lets it through.
 */
const FAN_PRELUDE = `
import ctypes, os, struct, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
fan = libc.fanotify_init(0x04, os.O_RDONLY)
if fan < 0:
    sys.exit('fanotify: errno %d' % ctypes.get_errno())
def mark(path, mask):
    if libc.fanotify_mark(fan, 0x1, mask, -100, path.encode()) != 0:
        sys.exit('fanotify_mark: errno %d' % ctypes.get_errno())
def opens():
    while True:
        buf = os.read(fan, 4096)
        i = 0
        while i < len(buf):
            ln, vers, _, mlen, mask, efd, pid = struct.unpack_from('IBBHQii', buf, i)
            i += ln
            yield efd
def allow(efd):
    os.write(fan, struct.pack('iI', efd, 1))
    os.close(efd)
`;

/**
 * Root's watcher (runAsAtFirstOpen, runAsAtFirstDirOpen): argv = the file or folder, the fanotify mask, then setpriv's
 * arguments and the account's command.
 */
const RUN_AT_OPEN = `${FAN_PRELUDE}
target, mask, account = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
mark(target, mask)
done = False
print('ready', flush=True)
for efd in opens():
    print('open', flush=True)
    if not done:
        done = True
        r = subprocess.run(['setpriv', *account])
        print('swapped' if r.returncode == 0 else 'swap failed %d' % r.returncode, flush=True)
    allow(efd)
`;

/**
 * Runs the shell `script` (with `args` as $1 …) as `user` at the first open of `file` by anyone, and lets that open
 * through only once the script has ended (root's fanotify watcher: FAN_OPEN_PERM holds the open), so no timing of this
 * machine decides whether what the account does lands before it. `stop` ends the watcher and returns its lines
 * ("open", then "swapped" once the script succeeded).
 */
export async function runAsAtFirstOpen(
  user: string,
  file: string,
  script: string,
  ...args: string[]
): Promise<{ stop(): Promise<string[]> }> {
  return startWatcher([
    RUN_AT_OPEN,
    file,
    String(FAN_OPEN_PERM),
    ...asAccountArgs(user, 'sh', '-c', script, 'sh', ...args),
  ]);
}

/** FAN_OPEN_PERM, and FAN_ONDIR: a folder's own opens are reported too. */
const FAN_OPEN_PERM = 0x10000;
const FAN_ONDIR = 0x40000000;

/**
 * runAsAtFirstOpen for the folder `dir` itself: the script runs (and ends) at the first open of that folder by
 * anyone (the folder held by its inode, whatever its path names later), before the open is let through.
 */
export async function runAsAtFirstDirOpen(
  user: string,
  dir: string,
  script: string,
  ...args: string[]
): Promise<{ stop(): Promise<string[]> }> {
  return startWatcher([
    RUN_AT_OPEN,
    dir,
    String(FAN_OPEN_PERM | FAN_ONDIR),
    ...asAccountArgs(user, 'sh', '-c', script, 'sh', ...args),
  ]);
}

/** Root's watcher (runAsAtNthOpenIn): argv = the folder, the name, n, then setpriv's arguments and the command. */
const RUN_AT_NTH_OPEN_IN = `${FAN_PRELUDE}
folder, name, nth, account = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
# FAN_OPEN_PERM | FAN_EVENT_ON_CHILD: every open of a file directly in the folder (the folder's inode, not its path).
mark(folder, 0x10000 | 0x08000000)
seen = 0
print('ready', flush=True)
for efd in opens():
    opened = os.path.basename(os.readlink('/proc/self/fd/%d' % efd))
    print('open ' + opened, flush=True)
    if opened == name:
        seen += 1
        if seen == nth:
            r = subprocess.run(['setpriv', *account])
            print('swapped' if r.returncode == 0 else 'swap failed %d' % r.returncode, flush=True)
    allow(efd)
`;

/**
 * Runs the shell `script` (with `args` as $1 …) as `user` at the `nth` open of the file `name` directly in `folder`
 * (the folder held by its inode: whatever its path names later), and lets that open through only once the script has
 * ended. `stop` ends the watcher and returns its lines ("open <name>" for every open there, "swapped").
 */
export async function runAsAtNthOpenIn(
  user: string,
  folder: string,
  name: string,
  nth: number,
  script: string,
  ...args: string[]
): Promise<{ stop(): Promise<string[]> }> {
  return startWatcher([
    RUN_AT_NTH_OPEN_IN,
    folder,
    name,
    String(nth),
    ...asAccountArgs(user, 'sh', '-c', script, 'sh', ...args),
  ]);
}
