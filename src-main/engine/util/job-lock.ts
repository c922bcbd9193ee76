import { AsyncLocalStorage } from 'node:async_hooks';
import {
  closeSync,
  constants as fsc,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { CREATE_EXCL_FLAGS, tempName } from './atomic-fs.js';
import { resolveTrusted } from './linked-folder.js';
import { OWN_FILESYSTEMS_ENV, otherFilesystemProblem } from './own-filesystem.js';

/**
 * One job at a time on this machine: every job that touches the product (backup, restore, resume,
 * rollback, finish, credentials, the wizard's and `serve`'s jobs) holds two exclusive locks while it runs:
 *
 * - `<state dir>/job.lock`, which guards the journals kept in that state folder;
 * - the machine's lock, `/run/edge-recovery/machine-job.lock` (Windows `%ProgramData%\EdgeRecovery`), which is the
 *   same file whatever `--state-dir` a job was given: a restore started with `--state-dir X` and a backup in the
 *   default state folder would otherwise both stop, rename and write the same product folders at once. It is one
 *   lock for the machine, not one per product: jobs of two profiles can share folders or a service (a custom
 *   profile file beside the built-in one, `--folder` overrides, a data disk linked from both), which no key
 *   computed from a profile could see; "one job at a time" is the rule, and jobs are minutes long.
 *
 * Both are held by the kernel (Linux: an open-file-description lock; Windows: LockFileEx) through
 * `fs-native-extensions`, so a `kill -9` or a power cut releases them: there is never a stale lock to clear by
 * hand (and /run is emptied at boot). Who holds a lock (command, pid, since when) is written beside it in
 * `job-holder.json` / `machine-job-holder.json`, so a refused job can say so.
 *
 * Where the machine's lock lives can be moved for two cases only, neither of which touches a real product:
 * tests (`EDGE_RECOVERY_LOCK_DIR`: parallel test runs on one machine must not refuse each other's unrelated jobs)
 * and practice (a practice sandbox registers its state folder with `practiceLockScope`: its jobs lock inside the
 * sandbox, so a rehearsal neither waits for a real job nor holds one up, and needs no root).
 */
export const LOCK_NAME = 'job.lock';
export const HOLDER_NAME = 'job-holder.json';
export const MACHINE_LOCK_NAME = 'machine-job.lock';
export const MACHINE_HOLDER_NAME = 'machine-job-holder.json';

export interface JobHolder {
  command: string;
  pid: number;
  startedAt: string;
  hostname: string;
}

export interface JobLock {
  readonly stateDir: string;
  readonly holder: JobHolder;
  release(): void;
}

interface NativeLock {
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
  unlock(fd: number, offset?: number, length?: number): void;
}

let native: NativeLock | null = null;
function nativeLock(): NativeLock {
  // Loaded on first use (CommonJS, N-API prebuilds inside the package; kept external by the bundler).
  native ??= createRequire(import.meta.url)('fs-native-extensions') as NativeLock;
  return native;
}

/** One kind of lock: which file in which folder, its holder note, and how the folder is checked. */
interface LockKind {
  lock: string;
  note: string;
  check: (dir: string) => void;
}
const STATE_LOCK: LockKind = { lock: LOCK_NAME, note: HOLDER_NAME, check: checkStateDir };
const MACHINE_LOCK: LockKind = { lock: MACHINE_LOCK_NAME, note: MACHINE_HOLDER_NAME, check: checkLockDir };

/** Locks held by this process, by folder: a second job in the same process is refused like one from outside. */
const held = new Map<string, { fd: number; holder: JobHolder }>();
const heldMachine = new Map<string, { fd: number; holder: JobHolder }>();
/** The lock keys the current async context already holds (a rollback offered after a failed restore). */
const context = new AsyncLocalStorage<ReadonlySet<string>>();
/** Practice sandboxes' state folders (resolved) → the sandbox folder: their jobs lock and work only in there. */
const practiceScopes = new Map<string, string>();

function keyOf(stateDir: string): string {
  return path.resolve(stateDir);
}
const machineKey = (dir: string): string => `machine:${dir}`;

/**
 * Where the machine's lock of a job with state folder `stateDir` lives: inside the sandbox for a practice job,
 * `EDGE_RECOVERY_LOCK_DIR` in tests, else the fixed root-only folder (`/run/edge-recovery`; Windows
 * `%ProgramData%\EdgeRecovery`).
 */
export function machineLockDir(stateDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (stateDir !== undefined && practiceScopes.has(keyOf(stateDir))) return keyOf(stateDir);
  const override = env.EDGE_RECOVERY_LOCK_DIR;
  if (override !== undefined && override !== '') return path.resolve(override);
  if (process.platform === 'win32') return path.join(env.ProgramData ?? 'C:\\ProgramData', 'EdgeRecovery');
  return '/run/edge-recovery';
}

/**
 * Practice only (src-main/practice): jobs whose state folder is `stateDir` (a sandbox's own) take the machine's
 * lock inside that folder instead of the machine's: they may touch only the sandbox's folders and stand-ins
 * (`sandbox`, by default the folder holding `stateDir`), which the backup and the restore check before they start
 * (engine/util/practice-only.ts). In-process on purpose (no option or variable a real job could be started with).
 * Returns "forget it".
 */
export function practiceLockScope(
  stateDir: string,
  sandbox: string = path.dirname(path.resolve(stateDir)),
): () => void {
  const key = keyOf(stateDir);
  practiceScopes.set(key, path.resolve(sandbox));
  return () => {
    practiceScopes.delete(key);
  };
}

/** The practice sandbox whose jobs use `stateDir`, or undefined for a real job. */
export function practiceSandboxOf(stateDir: string): string | undefined {
  return practiceScopes.get(keyOf(stateDir));
}

export function readHolder(stateDir: string, note: string = HOLDER_NAME): JobHolder | null {
  try {
    const h = JSON.parse(readFileSync(path.join(stateDir, note), 'utf8')) as Partial<JobHolder>;
    if (typeof h.command !== 'string' || typeof h.pid !== 'number' || typeof h.startedAt !== 'string') return null;
    return { command: h.command, pid: h.pid, startedAt: h.startedAt, hostname: h.hostname ?? '' };
  } catch {
    return null;
  }
}

export function describeHolder(h: JobHolder | null): string {
  if (h === null) return 'Another edge-recovery job (it is just starting)';
  return `"edge-recovery ${h.command}" (pid ${h.pid}, running since ${h.startedAt})`;
}

function refusal(lockFile: string, wanted: string, h: JobHolder | null): RecoveryError {
  return new RecoveryError(
    'JOB_RUNNING',
    `${describeHolder(h)} is running on this machine; "${wanted}" would interfere with it, so it did not start. Nothing was changed.`,
    {
      hint:
        'Wait until that job has finished (or cancel it where it runs), then start again. ' +
        '"edge-recovery status" shows what is running. If that process no longer exists, the lock is already free: just start again.',
      details: { holder: h, lockFile },
      ui: {
        message: `Another job (${h === null ? 'just starting' : `${h.command}, running since ${h.startedAt}`}) is running on this machine, so this one did not start. Nothing was changed.`,
        hint: 'Wait until that job has finished (or cancel it where it runs), then start again.',
      },
    },
  );
}

/**
 * Takes the lock of one kind in `dir` (made 0700 if missing, after its checks) or throws: JOB_RUNNING naming the
 * holder, UNSAFE_PATH for a folder or lock file another account could have placed, PERMISSION_DENIED.
 */
function takeLock(dir: string, kind: LockKind, command: string): { fd: number; holder: JobHolder } {
  // Before anything is made there: a folder on the way that another account controls could redirect even the mkdir.
  kind.check(dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new RecoveryError(
      'PERMISSION_DENIED',
      `Cannot create the folder ${dir} for the job lock: ${(e as Error).message}`,
      {
        hint: 'Run as root (or Administrator), or choose another folder with --state-dir / EDGE_RECOVERY_STATE_DIR.',
      },
    );
  }
  kind.check(dir); // what is there now (made by us, or found): root's, a folder, not writable by others
  const file = path.join(dir, kind.lock);
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDWR | fsc.O_CREAT | (fsc.O_NOFOLLOW ?? 0), 0o600);
  } catch (e) {
    throw new RecoveryError('PERMISSION_DENIED', `Cannot open the job lock ${file}: ${(e as Error).message}`, {
      hint: 'Run as root (or Administrator), or choose another folder with --state-dir / EDGE_RECOVERY_STATE_DIR.',
    });
  }
  if (process.platform !== 'win32') {
    // The open file itself, not its name: a regular file of this account (or root's), nobody else's.
    const st = fstatSync(fd);
    const me = process.geteuid?.() ?? 0;
    if (!st.isFile() || (st.uid !== me && st.uid !== 0) || st.nlink !== 1) {
      closeSync(fd);
      throw new RecoveryError(
        'UNSAFE_PATH',
        `The job lock ${file} is not a plain file of this account (uid ${st.uid}, ${st.nlink} links). Nothing was changed.`,
        {
          hint: `Remove ${file} (only root should be able to write ${dir}) and start again.`,
          details: { lockFile: file },
        },
      );
    }
  }
  let got: boolean;
  try {
    got = nativeLock().tryLock(fd);
  } catch (e) {
    closeSync(fd);
    throw new RecoveryError('INTERNAL', `Cannot lock ${file}: ${(e as Error).message}`);
  }
  if (!got) {
    closeSync(fd);
    const h = readHolder(dir, kind.note);
    throw refusal(file, command, h !== null && isAlive(h.pid) ? h : null);
  }
  const holder: JobHolder = {
    command,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
  };
  // The note is written whole under a random name (O_EXCL|O_NOFOLLOW) and renamed over the old one: a reader
  // never sees half a note, and a link planted at the note's name is replaced, not followed.
  const tmp = path.join(dir, tempName(kind.note));
  try {
    const note = openSync(tmp, CREATE_EXCL_FLAGS, 0o600);
    try {
      writeSync(note, JSON.stringify(holder) + '\n');
    } finally {
      closeSync(note);
    }
    renameSync(tmp, path.join(dir, kind.note));
  } catch {
    // The lock is what counts; without the note a refused job says "another job" without details.
    rmSync(tmp, { force: true });
  }
  return { fd, holder };
}

function dropLock(dir: string, kind: LockKind, fd: number): void {
  if (readHolder(dir, kind.note)?.pid === process.pid) rmSync(path.join(dir, kind.note), { force: true });
  try {
    nativeLock().unlock(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes the job lock of `stateDir` and the machine's lock, or throws JOB_RUNNING (exit code 4) naming the holder
 * of whichever is taken. Synchronous, so nothing can run between "free" and "mine". Call `release()` when the job
 * ends (a crash releases them too). `holdsMachine`: the caller's job already holds the machine's lock.
 */
export function acquireJobLock(stateDir: string, opts: { command: string; holdsMachine?: boolean }): JobLock {
  const dir = keyOf(stateDir);
  const mine = held.get(dir);
  if (mine !== undefined) throw refusal(path.join(dir, LOCK_NAME), opts.command, mine.holder);
  // The state folder first: an unsafe one is refused as such (UNSAFE_PATH) before any lock is taken.
  checkStateDir(dir);
  const mdir = machineLockDir(dir);
  let machine: { fd: number; holder: JobHolder } | null = null;
  if (opts.holdsMachine !== true) {
    const ours = heldMachine.get(mdir);
    if (ours !== undefined) throw refusal(path.join(mdir, MACHINE_LOCK_NAME), opts.command, ours.holder);
    machine = takeLock(mdir, MACHINE_LOCK, opts.command);
    heldMachine.set(mdir, machine);
  }
  let state: { fd: number; holder: JobHolder };
  try {
    state = takeLock(dir, STATE_LOCK, opts.command);
  } catch (e) {
    if (machine !== null) {
      heldMachine.delete(mdir);
      dropLock(mdir, MACHINE_LOCK, machine.fd);
    }
    throw e;
  }
  held.set(dir, state);
  let released = false;
  return {
    stateDir: dir,
    holder: state.holder,
    release() {
      if (released) return;
      released = true;
      held.delete(dir);
      try {
        dropLock(dir, STATE_LOCK, state.fd);
      } finally {
        if (machine !== null) {
          heldMachine.delete(mdir);
          dropLock(mdir, MACHINE_LOCK, machine.fd);
        }
      }
    },
  };
}

/**
 * The state folder holds what a later resume, rollback or finish acts on as root (the journal names the folders to
 * rename and to delete): nobody but root (this account) may be able to change it. Refused (UNSAFE_PATH, exit 4)
 * when the folder, or any folder or link on the way to it, belongs to another account or is writable by group or
 * others (e.g. `--state-dir /tmp/x` made by someone else), or when it lies (or would be made) on a filesystem that
 * is not one of this machine's own (`--state-dir` on a stick: its owners and modes were written wherever it was
 * last formatted or filled, and a journal on it could come from anywhere), before anything is read from it or
 * written to it. A practice sandbox's own state folder is judged by owner and mode only: its jobs touch nothing
 * outside the sandbox.
 */
export function checkStateDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fail = (place: string, why: string): RecoveryError =>
    new RecoveryError(
      'UNSAFE_PATH',
      `The state folder ${dir} is not safe: ${why}. Another account could change the restore journal kept there, which decides what a rollback renames and "finish" deletes as root. Nothing was changed.`,
      {
        hint: 'Use a folder only root can change (the default /var/lib/edge-recovery, or one made with mkdir -m 700 by root), or fix its owner and mode (chown root:root, chmod go-w).',
        details: { stateDir: dir, place },
      },
    );
  const { place, st } = checkRootOnlyDir(dir, fail);
  if (practiceScopes.has(keyOf(dir))) return;
  // Not there yet: it will be made on the filesystem of the nearest folder above it that is.
  let at = place;
  let atSt = st;
  while (atSt === null) {
    at = path.dirname(at);
    atSt = lstatSync(at, { throwIfNoEntry: false }) ?? null;
    if (at === path.dirname(at)) break;
  }
  const foreign = atSt === null ? null : otherFilesystemProblem(at, atSt.dev);
  if (foreign !== null) {
    throw new RecoveryError(
      'UNSAFE_PATH',
      `The state folder ${dir} is not on this machine's own disk: ${foreign}. A restore journal there could have been written anywhere, and it decides what a rollback renames and "finish" deletes as root. Nothing was changed.`,
      {
        hint: `Use a folder only root can change on this machine's own disk: the default /var/lib/edge-recovery, or one made with mkdir -m 700 by root (a data disk built into the machine counts when named in ${OWN_FILESYSTEMS_ENV}).`,
        details: { stateDir: dir, place: at },
      },
    );
  }
}

/**
 * What both checks ask of a folder: every folder and link on the way is trusted (resolveTrusted), and the folder,
 * if it is there yet, is a folder of root's (or this account's) that group and others cannot write.
 */
function checkRootOnlyDir(
  dir: string,
  fail: (place: string, why: string) => RecoveryError,
): { place: string; st: Stats | null } {
  const { place, st } = resolveTrusted(dir, fail);
  if (st === null) return { place, st }; // not there yet: made by us, 0700
  const me = process.geteuid?.() ?? 0;
  if (!st.isDirectory()) throw fail(dir, 'it is not a folder');
  if (st.uid !== me && st.uid !== 0) throw fail(dir, `it belongs to uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) throw fail(dir, `it is writable by others (mode ${(st.mode & 0o7777).toString(8)})`);
  return { place, st };
}

/**
 * The folder of the machine's job lock: made by root (0700) in a root-only place; refused (UNSAFE_PATH) when it,
 * or a folder or link on the way, is another account's or writable by group or others, so nobody else can take,
 * replace or plant the lock file and make jobs refuse or run side by side.
 */
function checkLockDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fail = (place: string, why: string): RecoveryError =>
    new RecoveryError(
      'UNSAFE_PATH',
      `The folder of the machine's job lock, ${dir}, is not safe: ${why}. Another account could take or replace the lock that keeps two jobs from changing the product at once. Nothing was changed.`,
      {
        hint: `Remove ${dir} (it is made again, root-only), or fix its owner and mode (chown root:root, chmod 700).`,
        details: { lockDir: dir, place },
      },
    );
  checkRootOnlyDir(dir, fail);
}

/**
 * Runs `fn` holding the job lock of `stateDir` and the machine's lock. Re-entrant within one job (a rollback
 * offered after a failed restore runs under the restore's lock); any other job, in this process or another, is
 * refused, whatever its state folder.
 */
export async function withJobLock<T>(stateDir: string, opts: { command: string }, fn: () => Promise<T>): Promise<T> {
  const dir = keyOf(stateDir);
  const inContext = context.getStore();
  if (inContext?.has(dir)) return fn();
  const mkey = machineKey(machineLockDir(dir));
  const lock = acquireJobLock(dir, { ...opts, holdsMachine: inContext?.has(mkey) === true });
  try {
    return await context.run(new Set([...(inContext ?? []), dir, mkey]), fn);
  } finally {
    lock.release();
  }
}

/** Whether the current async context holds the lock of `stateDir` (engine functions assert it). */
export function holdsJobLock(stateDir: string): boolean {
  return context.getStore()?.has(keyOf(stateDir)) === true;
}

/**
 * Who holds the lock of `stateDir` or the machine's lock now, or null when both are free. Probes by taking and at
 * once dropping a lock, so it never reports a holder that died (a crash frees the lock, but leaves its note).
 */
export function jobLockHolder(stateDir: string): JobHolder | null {
  const dir = keyOf(stateDir);
  const mdir = machineLockDir(dir);
  return held.get(dir)?.holder ?? heldMachine.get(mdir)?.holder ?? probe(dir, STATE_LOCK) ?? probe(mdir, MACHINE_LOCK);
}

function probe(dir: string, kind: LockKind): JobHolder | null {
  let fd: number;
  try {
    fd = openSync(path.join(dir, kind.lock), fsc.O_RDWR | (fsc.O_NOFOLLOW ?? 0));
  } catch {
    return null; // no lock file (no job ever ran here), or not ours to open
  }
  try {
    if (nativeLock().tryLock(fd)) {
      nativeLock().unlock(fd);
      return null;
    }
    return readHolder(dir, kind.note) ?? { command: 'unknown job', pid: 0, startedAt: '', hostname: '' };
  } finally {
    closeSync(fd);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
