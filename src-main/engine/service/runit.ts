import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { execFileResult, firstLine } from './exec.js';
import type { ExecFn, ExecResult, ServiceControl, ServiceDeps, ServiceStatus } from './types.js';
import { pollUntil } from './wait-for.js';

/** runit looks a bare name up under /etc/service; we make that explicit so messages show the real folder. */
export function runitServiceDir(name: string): string {
  return path.isAbsolute(name) ? name : path.join('/etc/service', name);
}

/**
 * Parses one `sv status` line:
 *   run: /x: (pid 123) 5s[, normally down][, want down[, got TERM]]
 *   down: /x: 3s, normally up[, want up]
 *   finish: /x: (pid 123) 1s
 *   fail: /x: unable to change to service directory: file does not exist
 *   warning: /x: unable to open supervise/ok: file does not exist   (no runsv for it)
 * sv prefixes the answer to stop/start with "ok: " or "timeout: ".
 */
export function parseSvStatus(out: string): ServiceStatus {
  const line = firstLine(out).replace(/^(ok|timeout):\s*/, '');
  const detail = line;
  const pidM = /\(pid (\d+)\)/.exec(line);
  const pid = pidM ? Number(pidM[1]) : undefined;
  const withPid = (state: ServiceStatus['state']): ServiceStatus =>
    pid === undefined ? { state, detail } : { state, pid, detail };
  if (line.startsWith('run:')) return withPid(/want down/.test(line) ? 'stopping' : 'running');
  if (line.startsWith('finish:')) return withPid(/want up/.test(line) ? 'starting' : 'stopping');
  if (line.startsWith('down:')) return { state: /want up/.test(line) ? 'starting' : 'stopped', detail };
  if (line.startsWith('fail:') && /unable to change to service directory/.test(line))
    return { state: 'not-found', detail };
  return { state: 'unknown', detail: detail || 'sv printed nothing' };
}

export function runitService(
  name: string,
  timeouts: { stopSeconds: number; startSeconds: number },
  deps: ServiceDeps = {},
): ServiceControl {
  const exec: ExecFn = deps.exec ?? execFileResult;
  const dir = runitServiceDir(name);
  const label = `runit service ${dir}`;

  function notFound(detail: string): RecoveryError {
    return new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine (${detail}).`, {
      hint: 'Check the service folder in the profile; `ls /etc/service` lists the services runit knows.',
    });
  }

  function unsupervised(detail: string): RecoveryError {
    return new RecoveryError('SERVICE_FAILED', `runit does not supervise the ${label}: ${detail}`, {
      hint: 'Is runsvdir running for this folder? (`ps -ef | grep runsv`)',
    });
  }

  async function status(): Promise<ServiceStatus> {
    const r = await exec('sv', ['status', dir]);
    if (r.code === 127)
      throw new RecoveryError('SERVICE_FAILED', `Cannot query the ${label}: sv (runit) is not installed.`);
    const s = parseSvStatus(r.stdout || r.stderr);
    if (s.state === 'unknown' && /supervise\/ok/.test(s.detail)) throw unsupervised(s.detail);
    return s;
  }

  async function control(verb: 'stop' | 'start', seconds: number): Promise<void> {
    const r: ExecResult = await exec('sv', ['-w', String(seconds), verb, dir], { timeoutMs: (seconds + 30) * 1000 });
    const out = r.stdout || r.stderr;
    if (r.code === 127)
      throw new RecoveryError('SERVICE_FAILED', `Cannot ${verb} the ${label}: sv (runit) is not installed.`);
    const s = parseSvStatus(out);
    if (r.code === 0) return;
    if (s.state === 'not-found') throw notFound(s.detail);
    if (/supervise\/ok/.test(out)) throw unsupervised(firstLine(out));
    if (/^timeout:/m.test(out)) {
      throw new RecoveryError(
        'SERVICE_TIMEOUT',
        `The ${label} did not ${verb} within ${seconds} s; runit says: ${s.detail}`,
        {
          hint:
            verb === 'stop'
              ? 'The program ignores the stop request. Check its log; `sv kill` forces it down.'
              : 'Check the service log for start-up errors.',
          details: { state: s.state, pid: s.pid },
        },
      );
    }
    throw new RecoveryError(
      'SERVICE_FAILED',
      `Could not ${verb} the ${label}: ${firstLine(out) || `exit code ${r.code}`}`,
    );
  }

  return {
    label,
    status,
    stop: () => control('stop', timeouts.stopSeconds),
    start: () => control('start', timeouts.startSeconds),
    waitFor: (state, timeoutMs, signal) => pollUntil(label, status, state, timeoutMs, { signal, pollMs: deps.pollMs }),
  };
}
