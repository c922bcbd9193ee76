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
