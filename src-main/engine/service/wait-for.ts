import { RecoveryError } from '../errors.js';
import type { ServiceStatus } from './types.js';

export const DEFAULT_POLL_MS = 250;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RecoveryError('CANCELLED', 'Cancelled while waiting for the service.'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new RecoveryError('CANCELLED', 'Cancelled while waiting for the service.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Polls `status` until the service reaches `want`. A service that is not installed ends the wait at once:
 * waiting longer cannot make it appear.
 */
export async function pollUntil(
  label: string,
  status: () => Promise<ServiceStatus>,
  want: 'running' | 'stopped',
  timeoutMs: number,
  opts: { signal?: AbortSignal; pollMs?: number } = {},
): Promise<ServiceStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (opts.signal?.aborted) throw new RecoveryError('CANCELLED', 'Cancelled while waiting for the service.');
    const s = await status();
    if (s.state === want) return s;
    if (s.state === 'not-found') {
      throw new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine (${s.detail}).`);
    }
    if (Date.now() >= deadline) {
      const secs = Math.round(timeoutMs / 100) / 10;
      throw new RecoveryError(
        'SERVICE_TIMEOUT',
        `The ${label} did not become ${want} within ${secs} s; it is ${s.state}: ${s.detail}`,
        {
          hint:
            want === 'stopped'
              ? 'Check why it does not stop (its log), stop it by hand, then retry.'
              : 'Check its log for start-up errors, start it by hand, then retry.',
          details: { state: s.state, pid: s.pid },
        },
      );
    }
    await sleep(Math.min(opts.pollMs ?? DEFAULT_POLL_MS, Math.max(10, deadline - Date.now())), opts.signal);
  }
}
