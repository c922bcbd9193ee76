/**
 * Runs in the browser page served by `edge-recovery serve` (bundled by esbuild as an IIFE, loaded before the
 * app's own script): installs `window.recovery` over the loopback WebSocket, the same RecoveryApi that
 * Electron's preload gives. The socket is opened with the session cookie and the page's own secret: the one-time
 * link's redirect put it in the #fragment; it is kept in this tab's sessionStorage (it survives a reload, not a
 * closed tab) and offered as a WebSocket subprotocol. Another site on this computer can get the cookie, not this.
 */
import type { JobEventEnvelope } from '../shared/contract.js';
import { RecoveryApiError, unwrap, type RecoveryApi } from '../shared/transport.js';
import {
  SECRET_FRAGMENT,
  SECRET_STORAGE_KEY,
  WS_PATH,
  WS_PROTOCOL,
  WS_SECRET_PREFIX,
  type WsRequest,
  type WsServerMessage,
} from './ws-protocol.js';

interface Pending {
  resolve: (env: unknown) => void;
  reject: (e: unknown) => void;
}

/** Takes the secret out of the address (so it is not bookmarked or shared) into this tab's sessionStorage. */
function sessionSecret(): string | null {
  const m = new RegExp(`(?:^#|&)${SECRET_FRAGMENT}=([A-Za-z0-9_-]{20,200})`).exec(location.hash);
  if (m) {
    try {
      sessionStorage.setItem(SECRET_STORAGE_KEY, m[1]!);
    } catch {
      // storage disabled: the secret still lives in this page's memory until it is closed
    }
    history.replaceState(null, '', location.pathname + location.search);
    return m[1]!;
  }
  try {
    return sessionStorage.getItem(SECRET_STORAGE_KEY);
  } catch {
    return null;
  }
}

const SIGN_IN_AGAIN =
  'On the machine running "edge-recovery serve", run "edge-recovery serve --new-link" and open the link it prints.';

function installRecoveryBridge(): void {
  const secret = sessionSecret();
  const listeners = new Set<(e: JobEventEnvelope) => void>();
  const pending = new Map<number, Pending>();
  const queue: string[] = [];
  let nextId = 1;
  let ws: WebSocket | null = null;
  let retryMs = 250;

  const connect = (): void => {
    if (secret === null) return;
    const sock = new WebSocket(`ws://${location.host}${WS_PATH}`, [WS_PROTOCOL, WS_SECRET_PREFIX + secret]);
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
            hint: `Check that "edge-recovery serve" is still running, then reload the page. If it was restarted: ${SIGN_IN_AGAIN}`,
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
      if (secret === null) {
        return Promise.reject(
          new RecoveryApiError({
            code: 'BAD_INPUT',
            message: 'This page is not signed in to the recovery tool (the tab that opened the link was closed).',
            hint: SIGN_IN_AGAIN,
          }),
        );
      }
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
