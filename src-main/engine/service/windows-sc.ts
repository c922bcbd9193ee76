import { RecoveryError } from '../errors.js';
import { execFileResult } from './exec.js';
import type { ExecFn, ExecResult, ServiceControl, ServiceDeps, ServiceStatus } from './types.js';
import { pollUntil } from './wait-for.js';

const SERVICE_DOES_NOT_EXIST = 1060;
const SERVICE_NOT_ACTIVE = 1062;
const SERVICE_ALREADY_RUNNING = 1056;
const ACCESS_DENIED = 5;

/** The Win32 error sc.exe printed ("[SC] OpenService FAILED 1060:"), if any. */
export function scErrorCode(out: string): number | undefined {
  const m = /FAILED (\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

/** Reads "STATE : 4  RUNNING" from `sc query`; undefined when there is no STATE line. */
export function parseScQuery(out: string): ServiceStatus | undefined {
  const m = /^\s*STATE\s*:\s*(\d+)\s+(\S+)/m.exec(out);
  if (!m) return undefined;
  const code = Number(m[1]);
  const detail = `STATE ${code} ${m[2]}`;
  const pidMatch = /^\s*PID\s*:\s*(\d+)/m.exec(out);
  const pid = pidMatch && Number(pidMatch[1]) > 0 ? Number(pidMatch[1]) : undefined;
  const state: ServiceStatus['state'] =
    code === 4 ? 'running' : code === 1 ? 'stopped' : code === 2 ? 'starting' : code === 3 ? 'stopping' : 'unknown';
  return pid === undefined ? { state, detail } : { state, pid, detail };
}

/** "[SC] GetServiceKeyName SUCCESS  Name = EdgeDataStore" (the name may also follow on the next line). */
export function parseGetKeyName(out: string): string | undefined {
  if (!/SUCCESS/i.test(out)) return undefined;
  const m = /Name\s*=\s*(.+)$/m.exec(out);
  return m?.[1]?.trim() || undefined;
}

export function windowsService(name: string, displayName: string | undefined, deps: ServiceDeps = {}): ServiceControl {
  const exec: ExecFn = deps.exec ?? execFileResult;
  let resolved: string | undefined;
  const label = `Windows service ${displayName ? `"${displayName}" (${name})` : name}`;

  function said(r: ExecResult): string {
    const out = `${r.stdout}\n${r.stderr}`;
    const lines = out
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    return lines.slice(0, 2).join(' ') || `exit code ${r.code}`;
  }

  function failure(r: ExecResult, action: string): RecoveryError {
    const code = scErrorCode(r.stdout + r.stderr);
    if (r.code === 127)
      return new RecoveryError('SERVICE_FAILED', `Cannot ${action} the ${label}: sc.exe is not available.`);
    if (code === ACCESS_DENIED) {
      return new RecoveryError('PERMISSION_DENIED', `Not allowed to ${action} the ${label}: ${said(r)}`, {
        hint: 'Run the tool as Administrator.',
      });
    }
    if (code === SERVICE_DOES_NOT_EXIST) {
      return new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine.`, {
        hint: 'Check the service name in the profile (services.msc shows the names).',
      });
    }
    return new RecoveryError('SERVICE_FAILED', `Could not ${action} the ${label}: ${said(r)}`);
  }

  /** The service's key name: the profile's name, or the one found by display name when that is not installed. */
  async function keyName(): Promise<string | undefined> {
    if (resolved !== undefined) return resolved;
    const q = await exec('sc.exe', ['query', name]);
    if (scErrorCode(q.stdout + q.stderr) !== SERVICE_DOES_NOT_EXIST) {
      if (q.code !== 0 && parseScQuery(q.stdout) === undefined) throw failure(q, 'query');
      resolved = name;
      return resolved;
    }
    if (displayName === undefined) return undefined;
    const k = await exec('sc.exe', ['GetKeyName', displayName]);
    const found = k.code === 0 ? parseGetKeyName(k.stdout) : undefined;
    if (found === undefined) return undefined;
    resolved = found;
    return resolved;
  }

  async function status(): Promise<ServiceStatus> {
    const key = await keyName();
    if (key === undefined) return { state: 'not-found', detail: `sc.exe: ${name} does not exist (1060)` };
    const r = await exec('sc.exe', ['query', key]);
    const s = parseScQuery(r.stdout);
    if (s) return s;
    if (scErrorCode(r.stdout + r.stderr) === SERVICE_DOES_NOT_EXIST) return { state: 'not-found', detail: said(r) };
    throw failure(r, 'query');
  }

  async function control(verb: 'stop' | 'start'): Promise<void> {
    const key = await keyName();
    if (key === undefined) {
      throw new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine.`, {
        hint: 'Check the service name in the profile (services.msc shows the names).',
      });
    }
    const r = await exec('sc.exe', [verb, key]);
    if (r.code === 0) return;
    const code = scErrorCode(r.stdout + r.stderr);
    // Already in the wanted state: the goal is the state, not the command.
    if (verb === 'stop' && code === SERVICE_NOT_ACTIVE) return;
    if (verb === 'start' && code === SERVICE_ALREADY_RUNNING) return;
    throw failure(r, verb);
  }

  return {
    label,
    status,
    stop: () => control('stop'),
    start: () => control('start'),
    waitFor: (state, timeoutMs, signal) => pollUntil(label, status, state, timeoutMs, { signal, pollMs: deps.pollMs }),
  };
}
