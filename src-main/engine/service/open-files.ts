import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface OpenFile {
  pid: number;
  /** The process's command line (or its short name), to tell the technician who holds it. */
  command: string;
  /** The open file (or the process's working folder). */
  file: string;
}

function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function under(target: string, folders: string[]): boolean {
  return folders.some((f) => target === f || target.startsWith(f.endsWith('/') ? f : `${f}/`));
}

function commandOf(pid: string): string {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const cmd = raw
      .split('\0')
      .filter((s) => s.length > 0)
      .join(' ');
    if (cmd) return cmd.length > 200 ? `${cmd.slice(0, 200)}…` : cmd;
  } catch {
    // gone or not readable: fall through to comm
  }
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * Which processes hold files (or their working folder) inside the folders, by reading /proc/<pid>/fd
 * links: no lsof needed, and the folders' own symlinks are resolved first because the kernel reports
 * real paths. Processes we may not inspect (another user's, without root) are skipped.
 * On Windows there is no /proc and no cheap equivalent without handle.exe: it returns [] there, and
 * the service's stopped state is the only guard.
 * Synchronous calls (an awaited readlink per descriptor cost 3-10 times the CPU, 0.1-1 s on a busy machine),
 * handing the event loop back every few milliseconds so progress and cancellation keep flowing.
 */
export async function findOpenFiles(paths: string[]): Promise<OpenFile[]> {
  if (process.platform !== 'linux' || paths.length === 0) return [];
  const folders = paths.map(realOrResolved);
  const found: OpenFile[] = [];
  const pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  let since = performance.now();
  for (const pid of pids) {
    if (performance.now() - since > 10) {
      await new Promise((r) => setImmediate(r));
      since = performance.now();
    }
    const hits: string[] = [];
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (under(cwd, folders)) hits.push(cwd);
    } catch {
      // exited or not ours to inspect
    }
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      fds = [];
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/ \(deleted\)$/, '');
        if (under(target, folders) && !hits.includes(target)) hits.push(target);
      } catch {
        // the fd closed while we looked
      }
    }
    if (hits.length > 0) {
      const command = commandOf(pid);
      for (const file of hits) found.push({ pid: Number(pid), command, file });
    }
  }
  return found;
}
