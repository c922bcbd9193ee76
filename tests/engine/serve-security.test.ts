import { promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { controlSocketPath, requestNewLink } from '../../src-main/server/control.js';
import { startServer, type RunningServer } from '../../src-main/server/serve.js';
import { WS_PROTOCOL, WS_SECRET_PREFIX } from '../../src-main/server/ws-protocol.js';
import { expectGone } from '../helpers/processes.js';

/** Signs in with a one-time token: the session cookie and the page secret from the redirect's #fragment. */
async function signIn(at: number | string, token: string, host?: string): Promise<{ cookie: string; secret: string }> {
  const r = await get(at, `/?token=${token}`, host ? { Host: host } : {});
  expect(r.status).toBe(303);
  const secret = /^\/#s=([A-Za-z0-9_-]+)$/.exec(String(r.headers.location))?.[1];
  expect(secret).toBeDefined();
  return { cookie: String(r.headers['set-cookie']).split(';')[0]!, secret: secret! };
}

/** Plain http.request: fetch() would not let us set Host or Origin freely. `at`: a port or a Unix socket path. */
function get(
  at: number | string,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const where =
    typeof at === 'number'
      ? { host: '127.0.0.1', port: at, headers: { Host: `127.0.0.1:${at}`, ...headers } }
      : { socketPath: at, headers: { Host: 'localhost:8080', ...headers } };
  return new Promise((resolve, reject) => {
    const req = http.request({ ...where, path: p }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket to the server; `secret` is offered the way the page does (subprotocol). */
function openWs(at: number | string, headers: Record<string, string>, secret?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const url = typeof at === 'number' ? `ws://127.0.0.1:${at}/ws` : `ws+unix://${at}:/ws`;
    const protocols = secret === undefined ? [] : [WS_PROTOCOL, WS_SECRET_PREFIX + secret];
    const ws = new WebSocket(url, protocols, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function call(
  ws: WebSocket,
  id: number,
  name: string,
  input: unknown,
): Promise<{ id: number; envelope: { ok: boolean; value?: unknown; error?: { code: string; message: string } } }> {
  return new Promise((resolve) => {
    const onMsg = (data: WebSocket.RawData): void => {
      const m = JSON.parse(data.toString()) as { id?: number };
      if (m.id === id) {
        ws.off('message', onMsg);
        resolve(m as never);
      }
    };
    ws.on('message', onMsg);
    ws.send(JSON.stringify({ id, name, input }));
  });
}

let dir: string;
let srv: RunningServer;
let port: number;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-test-'));
  const renderer = path.join(dir, 'renderer');
  await fsp.mkdir(renderer);
  await fsp.writeFile(
    path.join(renderer, 'index.html'),
    '<!doctype html><html><head><script type="module" src="./app.js"></script></head><body></body></html>',
  );
  await fsp.writeFile(path.join(renderer, 'app.js'), 'console.log("app")');
  await fsp.writeFile(path.join(renderer, 'bridge.js'), '/* bridge */');
  await fsp.writeFile(path.join(dir, 'secret.txt'), 'TOP-SECRET-CONTENT');
  srv = await startServer({ rendererDir: renderer, stateDir: path.join(dir, 'state') });
  port = Number(new URL(srv.url).port);
});

afterAll(async () => {
  await srv?.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('edge-recovery serve', () => {
  it('binds to loopback and prints a URL with a token', () => {
    expect(srv.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[A-Za-z0-9_-]{40,}$`));
  });

  it('refuses a page load without a token or session (401)', async () => {
    expect((await get(port, '/')).status).toBe(401);
    expect((await get(port, '/app.js')).status).toBe(401);
  });

  it('refuses a foreign Origin and a rebinding Host (403) even with the right token, without spending it', async () => {
    expect((await get(port, `/?token=${srv.token}`, { Origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(port, `/?token=${srv.token}`, { Host: `evil.example:${port}` })).status).toBe(403);
    expect((await get(port, `/?token=${srv.token}`, { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await get(port, '/?token=wrong')).status).toBe(401);
  });

  describe('with a session', () => {
    let cookie = '';
    let secret = '';

    beforeAll(async () => {
      const r = await get(port, `/?token=${srv.token}`, { Host: `localhost:${port}` });
      expect(r.status).toBe(303);
      const set = String(r.headers['set-cookie']);
      expect(set).toMatch(/HttpOnly/);
      expect(set).toMatch(/SameSite=Strict/);
      cookie = set.split(';')[0]!;
      // The page's secret is in the fragment only: never in a cookie, never in what a page load returns.
      secret = /^\/#s=([A-Za-z0-9_-]{40,})$/.exec(String(r.headers.location))![1]!;
      expect(set).not.toContain(secret);
    });

    it('spends the token on first use (401 on reuse)', async () => {
      expect((await get(port, `/?token=${srv.token}`)).status).toBe(401);
    });

    it('serves the renderer with the bridge injected before the app, under a strict CSP', async () => {
      const r = await get(port, '/', { Cookie: cookie });
      expect(r.status).toBe(200);
      expect(r.body.indexOf('<script src="/bridge.js">')).toBeGreaterThan(-1);
      expect(r.body.indexOf('/bridge.js')).toBeLessThan(r.body.indexOf('./app.js'));
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      // WebSockets to this server only, not to any ws:/wss: address.
      expect(r.headers['content-security-policy']).toMatch(
        new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${port};`),
      );
      expect(r.headers['content-security-policy']).not.toMatch(/ws: |wss:|ws:;/);
      expect(r.body).not.toContain(secret);
      expect((await get(port, '/bridge.js', { Cookie: cookie })).body).toBe('/* bridge */');
      expect((await get(port, '/app.js', { Cookie: cookie })).status).toBe(200);
    });

    it('does not serve files outside the renderer folder', async () => {
      const r = await get(port, '/..%2fsecret.txt', { Cookie: cookie });
      expect(r.status).not.toBe(200);
      expect(r.body).not.toContain('TOP-SECRET-CONTENT');
    });

    it('rejects WebSocket upgrades without a session, from a foreign origin or a wrong Host', async () => {
      const origin = `http://127.0.0.1:${port}`;
      await expect(openWs(port, { Origin: origin }, secret)).rejects.toThrow('401');
      await expect(openWs(port, { Origin: 'http://evil.example', Cookie: cookie }, secret)).rejects.toThrow('403');
      await expect(openWs(port, { Origin: 'http://127.0.0.1:1', Cookie: cookie }, secret)).rejects.toThrow('403');
      await expect(openWs(port, { Cookie: cookie }, secret)).rejects.toThrow('403');
      await expect(
        openWs(port, { Origin: origin, Cookie: cookie, Host: `rebind.example:${port}` }, secret),
      ).rejects.toThrow('403');
    });

    it('opens no WebSocket on the cookie alone: the page must present its secret (issue 8: cookies ignore ports)', async () => {
      const origin = `http://127.0.0.1:${port}`;
      // What another local web server receives from the browser: the cookie, and it can forge Origin and Host.
      await expect(openWs(port, { Origin: origin, Cookie: cookie })).rejects.toThrow('403');
      await expect(openWs(port, { Origin: origin, Cookie: cookie }, 'guessed-' + 'x'.repeat(35))).rejects.toThrow(
        '401',
      );
      await expect(openWs(port, { Origin: origin, Cookie: cookie }, secret.slice(0, -1) + '_')).rejects.toThrow('401');
      // The secret without the cookie of its session is no good either.
      await expect(openWs(port, { Origin: origin }, secret)).rejects.toThrow('401');
      const ws = await openWs(port, { Origin: origin, Cookie: cookie }, secret);
      expect(ws.protocol).toBe(WS_PROTOCOL); // the secret is never echoed back
      ws.close();
    });

    it('answers app.info and profiles.list over the socket, and BAD_INPUT for a bad input', async () => {
      const ws = await openWs(port, { Origin: `http://127.0.0.1:${port}`, Cookie: cookie }, secret);
      try {
        const info = await call(ws, 1, 'app.info', {});
        expect(info.envelope.ok).toBe(true);
        expect(info.envelope.value).toMatchObject({ shell: 'browser', practice: false, platform: process.platform });
        const list = await call(ws, 2, 'profiles.list', {});
        expect((list.envelope.value as { id: string }[]).map((p) => p.id)).toEqual(
          expect.arrayContaining(['eds-linux', 'eds-windows']),
        );
        const bad = await call(ws, 3, 'profiles.plan', { profileRef: 'eds-linux', extra: 1 });
        expect(bad.envelope).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
        const unknown = await call(ws, 4, 'fs.readAnything', {});
        expect(unknown.envelope).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
        const notFound = await call(ws, 5, 'profiles.plan', { profileRef: 'no-such-profile' });
        expect(notFound.envelope).toMatchObject({ ok: false, error: { code: 'PROFILE_UNTRUSTED' } });
        expect(JSON.stringify(notFound)).not.toMatch(/\bat .*\.ts:\d+/);
      } finally {
        ws.close();
      }
    });
  });
});

describe('serve --practice shutdown', () => {
  it('stops both practice appliances and removes the sandbox when it closes', async () => {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-practice-'));
    const renderer = path.join(base, 'renderer');
    await fsp.mkdir(renderer);
    await fsp.writeFile(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>');
    await fsp.writeFile(path.join(renderer, 'bridge.js'), '');
    let s: RunningServer | undefined;
    try {
      s = await startServer({
        practice: true,
        rendererDir: renderer,
        stateDir: path.join(base, 'state'),
        practiceBaseDir: base,
      });
      const [sandbox] = (await fsp.readdir(base)).filter((n) => n.startsWith('edge-recovery-practice-'));
      const pids = await Promise.all(
        ['old', 'replacement'].map(async (m) =>
          Number(await fsp.readFile(path.join(base, sandbox!, m, 'run', 'appliance.pid'), 'utf8')),
        ),
      );
      for (const pid of pids) expect(() => process.kill(pid, 0)).not.toThrow();
      await s.close();
      for (const pid of pids) await expectGone(pid);
      expect(await fsp.readdir(base)).not.toContain(sandbox);
    } finally {
      await s?.close(); // a failed check above leaves no appliance running
      await fsp.rm(base, { recursive: true, force: true });
    }
  });
});

/** A tiny renderer folder for a server under test. */
async function fakeRenderer(base: string): Promise<string> {
  const renderer = path.join(base, 'renderer');
  await fsp.mkdir(renderer, { recursive: true });
  await fsp.writeFile(
    path.join(renderer, 'index.html'),
    '<!doctype html><title>t</title><script src="./a.js"></script>',
  );
  await fsp.writeFile(path.join(renderer, 'bridge.js'), '/* bridge */');
  return renderer;
}

describe('serve: profiles the page may name', () => {
  const isRoot = process.getuid?.() === 0;
  let base: string;
  let trustedDir: string;
  let s: RunningServer;
  let ws: WebSocket;
  let p: number;
  const marker = (): string => path.join(base, 'ran-as-root');

  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-profiles-'));
    // The machine's profiles folder: root-only all the way up (/var/lib is root's, 755, on the system's own filesystem).
    trustedDir = await fsp.mkdtemp('/var/lib/erw-serve-profiles-');
    await fsp.chmod(trustedDir, 0o755);
    const raw = JSON.parse(await fsp.readFile('src-main/engine/profiles/builtin/eds-linux.json', 'utf8'));
    raw.id = 'site-product';
    await fsp.writeFile(path.join(trustedDir, 'site.json'), JSON.stringify(raw), { mode: 0o644 });
    await fsp.writeFile(path.join(trustedDir, 'loose.json'), JSON.stringify({ ...raw, id: 'loose' }), { mode: 0o666 });
    await fsp.chmod(path.join(trustedDir, 'loose.json'), 0o666);
    // The attacker's profile in a user's folder: a `process` service whose command would run as root.
    const evil = { ...raw, id: 'evil' };
    evil.service = {
      manager: 'process',
      name: 'evil',
      command: ['/bin/sh', '-c', `touch ${marker()}`],
      pidFile: path.join(base, 'evil.pid'),
    };
    await fsp.writeFile(path.join(base, 'evil.json'), JSON.stringify(evil));
    s = await startServer({
      rendererDir: await fakeRenderer(base),
      stateDir: path.join(base, 'state'),
      profilesDir: trustedDir,
    });
    p = Number(new URL(s.url).port);
    const { cookie, secret } = await signIn(p, s.token);
    ws = await openWs(p, { Origin: `http://127.0.0.1:${p}`, Cookie: cookie }, secret);
  });
  afterAll(async () => {
    ws?.close();
    await s?.close();
    await fsp.rm(base, { recursive: true, force: true });
    await fsp.rm(trustedDir, { recursive: true, force: true });
  });

  it('refuses restore.start, backup.start and profiles.plan with a profile path in a user folder; its command never runs', async () => {
    const ref = path.join(base, 'evil.json');
    const backup = path.join(base, 'stick', 'EdgeRecovery', 'x', 'Backup_evil_20260101_0000Z');
    for (const [i, [name, input]] of (
      [
        ['restore.start', { backup, profileRef: ref, allowOtherDevice: true }],
        ['backup.start', { profileRef: ref, to: path.join(base, 'stick') }],
        ['profiles.plan', { profileRef: ref }],
        ['profiles.plan', { profileRef: `${trustedDir}/../..${ref}` }],
      ] as const
    ).entries()) {
      const r = await call(ws, 100 + i, name, input);
      expect(r.envelope).toMatchObject({ ok: false, error: { code: 'PROFILE_UNTRUSTED' } });
      expect(r.envelope.error!.message).toMatch(/The wizard does not use the profile/);
    }
    await new Promise((r) => setTimeout(r, 300));
    await expect(fsp.access(marker())).rejects.toThrow();
  });

  it.skipIf(!isRoot)('offers built-in profiles and root-only files of the profiles folder, nothing else', async () => {
    const list = await call(ws, 200, 'profiles.list', {});
    const refs = (list.envelope.value as { ref: string }[]).map((x) => x.ref);
    const { builtinProfileIds } = await import('../../src-main/engine/profiles/load.js');
    expect(refs).toEqual([...builtinProfileIds(), path.join(trustedDir, 'site.json')]);
    const plan = await call(ws, 201, 'profiles.plan', { profileRef: path.join(trustedDir, 'site.json') });
    expect(plan.envelope.ok).toBe(true);
    const loose = await call(ws, 202, 'profiles.plan', { profileRef: path.join(trustedDir, 'loose.json') });
    expect(loose.envelope).toMatchObject({ ok: false, error: { code: 'PROFILE_UNTRUSTED' } });
  });
});

describe('serve --socket: a root-only Unix socket for ssh -L', () => {
  let base: string;

  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-sock-'));
  });
  afterAll(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('serves the wizard and its WebSocket through the socket (0600 in a 0700 folder), signed in by the link', async () => {
    const sock = path.join(base, 'run', 'serve.sock');
    const s = await startServer({
      rendererDir: await fakeRenderer(base),
      stateDir: path.join(base, 'state'),
      socket: sock,
    });
    try {
      expect((await fsp.lstat(sock)).isSocket()).toBe(true);
      expect((await fsp.stat(sock)).mode & 0o777).toBe(0o600);
      expect((await fsp.stat(path.dirname(sock))).mode & 0o777).toBe(0o700);
      expect(s.url).toMatch(/^http:\/\/localhost\/\?token=/);
      // The browser's Host is the tunnel's local port, whatever it is; still only loopback names.
      expect((await get(sock, '/')).status).toBe(401);
      expect((await get(sock, `/?token=${s.token}`, { Host: `evil.example:8080` })).status).toBe(403);
      const { cookie, secret } = await signIn(sock, s.token, 'localhost:8080');
      const page = await get(sock, '/', { Cookie: cookie });
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toContain("connect-src 'self' ws://localhost:8080;");
      await expect(openWs(sock, { Origin: 'http://localhost:8080', Cookie: cookie })).rejects.toThrow('403');
      await expect(openWs(sock, { Origin: 'http://localhost:9999', Cookie: cookie }, secret)).rejects.toThrow('403');
      const ws = await openWs(
        sock,
        { Origin: 'http://localhost:8080', Cookie: cookie, Host: 'localhost:8080' },
        secret,
      );
      try {
        const info = await call(ws, 1, 'app.info', {});
        expect(info.envelope).toMatchObject({ ok: true, value: { shell: 'browser' } });
      } finally {
        ws.close();
      }
    } finally {
      await s.close();
    }
    await expect(fsp.lstat(sock)).rejects.toThrow(); // removed on close
  });

  it('refuses a path that is a file or a link, a folder others can enter, and a socket in use', async () => {
    const renderer = await fakeRenderer(base);
    const dir = path.join(base, 'private');
    await fsp.mkdir(dir, { mode: 0o700 });
    const file = path.join(dir, 'file.sock');
    await fsp.writeFile(file, 'keep me');
    const link = path.join(dir, 'link.sock');
    await fsp.symlink(path.join(base, 'elsewhere'), link);
    const start = (socket: string) => startServer({ rendererDir: renderer, stateDir: path.join(base, 'st'), socket });
    await expect(start(file)).rejects.toThrow(/exists and is not a socket \(a file\); it is left alone/);
    expect(await fsp.readFile(file, 'utf8')).toBe('keep me');
    await expect(start(link)).rejects.toThrow(/exists and is not a socket \(a link\)/);
    expect((await fsp.lstat(link)).isSymbolicLink()).toBe(true);
    const open = path.join(base, 'open');
    await fsp.mkdir(open, { mode: 0o755 });
    await fsp.chmod(open, 0o755);
    await expect(start(path.join(open, 's.sock'))).rejects.toThrow(/can be entered by others \(mode 755\)/);
    const first = await start(path.join(dir, 'one.sock'));
    try {
      await expect(start(path.join(dir, 'one.sock'))).rejects.toThrow(/Another server already answers/);
    } finally {
      await first.close();
    }
  });
});

describe('serve --new-link: a way back in after closing the tab', () => {
  it('gives a fresh one-time link through the root-only control socket; spent links stay spent', async () => {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-link-'));
    const stateDir = path.join(base, 'state');
    const s = await startServer({ rendererDir: await fakeRenderer(base), stateDir, control: true });
    try {
      expect(s.controlProblem).toBeNull();
      const sockPath = controlSocketPath(stateDir);
      expect((await fsp.stat(sockPath)).mode & 0o777).toBe(0o600);
      expect((await fsp.stat(path.dirname(sockPath))).mode & 0o777).toBe(0o700);
      const p = Number(new URL(s.url).port);
      await signIn(p, s.token);
      // The tab is closed: the link is spent and the browser forgot the secret.
      expect((await get(p, `/?token=${s.token}`)).status).toBe(401);
      const link = await requestNewLink(stateDir);
      expect(link.url).toBe(`http://127.0.0.1:${p}${link.path}`);
      const fresh = new URL(link.url!).searchParams.get('token')!;
      expect(fresh).not.toBe(s.token);
      const again = await signIn(p, fresh);
      const ws = await openWs(p, { Origin: `http://127.0.0.1:${p}`, Cookie: again.cookie }, again.secret);
      ws.close();
      expect((await get(p, `/?token=${fresh}`)).status).toBe(401);
      expect((await get(p, `/?token=${s.token}`)).status).toBe(401);
      // A newer link replaces an unused older one.
      const a = new URL((await requestNewLink(stateDir)).url!).searchParams.get('token')!;
      const b = new URL((await requestNewLink(stateDir)).url!).searchParams.get('token')!;
      expect((await get(p, `/?token=${a}`)).status).toBe(401);
      expect((await get(p, `/?token=${b}`)).status).toBe(303);
    } finally {
      await s.close();
    }
    await expect(requestNewLink(stateDir)).rejects.toThrow(/No running "edge-recovery serve" answers/);
    await fsp.rm(base, { recursive: true, force: true });
  });
});
