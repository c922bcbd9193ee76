import { RecoveryError } from '../errors.js';
import type { Profile } from '../profiles/schema.js';
import { dockerService } from './docker.js';
import { manualService } from './manual.js';
import { processService } from './process-service.js';
import { runitService } from './runit.js';
import { systemdService } from './systemd.js';
import type { ServiceControl, ServiceDeps } from './types.js';
import { windowsService } from './windows-sc.js';

export type { ExecFn, ExecResult, ServiceControl, ServiceDeps, ServiceState, ServiceStatus } from './types.js';

/** One ServiceControl for the profile's service manager. */
export function serviceFor(spec: Profile['service'], deps: ServiceDeps = {}): ServiceControl {
  switch (spec.manager) {
    case 'systemd':
      return systemdService(spec.name, deps);
    case 'windows':
      return windowsService(spec.name, spec.displayName, deps);
    case 'runit':
      return runitService(
        spec.name,
        { stopSeconds: spec.stopTimeoutSeconds, startSeconds: spec.startTimeoutSeconds },
        deps,
      );
    case 'process': {
      if (spec.command === undefined || spec.pidFile === undefined) {
        throw new RecoveryError('BAD_PROFILE', 'service: the "process" manager needs "command" and "pidFile".');
      }
      return processService(
        { name: spec.name, command: spec.command, pidFile: spec.pidFile, stopTimeoutSeconds: spec.stopTimeoutSeconds },
        deps,
      );
    }
    case 'docker':
      return dockerService(spec.name, { stopSeconds: spec.stopTimeoutSeconds }, deps);
    case 'none':
      return manualService(spec.displayName ?? spec.name, deps);
  }
}
