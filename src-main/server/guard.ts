import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who may talk to the loopback server: this computer only (remote address), through our own name (Host, against
 * DNS rebinding), from our own pages (Origin, Sec-Fetch-Site), holding the session the one-time token opened.
 */
export type Verdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || /^127\./.test(addr) || /^::ffff:127\./.test(addr);
}

export class SessionGuard {
  private token: string | null = randomBytes(32).toString('base64url');
  private readonly sessions = new Set<string>();
  readonly cookieName: string;

  constructor(private readonly port: number) {
    // Cookies ignore ports: a per-port name keeps two servers on this machine from clobbering each other.
    this.cookieName = `erw_session_${port}`;
  }

  /** The one-time token, while it has not been spent. */
  get pendingToken(): string | null {
    return this.token;
  }

  origins(): string[] {
    return [`http://127.0.0.1:${this.port}`, `http://localhost:${this.port}`];
  }

  /** Checks everything except the session; `needOrigin` for WebSocket upgrades, where browsers always send it. */
  checkRequest(req: IncomingMessage, needOrigin: boolean): Verdict {
    if (!isLoopback(req.socket.remoteAddress)) return { ok: false, status: 403, reason: 'not from this computer' };
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) {
      return { ok: false, status: 403, reason: 'unexpected Host header' };
    }
    const origin = req.headers.origin;
    if (origin !== undefined ? !this.origins().includes(origin) : needOrigin) {
      return { ok: false, status: 403, reason: 'foreign or missing Origin' };
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { ok: false, status: 403, reason: `cross-site request (${String(site)})` };
    }
    return { ok: true };
  }

  hasSession(req: IncomingMessage): boolean {
    const id = readCookie(req.headers.cookie, this.cookieName);
    return id !== undefined && this.sessions.has(id);
  }

  /** Spends the token if `candidate` is it, and returns the new session id; null otherwise. */
  redeem(candidate: string): string | null {
    if (this.token === null) return null;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    this.token = null;
    const id = randomBytes(32).toString('base64url');
    this.sessions.add(id);
    return id;
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
