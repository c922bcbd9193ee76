import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface OpenFile {
  pid: number;
  /** The process's command line (or its short name), to tell the technician who holds it. */
  command: string;
  /** The open file (or the process's working folder). */
  file: string;
}

async function realOrResolved(p: string): Promise<string> {
  try {
    return await fsp.realpath(p);
  } catch {
    return path.resolve(p);
  }
}

function under(target: string, folders: string[]): boolean {
  return folders.some((f) => target === f || target.startsWith(f.endsWith('/') ? f : `${f}/`));
}

async function commandOf(pid: string): Promise<string> {
  try {
    const raw = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8');
    const cmd = raw
      .split('\0')
      .filter((s) => s.length > 0)
      .join(' ');
    if (cmd) return cmd.length > 200 ? `${cmd.slice(0, 200)}…` : cmd;
  } catch {
    // gone or not readable: fall through to comm
  }
  try {
    return (await fsp.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
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
 */
export async function findOpenFiles(paths: string[]): Promise<OpenFile[]> {
  if (process.platform !== 'linux' || paths.length === 0) return [];
  const folders = await Promise.all(paths.map(realOrResolved));
  const found: OpenFile[] = [];
  const pids = (await fsp.readdir('/proc')).filter((n) => /^\d+$/.test(n));
  for (const pid of pids) {
    const hits: string[] = [];
    try {
      const cwd = await fsp.readlink(`/proc/${pid}/cwd`);
      if (under(cwd, folders)) hits.push(cwd);
    } catch {
      // exited or not ours to inspect
    }
    let fds: string[] = [];
    try {
      fds = await fsp.readdir(`/proc/${pid}/fd`);
    } catch {
      fds = [];
    }
    for (const fd of fds) {
      try {
        const target = (await fsp.readlink(`/proc/${pid}/fd/${fd}`)).replace(/ \(deleted\)$/, '');
        if (under(target, folders) && !hits.includes(target)) hits.push(target);
      } catch {
        // the fd closed while we looked
      }
    }
    if (hits.length > 0) {
      const command = await commandOf(pid);
      for (const file of hits) found.push({ pid: Number(pid), command, file });
    }
  }
  return found;
}
