import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, constants as fsc, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { CREATE_EXCL_FLAGS, tempName } from './atomic-fs.js';
import { resolveTrusted } from './linked-folder.js';

/**
 * One job at a time on this machine: every job that touches the product (backup, restore, resume,
 * rollback, finish, credentials, the wizard's and `serve`'s jobs) holds an exclusive lock on
 * `<state dir>/job.lock` while it runs. The lock is held by the kernel (Linux: an open-file-description
 * lock; Windows: LockFileEx) through `fs-native-extensions`, so a `kill -9` or a power cut releases it: there
 * is never a stale lock to clear by hand. Who holds it (command, pid, since when) is written beside it in
 * `job-holder.json`, so a refused job can say so.
 */
export const LOCK_NAME = 'job.lock';
export const HOLDER_NAME = 'job-holder.json';

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

/** Locks held by this process, by state dir: a second job in the same process is refused like one from outside. */
const held = new Map<string, { fd: number; holder: JobHolder }>();
/** The state dirs whose lock the current async context already holds (a rollback offered after a failed restore). */
const context = new AsyncLocalStorage<ReadonlySet<string>>();

function keyOf(stateDir: string): string {
  return path.resolve(stateDir);
}

export function readHolder(stateDir: string): JobHolder | null {
  try {
    const h = JSON.parse(readFileSync(path.join(stateDir, HOLDER_NAME), 'utf8')) as Partial<JobHolder>;
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

function refusal(stateDir: string, wanted: string, h: JobHolder | null): RecoveryError {
  return new RecoveryError(
    'JOB_RUNNING',
    `${describeHolder(h)} is running on this machine; "${wanted}" would interfere with it, so it did not start. Nothing was changed.`,
    {
      hint:
        'Wait until that job has finished (or cancel it where it runs), then start again. ' +
        '"edge-recovery status" shows what is running. If that process no longer exists, the lock is already free: just start again.',
      details: { holder: h, lockFile: path.join(stateDir, LOCK_NAME) },
      ui: {
        message: `Another job (${h === null ? 'just starting' : `${h.command}, running since ${h.startedAt}`}) is running on this machine, so this one did not start. Nothing was changed.`,
        hint: 'Wait until that job has finished (or cancel it where it runs), then start again.',
      },
    },
  );
}

/**
 * Takes the machine-wide job lock or throws JOB_RUNNING (exit code 4) naming its holder. Synchronous, so
 * nothing can run between "free" and "mine". Call `release()` when the job ends (a crash releases it too).
 */
export function acquireJobLock(stateDir: string, opts: { command: string }): JobLock {
  const dir = keyOf(stateDir);
  const mine = held.get(dir);
  if (mine !== undefined) throw refusal(dir, opts.command, mine.holder);
  // Before anything is made there: a folder on the way that another account controls could redirect even the mkdir.
  checkStateDir(dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new RecoveryError('PERMISSION_DENIED', `Cannot create the state folder ${dir}: ${(e as Error).message}`, {
      hint: 'Run as root (or Administrator), or choose another folder with --state-dir / EDGE_RECOVERY_STATE_DIR.',
    });
  }
  const file = path.join(dir, LOCK_NAME);
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDWR | fsc.O_CREAT | (fsc.O_NOFOLLOW ?? 0), 0o600);
  } catch (e) {
    throw new RecoveryError('PERMISSION_DENIED', `Cannot open the job lock ${file}: ${(e as Error).message}`, {
      hint: 'Run as root (or Administrator), or choose another folder with --state-dir / EDGE_RECOVERY_STATE_DIR.',
    });
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
    const h = readHolder(dir);
    throw refusal(dir, opts.command, h !== null && isAlive(h.pid) ? h : null);
  }
  const holder: JobHolder = {
    command: opts.command,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
  };
  // The note is written whole under a random name (O_EXCL|O_NOFOLLOW) and renamed over the old one: a reader
  // never sees half a note, and a link planted at the note's name is replaced, not followed.
  const tmp = path.join(dir, tempName(HOLDER_NAME));
  try {
    const note = openSync(tmp, CREATE_EXCL_FLAGS, 0o600);
    try {
      writeSync(note, JSON.stringify(holder) + '\n');
    } finally {
      closeSync(note);
    }
    renameSync(tmp, path.join(dir, HOLDER_NAME));
  } catch {
    // The lock is what counts; without the note a refused job says "another job" without details.
    rmSync(tmp, { force: true });
  }
  held.set(dir, { fd, holder });
  let released = false;
  return {
    stateDir: dir,
    holder,
    release() {
      if (released) return;
      released = true;
      held.delete(dir);
      if (readHolder(dir)?.pid === process.pid) rmSync(path.join(dir, HOLDER_NAME), { force: true });
      try {
        nativeLock().unlock(fd);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/**
 * The state folder holds what a later resume, rollback or finish acts on as root (the journal names the folders to
 * rename and to delete): nobody but root (this account) may be able to change it. Refused (UNSAFE_PATH, exit 4)
 * when the folder, or any folder or link on the way to it, belongs to another account or is writable by group or
 * others (e.g. `--state-dir /tmp/x` made by someone else), before anything is read from it or written to it.
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
  const { st } = resolveTrusted(dir, fail);
  if (st === null) return; // not there yet: made by us, 0700
  const me = process.geteuid?.() ?? 0;
  if (!st.isDirectory()) throw fail(dir, 'it is not a folder');
  if (st.uid !== me && st.uid !== 0) throw fail(dir, `it belongs to uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) throw fail(dir, `it is writable by others (mode ${(st.mode & 0o7777).toString(8)})`);
}

/**
 * Runs `fn` holding the job lock of `stateDir`. Re-entrant within one job (a rollback offered after a failed
 * restore runs under the restore's lock); any other job, in this process or another, is refused.
 */
export async function withJobLock<T>(stateDir: string, opts: { command: string }, fn: () => Promise<T>): Promise<T> {
  const dir = keyOf(stateDir);
  const inContext = context.getStore();
  if (inContext?.has(dir)) return fn();
  const lock = acquireJobLock(dir, opts);
  try {
    return await context.run(new Set([...(inContext ?? []), dir]), fn);
  } finally {
    lock.release();
  }
}

/** Whether the current async context holds the lock of `stateDir` (engine functions assert it). */
export function holdsJobLock(stateDir: string): boolean {
  return context.getStore()?.has(keyOf(stateDir)) === true;
}

/**
 * Who holds the lock now, or null when it is free. Probes by taking and at once dropping the lock, so it
 * never reports a holder that died (a crash frees the lock, but leaves its note).
 */
export function jobLockHolder(stateDir: string): JobHolder | null {
  const dir = keyOf(stateDir);
  const mine = held.get(dir);
  if (mine !== undefined) return mine.holder;
  let fd: number;
  try {
    fd = openSync(path.join(dir, LOCK_NAME), fsc.O_RDWR | (fsc.O_NOFOLLOW ?? 0));
  } catch {
    return null; // no lock file: no job ever ran here
  }
  try {
    if (nativeLock().tryLock(fd)) {
      nativeLock().unlock(fd);
      return null;
    }
    return readHolder(dir) ?? { command: 'unknown job', pid: 0, startedAt: '', hostname: '' };
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
