import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { connectionOwner } from '../engine/appliance/listener-owner.js';
import { RecoveryError, toRecoveryError } from '../engine/errors.js';
import { contentSecurityPolicy, SECURITY_HEADERS } from '../host/csp.js';
import { createHandlers } from '../host/handlers.js';
import { createPracticeSandbox, type PracticeSandbox } from '../practice/sandbox.js';
import type { JobEventEnvelope } from '../shared/contract.js';
import { startControl, type NewLink } from './control.js';
import { SessionGuard } from './guard.js';
import { listenPrivateSocket } from './unix-socket.js';
import {
  BRIDGE_PATH,
  SECRET_FRAGMENT,
  WS_PATH,
  WS_PROTOCOL,
  type WsRequest,
  type WsServerMessage,
} from './ws-protocol.js';

export interface ServeOptions {
  /** 0 or absent: any free port. */
  port?: number;
  /** Listen on this Unix socket (0600, in a 0700 folder) instead of a TCP port: what `ssh -L` forwards. */
  socket?: string;
  /** Answer `serve --new-link` on `<stateDir>/serve/control.sock` (the CLI turns it on). */
  control?: boolean;
  /** Serve the practice sandbox (created now, removed on close). */
  practice?: boolean;
  stateDir: string;
  /** The built renderer (dist/renderer), the same files Electron loads. */
  rendererDir: string;
  /** The browser bridge; default: rendererDir/bridge.js, else dist/browser-bridge.js beside rendererDir. */
  bridgeFile?: string;
  profilesDir?: string;
  /** Parent folder of the practice sandbox (tests). */
  practiceBaseDir?: string;
}

export interface RunningServer {
  /** The one-time address; over a Unix socket, "http://localhost/?token=…" (open it on the tunnel's port). */
  url: string;
  token: string;
  /** Where it listens: "http://127.0.0.1:<port>" or the socket path. */
  listening: string;
  /** A fresh one-time link (what `serve --new-link` gets through the control socket). */
  newLink(): NewLink;
  /** Why `serve --new-link` will not work, when the control socket could not be set up. */
  controlProblem: string | null;
  close(): Promise<void>;
}

/**
 * The accounts whose browser may sign in with the one-time link: root, this process's, and the technician's who
 * started it (sudo's SUDO_UID, the login's audit uid kept across su and sudo). -1 (unknown) only off Linux.
 */
export function signInAccounts(env: NodeJS.ProcessEnv = process.env): Set<number> {
  const uids = new Set<number>([0, process.geteuid?.() ?? 0]);
  if (process.platform !== 'linux') uids.add(-1);
  const sudo = Number(env.SUDO_UID);
  if (env.SUDO_UID !== undefined && Number.isInteger(sudo)) uids.add(sudo);
  try {
    const login = Number(readFileSync('/proc/self/loginuid', 'utf8').trim());
    if (Number.isInteger(login) && login !== 4294967295) uids.add(login);
  } catch {
    // no audit login uid here
  }
  return uids;
}

/** Connections served at once (HTTP and WebSocket); see startServer. */
export const MAX_CONNECTIONS = 64;

/**
 * The account (uid) holding the other end of a loopback TCP connection, from the kernel's table (connectionOwner: the
 * peer's socket, by address and port on both sides); -1 where it cannot be told.
 */
export function peerUid(sock: Socket): number {
  const { localAddress, localPort, remoteAddress, remotePort } = sock;
  if (process.platform !== 'linux' || localAddress === undefined || localPort === undefined) return -1;
  if (remoteAddress === undefined || remotePort === undefined) return -1;
  return connectionOwner({ address: remoteAddress, port: remotePort }, { address: localAddress, port: localPort });
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

/** Puts the bridge before the app's own scripts, so `window.recovery` exists when the app starts. */
export function injectBridge(html: string): string {
  const tag = `<script src="${BRIDGE_PATH}"></script>`;
  const at = html.search(/<script\b/i);
  if (at >= 0) return html.slice(0, at) + tag + html.slice(at);
  return html.replace(/<\/head>/i, `${tag}</head>`);
}

function findBridge(opts: ServeOptions): string {
  const candidates = opts.bridgeFile
    ? [opts.bridgeFile]
    : [path.join(opts.rendererDir, 'bridge.js'), path.join(opts.rendererDir, '..', 'browser-bridge.js')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new RecoveryError('INTERNAL', `The browser bridge is missing (looked for ${candidates.join(', ')}).`, {
      hint: 'Build the app first: npm run build.',
    });
  }
  return found;
}

/**
 * `edge-recovery serve`: the wizard in a local browser, for machines where Electron cannot run. Binds
 * 127.0.0.1 only; the printed URL's one-time token opens one HttpOnly session; the same handler table as
 * Electron answers over a WebSocket.
 */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const rendererDir = path.resolve(opts.rendererDir);
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    throw new RecoveryError('INTERNAL', `The built wizard is missing (${path.join(rendererDir, 'index.html')}).`, {
      hint: 'Build the app first: npm run build.',
    });
  }
  const bridgeFile = findBridge(opts);
  let practice: PracticeSandbox | undefined;
  if (opts.practice) {
    practice = await createPracticeSandbox(opts.practiceBaseDir === undefined ? {} : { baseDir: opts.practiceBaseDir });
  }
  const host = createHandlers({
    shell: 'browser',
    stateDir: opts.stateDir,
    ...(practice ? { practice } : {}),
    ...(opts.profilesDir ? { profilesDir: opts.profilesDir } : {}),
    ...(opts.practiceBaseDir ? { practiceBaseDir: opts.practiceBaseDir } : {}),
  });

  let guard: SessionGuard | undefined = undefined; // set once the port is known
  const server = http.createServer((req, res) => {
    void handleHttp(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('Internal error');
    });
  });
  // Every account of this machine can connect to a loopback port, and each connection accepted holds one of our
  // descriptors until the other side lets go: without a bound, an account that opens as many as we may have leaves
  // the job running here none (its next open fails, EMFILE) and the control socket unanswered. A browser uses a few
  // (six at most per page, one WebSocket). Beyond the bound the account holding the most connections loses its
  // oldest one (by the kernel's word on who holds the other end): closing the newest instead (maxConnections) let an
  // account that held 64 idle connections keep the technician's browser out for as long as it liked.
  server.on('connection', (sock: Socket) => admitConnection(sock));
  // Answer with the plain protocol name only: the secret the page offered beside it is never echoed.
  const signInUids = signInAccounts();
  /** The connections open now, each with the account at its other end, oldest first. */
  const open = new Map<Socket, number>();
  function admitConnection(sock: Socket): void {
    open.set(sock, opts.socket !== undefined ? 0 : peerUid(sock));
    sock.once('close', () => open.delete(sock));
    if (open.size <= MAX_CONNECTIONS) return;
    const count = new Map<number, number>();
    for (const uid of open.values()) count.set(uid, (count.get(uid) ?? 0) + 1);
    const most = [...count.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    for (const [s, uid] of open) {
      if (uid !== most) continue;
      open.delete(s);
      s.destroy();
      return;
    }
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, handleProtocols: () => WS_PROTOCOL });
  const sockets = new Set<WebSocket>();

  function headers(req: http.IncomingMessage, contentType: string): Record<string, string> {
    // Only our own WebSocket, at the origin the browser used (checked against loopback names before).
    const ws = guard!.origin(req).replace(/^http/, 'ws');
    return {
      'Content-Type': contentType,
      'Content-Security-Policy': contentSecurityPolicy([ws]),
      ...SECURITY_HEADERS,
    };
  }

  function deny(res: http.ServerResponse, status: number, reason: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    res.end(
      status === 401
        ? `Not signed in (${reason}). Open the URL that "edge-recovery serve" printed.\n`
        : `Refused: ${reason}.\n`,
    );
  }

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const g = guard;
    if (!g) return deny(res, 403, 'the server is still starting');
    const verdict = g.checkRequest(req, false);
    if (!verdict.ok) return deny(res, verdict.status, verdict.reason);
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 403, 'only GET is served');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const token = url.searchParams.get('token');
    if (token !== null) {
      // Only the account that started serve (or root) signs in with the link: another account of the box that read
      // it (a browser started with the link on its command line shows it in /proc/<pid>/cmdline to every account)
      // would otherwise win the race to it and keep a session of root's wizard. The token is not spent.
      const uid = opts.socket !== undefined ? 0 : peerUid(req.socket);
      if (!signInUids.has(uid)) {
        return deny(
          res,
          403,
          `the sign-in link was opened by another account of this machine (uid ${uid}) than the one that started the wizard; open it in a browser of that account (or through an SSH tunnel as it)`,
        );
      }
      const session = g.redeem(token);
      if (session === null) return deny(res, 401, 'the sign-in link was already used or is wrong');
      // The redirect drops the token from the address bar and history. The page's secret travels in the
      // fragment: the browser never sends it to any server, and only our page (our origin) can read it.
      res.writeHead(303, {
        Location: `/#${SECRET_FRAGMENT}=${session.secret}`,
        'Set-Cookie': g.sessionCookie(session.id),
        ...SECURITY_HEADERS,
      });
      res.end();
      return;
    }
    if (!g.hasSession(req)) return deny(res, 401, 'no session');

    if (url.pathname === BRIDGE_PATH) return sendFile(req, res, bridgeFile);
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const file = path.resolve(rendererDir, rel);
    if (file !== rendererDir && !file.startsWith(rendererDir + path.sep)) return deny(res, 403, 'outside the app');
    if (rel === 'index.html') {
      const html = injectBridge(await fsp.readFile(file, 'utf8'));
      res.writeHead(200, headers(req, MIME['.html']!));
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    return sendFile(req, res, file);
  }

  async function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: string): Promise<void> {
    const headOnly = req.method === 'HEAD';
    let body: Buffer;
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw new Error('not a file');
      body = await fsp.readFile(file);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...SECURITY_HEADERS });
      res.end('Not found\n');
      return;
    }
    res.writeHead(200, headers(req, MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream'));
    res.end(headOnly ? undefined : body);
  }

  function rejectUpgrade(socket: Duplex, status: 401 | 403, reason: string): void {
    const text = status === 401 ? 'Unauthorized' : 'Forbidden';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
  }

  server.on('upgrade', (req, socket, head) => {
    const g = guard;
    if (!g) return rejectUpgrade(socket, 403, 'the server is still starting');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const verdict = g.checkRequest(req, true);
    if (!verdict.ok) return rejectUpgrade(socket, verdict.status, verdict.reason);
    if (url.pathname !== WS_PATH) return rejectUpgrade(socket, 403, 'unknown path');
    const session = g.checkSocket(req);
    if (!session.ok) return rejectUpgrade(socket, session.status, session.reason);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => void onMessage(ws, data.toString()));
    });
  });

  function send(ws: WebSocket, m: WsServerMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
  }

  async function onMessage(ws: WebSocket, text: string): Promise<void> {
    let msg: Partial<WsRequest>;
    try {
      msg = JSON.parse(text) as Partial<WsRequest>;
    } catch {
      send(ws, {
        id: null,
        envelope: { ok: false, error: { code: 'BAD_INPUT', message: 'The message is not JSON.' } },
      });
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : null;
    if (id === null || typeof msg.name !== 'string') {
      send(ws, {
        id,
        envelope: { ok: false, error: { code: 'BAD_INPUT', message: 'A request needs a numeric id and a name.' } },
      });
      return;
    }
    send(ws, { id, envelope: await host.dispatch(msg.name, msg.input) });
  }

  const unsubscribe = host.jobs.subscribe((e: JobEventEnvelope) => {
    for (const ws of sockets) send(ws, { jobEvent: e });
  });

  let removeSocket: (() => Promise<void>) | undefined;
  let listening: string;
  try {
    if (opts.socket !== undefined) {
      removeSocket = await listenPrivateSocket(server, opts.socket);
      guard = new SessionGuard({ kind: 'unix' });
      listening = path.resolve(opts.socket);
    } else {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      guard = new SessionGuard({ kind: 'tcp', port });
      listening = `http://127.0.0.1:${port}`;
    }
  } catch (e) {
    unsubscribe();
    await host.dispose();
    await practice?.dispose();
    throw e;
  }
  const g = guard;
  const base = opts.socket !== undefined ? 'http://localhost' : listening;
  const newLink = (): NewLink => {
    const p = `/?token=${g.newToken()}`;
    return { path: p, url: opts.socket !== undefined ? null : `${listening}${p}`, listening };
  };
  const token = g.pendingToken!;

  let stopControl: (() => Promise<void>) | undefined;
  let controlProblem: string | null = null;
  if (opts.control) {
    try {
      stopControl = await startControl(opts.stateDir, newLink);
    } catch (e) {
      controlProblem = toRecoveryError(e).message;
    }
  }

  let closed = false;
  return {
    url: `${base}/?token=${token}`,
    token,
    listening,
    newLink,
    controlProblem,
    close: async () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await removeSocket?.();
      await stopControl?.();
      await host.dispose();
      await practice?.dispose();
    },
  };
}
