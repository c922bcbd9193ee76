/**
 * What crosses a transport (Electron IPC, the loopback WebSocket) and the helpers both ends use. No zod here:
 * the preload, the browser bridge and the renderer import this, and validation happens on the main side.
 */
import type { SerializedError } from '../engine/errors.js';
import type { JobEventEnvelope, RequestInput, RequestName, RequestOutput } from './contract.js';

/** What crosses a transport for every request: errors are data, never a thrown stack. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** `window.recovery`: the whole API the renderer gets, on every transport. */
export interface RecoveryApi {
  invoke<K extends RequestName>(name: K, input: RequestInput<K>): Promise<RequestOutput<K>>;
  /** Subscribes to job events; returns the unsubscribe function. */
  onJobEvent(listener: (e: JobEventEnvelope) => void): () => void;
}

/** IPC channel names (Electron) and WebSocket message kinds (serve). */
export const CHANNELS = { invoke: 'recovery:invoke', jobEvent: 'recovery:job-event' } as const;

/** Thrown in the renderer when a request failed: carries the engine's code, message and hint. */
export class RecoveryApiError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  constructor(e: SerializedError) {
    super(e.message);
    this.name = 'RecoveryApiError';
    this.code = e.code;
    this.hint = e.hint;
    this.details = e.details;
  }
}

export function unwrap<T>(env: Envelope<T>): T {
  if (env.ok) return env.value;
  throw new RecoveryApiError(env.error);
}

/**
 * Rebuilds a RecoveryApiError from whatever a failed `invoke` rejected with. Electron's contextBridge copies
 * thrown Errors without their custom properties, so the preload rejects with a plain `{ code, message, … }`
 * object instead; this turns either form (or anything else) back into a RecoveryApiError.
 */
export function toRecoveryApiError(e: unknown): RecoveryApiError {
  if (e instanceof RecoveryApiError) return e;
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') {
    const o = e as { code: SerializedError['code']; message?: unknown; hint?: unknown; details?: unknown };
    const s: SerializedError = { code: o.code, message: typeof o.message === 'string' ? o.message : String(o.code) };
    if (typeof o.hint === 'string') s.hint = o.hint;
    if (typeof o.details === 'object' && o.details !== null) s.details = o.details as Record<string, unknown>;
    return new RecoveryApiError(s);
  }
  return new RecoveryApiError({ code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
}
