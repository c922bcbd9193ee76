import type { Envelope, JobEventEnvelope } from '../shared/contract.js';

/**
 * What travels over the loopback WebSocket. Shared by the server and the browser bridge; no Node here.
 * Browser → server: a request. Server → browser: the reply to one request, or a pushed job event.
 */
export interface WsRequest {
  id: number;
  name: string;
  input: unknown;
}

export type WsServerMessage = { id: number | null; envelope: Envelope<unknown> } | { jobEvent: JobEventEnvelope };

export const WS_PATH = '/ws';
export const BRIDGE_PATH = '/bridge.js';
/** The subprotocol the server answers with; the page offers it with its secret (WS_SECRET_PREFIX + secret). */
export const WS_PROTOCOL = 'edge-recovery.v1';
export const WS_SECRET_PREFIX = 'erw-secret.';
/** The one-time link redirects to `/#<SECRET_FRAGMENT>=<secret>`; the bridge keeps it under this sessionStorage key. */
export const SECRET_FRAGMENT = 's';
export const SECRET_STORAGE_KEY = 'edge-recovery-session';
