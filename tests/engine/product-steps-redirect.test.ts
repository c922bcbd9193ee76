import { createServer, type Server } from 'node:http';
import { promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emptyProductState,
  removeWork,
  runProductStep,
  type ProductHost,
} from '../../src-main/engine/runbook/product/product-steps.js';
import { productHost, stepsProfile } from '../helpers/product-host.js';
import { rejection } from '../helpers/rejection.js';

/**
 * A product step's http action uploads the product's own backup (EVC-net Edge: `upload: {artifact:…}`) to the
 * profile's API, which the profile rules hold to this machine (loopback) because what is sent there is private.
 * A redirect answer (307/308 keep the method and the body) sent the upload to whatever address it named.
 */
let dir: string;
let product: Server;
let elsewhere: Server;
let productPort = 0;
let elsewherePort = 0;
const received: string[] = [];
const hosts: ProductHost[] = [];

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-steps-redirect-'));
  product = createServer((req, res) => {
    req.resume();
    res.writeHead(307, { location: `http://127.0.0.1:${elsewherePort}/collect` });
    res.end();
  });
  elsewhere = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  productPort = await listen(product);
  elsewherePort = await listen(elsewhere);
});
afterAll(async () => {
  for (const s of [product, elsewhere]) await new Promise<void>((r) => s.close(() => r()));
  for (const h of hosts) await removeWork(h);
  await fsp.rm(dir, { recursive: true, force: true });
});

describe("a product step's http action answered with a redirect", () => {
  it('does not send the upload to the address a redirect names, and says why the step failed', async () => {
    // In the step's work folder (an upload comes from there only).
    const work = await fsp.mkdtemp(path.join(dir, 'work-'));
    await fsp.writeFile(path.join(work, 'product-backup.bin'), 'PRIVATE-PRODUCT-BACKUP-BYTES');
    const profile = stepsProfile(
      [
        {
          id: 'upload',
          title: 'Upload the backup',
          explain: 'Sends the product its backup.',
          at: 'restore.import',
          kind: 'http',
          method: 'POST',
          path: '/api/v1/backups',
          upload: '{work}/product-backup.bin',
        },
      ],
      { api: { baseUrl: `http://127.0.0.1:${productPort}`, versionEndpoint: '/v' } },
    );
    const h = productHost(profile, { state: { ...emptyProductState(), work } });
    hosts.push(h);
    const e = await rejection(
      runProductStep(h, profile.steps[0]!, { log: () => undefined, progress: () => undefined }),
    );
    expect(e.code).toBe('STEP_FAILED');
    expect(e.message).toMatch(/redirect/i);
    expect(received).toEqual([]);
  });
});

describe("a product step's http action whose answer never finishes", () => {
  it('counts it as a failed try and tries again (it ended the step with a bare abort error, no retry)', async () => {
    let calls = 0;
    const stalling = createServer((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (calls === 1)
        res.write('{"ok":'); // … and nothing more, ever
      else res.end('{"ok":true}');
    });
    const port = await listen(stalling);
    try {
      const profile = stepsProfile(
        [
          {
            id: 'ready',
            title: 'Wait until ready',
            explain: 'Asks the product whether it is ready.',
            at: 'restore.after-start',
            kind: 'http',
            path: '/ready',
            expect: { pointer: '/ok', equals: true },
            retries: 1,
            retryDelaySeconds: 0,
          },
        ],
        { api: { baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v', timeoutMs: 1000 } },
      );
      const h = productHost(profile);
      hosts.push(h);
      const lines: string[] = [];
      const done = await runProductStep(h, profile.steps[0]!, { log: (m) => lines.push(m), progress: () => undefined });
      expect(calls).toBe(2);
      expect(done).toContain('after 1 retr');
      expect(lines.join('\n')).toMatch(/did not finish/);
    } finally {
      stalling.closeAllConnections();
      await new Promise<void>((r) => stalling.close(() => r()));
    }
  });
});
