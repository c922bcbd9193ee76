import { promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src-main/server/serve.js';
import { WS_PROTOCOL, WS_SECRET_PREFIX } from '../../src-main/server/ws-protocol.js';
import { browserSkipReason, launchBrowser } from './helpers/browser.js';
import { heading } from './helpers/flows.js';
import { buildRenderer } from './helpers/wizard-server.js';

const skip = browserSkipReason();

/**
 * Issue 8's attack, in a real browser: the technician signs in to `serve`; another web server on this computer
 * (another user's, on another port) is visited by the same browser. Cookies ignore ports, so it receives the
 * session cookie; it then forges Origin and Host and drives the API from a plain client. It must get nowhere.
 */
describe.skipIf(skip !== null)('serve session against a second local web server', () => {
  let base: string;
  let browser: Browser;
  let srv: RunningServer;
  let port: number;
  let evil: http.Server;
  let evilPort: number;
  const received: { cookie?: string; storage?: string | null }[] = [];

  beforeAll(async () => {
    const { rendererDir, bridgeFile } = await buildRenderer();
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-session-'));
    srv = await startServer({ rendererDir, bridgeFile, stateDir: path.join(base, 'state'), control: true });
    port = Number(new URL(srv.url).port);
    // The other user's server: records what the browser sends and what its page can read.
    evil = http.createServer((req, res) => {
      if (req.url?.startsWith('/report')) {
        const u = new URL(req.url, 'http://x');
        received.push({ storage: u.searchParams.get('storage') });
        res.end();
        return;
      }
      received.push({ cookie: req.headers.cookie ?? '' });
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>other</title><p>another local page</p>');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    evilPort = (evil.address() as { port: number }).port;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    await new Promise<void>((r) => (evil ? evil.close(() => r()) : r()));
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('the browser leaks the cookie to the other port, which still cannot open the API; the wizard works', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(srv.url);
    await heading(page, 'What do you want to do?');
    expect(page.url()).toBe(`http://127.0.0.1:${port}/`); // token and secret gone from the address bar
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === `erw_session_${port}`)!;
    expect(session.httpOnly).toBe(true);

    // The same browser visits the other local server: the cookie goes along (cookies ignore ports).
    const other = await context.newPage();
    await other.goto(`http://127.0.0.1:${evilPort}/`);
    const leaked = received.find((r) => r.cookie !== undefined)!.cookie!;
    expect(leaked).toContain(`erw_session_${port}=${session.value}`);
    // Its page cannot read the wizard's sessionStorage (another origin) …
    const storage = await other.evaluate(() => sessionStorage.getItem('edge-recovery-session'));
    expect(storage).toBeNull();

    // … and the cookie with forged Origin and Host opens no WebSocket, so no restore.start with its profile.
    const attempt = (protocols: string[]): Promise<string> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocols, {
          headers: { Origin: `http://127.0.0.1:${port}`, Host: `127.0.0.1:${port}`, Cookie: leaked },
        });
        ws.once('open', () => {
          ws.send(
            JSON.stringify({
              id: 1,
              name: 'restore.start',
              input: { backup: '/tmp/x', profileRef: path.join(base, 'evil.json') },
            }),
          );
          ws.once('message', (d) => {
            ws.close();
            resolve(`opened: ${d.toString()}`);
          });
        });
        ws.once('unexpected-response', (_q, r) => resolve(`HTTP ${r.statusCode}`));
        ws.once('error', (e) => resolve(`error ${e.message}`));
      });
    expect(await attempt([])).toBe('HTTP 403');
    expect(await attempt([WS_PROTOCOL])).toBe('HTTP 401');
    expect(await attempt([WS_PROTOCOL, WS_SECRET_PREFIX + 'A'.repeat(43)])).toBe('HTTP 401');

    // The wizard tab itself keeps working, also after a reload (the secret lives in its sessionStorage).
    await page.reload();
    await heading(page, 'What do you want to do?');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a closed tab is signed out; serve --new-link lets the technician back in with a fresh link', async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    const link1 = srv.newLink();
    await first.goto(`http://127.0.0.1:${port}${link1.path}`);
    await heading(first, 'What do you want to do?');
    await first.close(); // the tab is gone, and with it the page secret
    const again = await context.newPage();
    await again.goto(`http://127.0.0.1:${port}/`); // the cookie alone: the page loads but is not signed in
    await again
      .getByText(/not signed in/)
      .first()
      .waitFor({ timeout: 30_000 });
    const reuse = await again.goto(`http://127.0.0.1:${port}${link1.path}`);
    expect(reuse?.status()).toBe(401);
    const link2 = srv.newLink();
    await again.goto(`http://127.0.0.1:${port}${link2.path}`);
    await heading(again, 'What do you want to do?');
    await context.close();
  });
});
