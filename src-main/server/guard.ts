import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WS_PROTOCOL, WS_SECRET_PREFIX } from './ws-protocol.js';

/**
 * Who may talk to the server: this computer only (loopback peer, or the root-only Unix socket), through a
 * loopback name (Host, against DNS rebinding), from our own page (Origin, Sec-Fetch-Site), holding a session.
 *
 * A session is two things: an HttpOnly cookie (page loads) and a secret the page keeps in its own memory and
 * sessionStorage and presents on the WebSocket. Cookies ignore ports, so any other web server on 127.0.0.1 gets
 * the cookie from the browser; it never gets the secret, which only the browser that followed the one-time link
 * saw (in the redirect's #fragment, which is never sent to any server) and which only our origin can read.
 */
export type Verdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export type Endpoint = { kind: 'tcp'; port: number } | { kind: 'unix' };

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || /^127\./.test(addr) || /^::ffff:127\./.test(addr);
}

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:(\d{1,5}))?$/;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionGuard {
  private token: string | null = null;
  /** cookie id → the secret the page must present with it. */
  private readonly sessions = new Map<string, string>();
  readonly cookieName: string;

  constructor(private readonly endpoint: Endpoint) {
    // A per-endpoint name keeps two servers on this machine from overwriting each other's cookie.
    this.cookieName = endpoint.kind === 'tcp' ? `erw_session_${endpoint.port}` : 'erw_session_socket';
    this.newToken();
  }

  /** The one-time token, while it has not been spent. */
  get pendingToken(): string | null {
    return this.token;
  }

  /** A fresh one-time token (serve --new-link); any unspent earlier one stops working. */
  newToken(): string {
    this.token = randomBytes(32).toString('base64url');
    return this.token;
  }

  /** The page's origin as the browser sees it (only for requests that passed checkRequest). */
  origin(req: IncomingMessage): string {
    return `http://${req.headers.host ?? ''}`;
  }

  private hostAllowed(host: string): boolean {
    const m = LOOPBACK_HOST.exec(host);
    if (!m) return false;
    // Over TCP we know our port; through a Unix socket the browser's port is the SSH tunnel's, any one.
    return this.endpoint.kind === 'tcp' ? m[3] === String(this.endpoint.port) : true;
  }

  /** Checks everything except the session; `needOrigin` for WebSocket upgrades, where browsers always send it. */
  checkRequest(req: IncomingMessage, needOrigin: boolean): Verdict {
    if (this.endpoint.kind === 'tcp' && !isLoopback(req.socket.remoteAddress)) {
      return { ok: false, status: 403, reason: 'not from this computer' };
    }
    const host = req.headers.host ?? '';
    if (!this.hostAllowed(host)) return { ok: false, status: 403, reason: 'unexpected Host header' };
    const origin = req.headers.origin;
    if (origin !== undefined ? origin !== `http://${host}` : needOrigin) {
      return { ok: false, status: 403, reason: 'foreign or missing Origin' };
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { ok: false, status: 403, reason: `cross-site request (${String(site)})` };
    }
    return { ok: true };
  }

  /** A page load: the cookie is enough to get the app's (public) files; the API needs the secret too. */
  hasSession(req: IncomingMessage): boolean {
    const id = readCookie(req.headers.cookie, this.cookieName);
    return id !== undefined && this.sessions.has(id);
  }

  /** A WebSocket: the cookie's session and its secret, offered as a subprotocol, must both match. */
  checkSocket(req: IncomingMessage): Verdict {
    const id = readCookie(req.headers.cookie, this.cookieName);
    const secret = id === undefined ? undefined : this.sessions.get(id);
    if (secret === undefined) return { ok: false, status: 401, reason: 'no session' };
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!offered.includes(WS_PROTOCOL)) return { ok: false, status: 403, reason: 'unknown protocol' };
    const presented = offered.find((p) => p.startsWith(WS_SECRET_PREFIX))?.slice(WS_SECRET_PREFIX.length);
    if (presented === undefined || !sameSecret(presented, secret)) {
      return { ok: false, status: 401, reason: 'the page did not present its session secret' };
    }
    return { ok: true };
  }

  /** Spends the token if `candidate` is it: a new session (cookie id and page secret); null otherwise. */
  redeem(candidate: string): { id: string; secret: string } | null {
    if (this.token === null || !sameSecret(candidate, this.token)) return null;
    this.token = null;
    const id = randomBytes(32).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    this.sessions.set(id, secret);
    return { id, secret };
  }

  sessionCookie(id: string): string {
    return `${this.cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/`;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
