/**
 * Runs in the browser page served by `edge-recovery serve` (bundled by esbuild as an IIFE, loaded before the
 * app's own script): installs `window.recovery` over the loopback WebSocket, the same RecoveryApi that
 * Electron's preload gives. The session cookie authenticates the socket; nothing secret is kept here.
 */
import type { JobEventEnvelope } from '../shared/contract.js';
import { RecoveryApiError, unwrap, type RecoveryApi } from '../shared/transport.js';
import { WS_PATH, type WsRequest, type WsServerMessage } from './ws-protocol.js';

interface Pending {
  resolve: (env: unknown) => void;
  reject: (e: unknown) => void;
}

function installRecoveryBridge(): void {
  const listeners = new Set<(e: JobEventEnvelope) => void>();
  const pending = new Map<number, Pending>();
  const queue: string[] = [];
  let nextId = 1;
  let ws: WebSocket | null = null;
  let retryMs = 250;

  const connect = (): void => {
    const sock = new WebSocket(`ws://${location.host}${WS_PATH}`);
    ws = sock;
    sock.onopen = () => {
      retryMs = 250;
      for (const m of queue.splice(0)) sock.send(m);
    };
    sock.onmessage = (ev: MessageEvent) => {
      let msg: WsServerMessage;
      try {
        msg = JSON.parse(String(ev.data)) as WsServerMessage;
      } catch {
        return;
      }
      if ('jobEvent' in msg) {
        for (const l of listeners) l(msg.jobEvent);
        return;
      }
      if (msg.id === null) return;
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      p.resolve(msg.envelope);
    };
    sock.onclose = () => {
      ws = null;
      // Requests in flight are lost with the socket: fail them so the wizard can say so and retry.
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(
          new RecoveryApiError({
            code: 'INTERNAL',
            message: 'The connection to the recovery tool was lost.',
            hint: 'Check that "edge-recovery serve" is still running, then reload the page.',
          }),
        );
      }
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  };
  connect();

  const api: RecoveryApi = {
    invoke(name, input) {
      const id = nextId++;
      const text = JSON.stringify({ id, name, input } satisfies WsRequest);
      return new Promise((resolve, reject) => {
        pending.set(id, {
          resolve: (env) => {
            try {
              resolve(unwrap(env as Parameters<typeof unwrap>[0]) as never);
            } catch (e) {
              reject(e);
            }
          },
          reject,
        });
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
        else queue.push(text);
      });
    },
    onJobEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  Object.defineProperty(window, 'recovery', { value: Object.freeze(api), writable: false, configurable: false });
}

installRecoveryBridge();
