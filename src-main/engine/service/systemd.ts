import { RecoveryError } from '../errors.js';
import { execFileResult, firstLine } from './exec.js';
import type { ExecFn, ExecResult, ServiceControl, ServiceDeps, ServiceStatus } from './types.js';
import { pollUntil } from './wait-for.js';

const NO_SYSTEMD = /has not been booted with systemd|Failed to connect to bus/i;

export function parseSystemctlShow(stdout: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const line of stdout.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) props[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return props;
}

/** Maps `systemctl show` properties to our states; ActiveState decides, SubState is detail. */
export function systemdStatusFrom(props: Record<string, string>): ServiceStatus {
  const load = props.LoadState ?? '';
  const active = props.ActiveState ?? '';
  const sub = props.SubState ?? '';
  const pidNum = Number(props.MainPID ?? '0');
  const pid = Number.isInteger(pidNum) && pidNum > 0 ? pidNum : undefined;
  const detail = `LoadState=${load} ActiveState=${active} SubState=${sub}`;
  if (load === 'not-found') return { state: 'not-found', detail };
  let state: ServiceStatus['state'];
  switch (active) {
    case 'active':
    case 'reloading':
      state = 'running';
      break;
    case 'inactive':
    case 'failed':
      state = 'stopped';
      break;
    case 'activating':
      state = 'starting';
      break;
    case 'deactivating':
      state = 'stopping';
      break;
    default:
      state = 'unknown';
  }
  return pid === undefined ? { state, detail } : { state, pid, detail };
}

export function systemdService(unit: string, deps: ServiceDeps = {}): ServiceControl {
  const exec: ExecFn = deps.exec ?? execFileResult;
  const label = `systemd unit ${unit}`;

  function failure(r: ExecResult, action: string): RecoveryError {
    const said = firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.code}`;
    if (r.code === 127) {
      return new RecoveryError(
        'SERVICE_FAILED',
        `Cannot ${action} the ${label}: systemctl is not installed on this machine.`,
        {
          hint: 'Use the profile for this machine’s service manager, or stop and start the product by hand.',
        },
      );
    }
    if (NO_SYSTEMD.test(r.stderr)) {
      return new RecoveryError(
        'SERVICE_FAILED',
        `Cannot ${action} the ${label}: this machine does not run systemd (PID 1 is another init), so systemctl cannot operate. It said: "${said}"`,
        {
          hint: 'Use a profile for the service manager this machine runs (runit, or "none" to stop and start it by hand).',
        },
      );
    }
    if (/not loaded|not found|does not exist/i.test(r.stderr)) {
      return new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine: ${said}`, {
        hint: 'Check the unit name in the profile (systemctl list-units --type=service).',
      });
    }
    return new RecoveryError('SERVICE_FAILED', `Could not ${action} the ${label}: ${said}`);
  }

  async function status(): Promise<ServiceStatus> {
    const r = await exec('systemctl', ['show', '-p', 'LoadState,ActiveState,SubState,MainPID', unit]);
    if (r.code !== 0) throw failure(r, 'query');
    return systemdStatusFrom(parseSystemctlShow(r.stdout));
  }

  async function control(verb: 'stop' | 'start'): Promise<void> {
    const before = await status();
    if (before.state === 'not-found') {
      throw new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine.`, {
        hint: 'Check the unit name in the profile (systemctl list-units --type=service).',
      });
    }
    // systemctl waits for the job itself; our own timeout stops a hung call.
    const r = await exec('systemctl', [verb, unit], { timeoutMs: 15 * 60_000 });
    if (r.code !== 0) throw failure(r, verb);
  }

  return {
    label,
    status,
    stop: () => control('stop'),
    start: () => control('start'),
    waitFor: (state, timeoutMs, signal) => pollUntil(label, status, state, timeoutMs, { signal, pollMs: deps.pollMs }),
  };
}
