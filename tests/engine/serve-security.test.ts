import { promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src-main/server/serve.js';
import { expectGone } from '../helpers/processes.js';

/** Plain http.request: fetch() would not let us set Host or Origin freely. */
function get(
  port: number,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, headers: { Host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function openWs(port: number, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
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

    beforeAll(async () => {
      const r = await get(port, `/?token=${srv.token}`, { Host: `localhost:${port}` });
      expect(r.status).toBe(303);
      const set = String(r.headers['set-cookie']);
      expect(set).toMatch(/HttpOnly/);
      expect(set).toMatch(/SameSite=Strict/);
      cookie = set.split(';')[0]!;
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
      await expect(openWs(port, { Origin: origin })).rejects.toThrow('401');
      await expect(openWs(port, { Origin: 'http://evil.example', Cookie: cookie })).rejects.toThrow('403');
      await expect(openWs(port, { Cookie: cookie })).rejects.toThrow('403');
      await expect(openWs(port, { Origin: origin, Cookie: cookie, Host: `rebind.example:${port}` })).rejects.toThrow(
        '403',
      );
    });

    it('answers app.info and profiles.list over the socket, and BAD_INPUT for a bad input', async () => {
      const ws = await openWs(port, { Origin: `http://127.0.0.1:${port}`, Cookie: cookie });
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
        expect(notFound.envelope).toMatchObject({ ok: false, error: { code: 'PROFILE_NOT_FOUND' } });
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
    try {
      const s = await startServer({
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
      await fsp.rm(base, { recursive: true, force: true });
    }
  });
});
