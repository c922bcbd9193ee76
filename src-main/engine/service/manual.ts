import { RecoveryError } from '../errors.js';
import type { ServiceControl, ServiceDeps } from './types.js';

/**
 * No service manager we can drive: the technician stops and starts the product by hand.
 * The state cannot be read, so waitFor trusts the technician's confirmation and answers `unknown`.
 */
export function manualService(productName: string, deps: ServiceDeps = {}): ServiceControl {
  const label = `${productName} (stopped and started by hand)`;
  async function ask(message: string): Promise<void> {
    if (deps.confirm === undefined) {
      throw new RecoveryError(
        'BAD_INPUT',
        `${message}: this needs a technician to confirm, and no one can be asked here.`,
        {
          hint: 'Run interactively, or use a profile with a service manager.',
        },
      );
    }
    if (!(await deps.confirm(message))) {
      throw new RecoveryError('DECLINED', `The technician did not confirm: ${message}.`);
    }
  }
  const unknown = { state: 'unknown' as const, detail: 'stopped and started by hand; the tool cannot see its state' };
  return {
    label,
    status: () => Promise.resolve(unknown),
    stop: () => ask(`Stop ${productName} by hand now, then continue`),
    start: () => ask(`Start ${productName} by hand now, then continue`),
    waitFor: () => Promise.resolve(unknown),
  };
}
