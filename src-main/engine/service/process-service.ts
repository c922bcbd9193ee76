import { spawn } from 'node:child_process';
import { promises as fsp, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-fs.js';
import { childEnv } from '../util/child-env.js';
import type { ServiceControl, ServiceDeps, ServiceStatus } from './types.js';
import { pollUntil } from './wait-for.js';

export interface ProcessSpec {
  name: string;
  command: string[];
  pidFile: string;
  stopTimeoutSeconds: number;
}

/** The log sits beside the pid file: "eds.pid" → "eds.log". */
export function logFileFor(pidFile: string): string {
  const ext = path.extname(pidFile);
  return path.join(path.dirname(pidFile), `${path.basename(pidFile, ext)}.log`);
}

/** True when a /proc cmdline is the command we started (argv[0] may have been resolved through PATH). */
export function cmdlineMatches(cmdline: string[], command: string[]): boolean {
  if (cmdline.length !== command.length || cmdline.length === 0) return false;
  if (path.basename(cmdline[0] ?? '') !== path.basename(command[0] ?? '')) return false;
  return cmdline.slice(1).every((a, i) => a === command[i + 1]);
}

async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const n = Number((await fsp.readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads /proc/<pid>/cmdline; undefined where there is no /proc (Windows) and [] for a zombie. */
async function procCmdline(pid: number): Promise<string[] | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const raw = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts.at(-1) === '') parts.pop();
    return parts;
  } catch {
    return [];
  }
}

export function processService(spec: ProcessSpec, deps: ServiceDeps = {}): ServiceControl {
  // Like "runit service …": a profile may run any program this way, not only the practice stand-ins.
  const label = `process ${spec.name}`;
  const pollMs = deps.pollMs;

  async function status(): Promise<ServiceStatus> {
    const pid = await readPid(spec.pidFile);
    if (pid === undefined) return { state: 'stopped', detail: `no pid file at ${spec.pidFile}` };
    if (!alive(pid)) return { state: 'stopped', detail: `pid ${pid} from ${spec.pidFile} is not running` };
    const cmd = await procCmdline(pid);
    // A pid is reused after the process ends: only a process running our command counts.
    if (cmd !== undefined && !cmdlineMatches(cmd, spec.command)) {
      return { state: 'stopped', detail: `pid ${pid} from ${spec.pidFile} now belongs to another program` };
    }
    return { state: 'running', pid, detail: `pid ${pid}` };
  }

  async function start(): Promise<void> {
    if ((await status()).state === 'running') return;
    await fsp.mkdir(path.dirname(spec.pidFile), { recursive: true });
    const log = openSync(logFileFor(spec.pidFile), 'a');
    try {
      const [file, ...args] = spec.command as [string, ...string[]];
      const child = spawn(file, args, {
        detached: true,
        stdio: ['ignore', log, log],
        windowsHide: true,
        env: childEnv(),
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      }).catch((e: unknown) => {
        throw new RecoveryError('SERVICE_FAILED', `Could not start the ${label}: ${(e as Error).message}`, {
          cause: e,
        });
      });
      child.unref();
      if (child.pid === undefined) throw new RecoveryError('SERVICE_FAILED', `Could not start the ${label}: no pid.`);
      await writeFileAtomic(spec.pidFile, `${child.pid}\n`);
    } finally {
      closeSync(log);
    }
  }

  async function stop(): Promise<void> {
    const s = await status();
    if (s.state !== 'running' || s.pid === undefined) return;
    try {
      if (process.platform === 'win32') process.kill(s.pid);
      else process.kill(s.pid, 'SIGTERM');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
    try {
      await pollUntil(label, status, 'stopped', spec.stopTimeoutSeconds * 1000, { pollMs });
    } catch (e) {
      // Like systemd after TimeoutStopSec: a program that ignores SIGTERM is killed, never left running.
      if (!(e instanceof RecoveryError) || e.code !== 'SERVICE_TIMEOUT' || process.platform === 'win32') throw e;
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch (k) {
        if ((k as NodeJS.ErrnoException).code !== 'ESRCH') throw k;
      }
      await pollUntil(label, status, 'stopped', 5000, { pollMs });
    }
    await fsp.rm(spec.pidFile, { force: true });
  }

  return {
    label,
    status,
    stop,
    start,
    waitFor: (state, timeoutMs, signal) => pollUntil(label, status, state, timeoutMs, { signal, pollMs }),
  };
}
