import { RecoveryError } from '../errors.js';
import { execFileResult, firstLine } from './exec.js';
import type { ExecFn, ExecResult, ServiceControl, ServiceDeps, ServiceStatus } from './types.js';
import { pollUntil } from './wait-for.js';

/**
 * Edge Data Store in a Docker container (AVEVA's "Install Edge Data Store with Docker": `docker run -d --network
 * host -v /edgeds:/usr/share/OSIsoft/ -e portnum=6000 edgedatastore`): the service is the container, stopped and
 * started with `docker stop` / `docker start`, its state from `docker inspect --format '{{json .State}}'`.
 */
const NO_DAEMON = /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect/i;
const NO_SUCH = /No such (object|container)/i;

/** `{{json .State}}` → our states: Status decides (created/exited/dead are stopped; paused is not: files stay open). */
export function dockerStatusFrom(stdout: string): ServiceStatus {
  let s: { Status?: unknown; Running?: unknown; Pid?: unknown; ExitCode?: unknown };
  try {
    s = JSON.parse(stdout) as typeof s;
  } catch {
    return { state: 'unknown', detail: `docker inspect said: ${firstLine(stdout)}` };
  }
  const status = typeof s.Status === 'string' ? s.Status : s.Running === true ? 'running' : 'exited';
  const pid = typeof s.Pid === 'number' && s.Pid > 0 ? s.Pid : undefined;
  const detail = `container ${status}${typeof s.ExitCode === 'number' && status !== 'running' ? ` (exit code ${s.ExitCode})` : ''}`;
  const state: ServiceStatus['state'] =
    status === 'running'
      ? 'running'
      : status === 'exited' || status === 'created' || status === 'dead'
        ? 'stopped'
        : status === 'restarting'
          ? 'starting'
          : status === 'removing'
            ? 'stopping'
            : 'unknown';
  return pid === undefined ? { state, detail } : { state, pid, detail };
}

/** The port a container's EDS listens on: its `portnum` variable (`-e portnum=6000`), else null (5590). */
export function portFromEnv(stdout: string, name: string): number | null {
  let env: unknown;
  try {
    env = JSON.parse(stdout);
  } catch {
    return null;
  }
  if (!Array.isArray(env)) return null;
  for (const e of env) {
    if (typeof e === 'string' && e.startsWith(`${name}=`)) {
      const n = Number(e.slice(name.length + 1));
      return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
    }
  }
  return null;
}

export function dockerService(
  container: string,
  timeouts: { stopSeconds: number },
  deps: ServiceDeps = {},
): ServiceControl & { envPort(name: string): Promise<number | null> } {
  // Docker's own rule for container names; never an option (`-…`) on docker's command line.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(container)) {
    throw new RecoveryError('BAD_PROFILE', `service.name: "${container}" is not a Docker container name.`);
  }
  const exec: ExecFn = deps.exec ?? execFileResult;
  const label = `Docker container ${container}`;

  function failure(r: ExecResult, action: string): RecoveryError {
    const said = firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.code}`;
    if (r.code === 127) {
      return new RecoveryError('SERVICE_FAILED', `Cannot ${action} the ${label}: docker is not installed here.`, {
        hint: 'Use the profile for how Edge Data Store is installed on this machine.',
      });
    }
    if (NO_DAEMON.test(r.stderr)) {
      return new RecoveryError(
        'SERVICE_FAILED',
        `Cannot ${action} the ${label}: the Docker daemon does not answer ("${said}").`,
        {
          hint: 'Start Docker (systemctl start docker), then try again.',
        },
      );
    }
    if (NO_SUCH.test(r.stderr)) {
      return new RecoveryError('SERVICE_NOT_FOUND', `There is no ${label} on this machine: ${said}`, {
        hint: 'Check the container name in the profile (docker ps -a).',
      });
    }
    return new RecoveryError('SERVICE_FAILED', `Could not ${action} the ${label}: ${said}`);
  }

  async function status(): Promise<ServiceStatus> {
    const r = await exec('docker', ['inspect', '--type', 'container', '--format', '{{json .State}}', container], {
      timeoutMs: 30_000,
    });
    if (r.code === 0) return dockerStatusFrom(r.stdout.trim());
    if (NO_SUCH.test(r.stderr)) return { state: 'not-found', detail: firstLine(r.stderr) };
    throw failure(r, 'ask about');
  }

  return {
    label,
    status,
    async stop() {
      const r = await exec('docker', ['stop', '--time', String(timeouts.stopSeconds), container], {
        timeoutMs: (timeouts.stopSeconds + 30) * 1000,
      });
      if (r.code !== 0) throw failure(r, 'stop');
    },
    async start() {
      const r = await exec('docker', ['start', container], { timeoutMs: 60_000 });
      if (r.code !== 0) throw failure(r, 'start');
    },
    waitFor(state, timeoutMs, signal) {
      return pollUntil(label, status, state, timeoutMs, {
        ...(signal ? { signal } : {}),
        ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
      });
    },
    async envPort(name: string) {
      const r = await exec(
        'docker',
        ['inspect', '--type', 'container', '--format', '{{json .Config.Env}}', container],
        {
          timeoutMs: 30_000,
        },
      );
      if (r.code !== 0) throw failure(r, 'ask about');
      return portFromEnv(r.stdout.trim(), name);
    },
  };
}
