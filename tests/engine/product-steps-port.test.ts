import { createServer, type Server } from 'node:http';
import { promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applianceClientFor } from '../../src-main/engine/appliance/client.js';
import { removeWork, runProductStep, type ProductHost } from '../../src-main/engine/runbook/product/product-steps.js';
import { productHost, stepsProfile } from '../helpers/product-host.js';

/**
 * EDS keeps its API port in appsettings.json beside its binaries (the profile's `api.portFile`): a new box may
 * listen on another port than the profile's `baseUrl` names. The credentials step reads it (applianceClientFor);
 * the http product steps went to `baseUrl`'s port, so on such a box they talked to another port (nothing, or
 * another program) than the one the credentials went to.
 */
let dir: string;
const servers: Server[] = [];
const hits: Record<string, string[]> = { product: [], other: [] };
const hosts: ProductHost[] = [];

async function server(name: string): Promise<number> {
  const s = createServer((req, res) => {
    req.resume();
    hits[name]!.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  servers.push(s);
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-steps-port-'));
});
afterAll(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  for (const h of hosts) await removeWork(h);
  await fsp.rm(dir, { recursive: true, force: true });
});

describe("a product step's http action on a box whose product listens on another port than baseUrl's", () => {
  it('goes to the port of appsettings.json, where the credentials go', async () => {
    const productPort = await server('product');
    const otherPort = await server('other');
    const settings = path.join(dir, 'appsettings.json');
    await fsp.writeFile(settings, JSON.stringify({ Port: productPort }));
    const profile = stepsProfile(
      [
        {
          id: 'ping',
          title: 'Ask the product',
          explain: 'Asks the product whether it is ready.',
          at: 'restore.import',
          kind: 'http',
          method: 'GET',
          path: '/api/v1/ping',
        },
      ],
      {
        api: {
          baseUrl: `http://127.0.0.1:${otherPort}`,
          versionEndpoint: '/v',
          portFile: { path: settings, pointer: '/Port' },
        },
      },
    );
    const h = productHost(profile);
    hosts.push(h);
    await runProductStep(h, profile.steps[0]!, { log: () => undefined, progress: () => undefined });
    expect(hits).toEqual({ product: ['GET /api/v1/ping'], other: [] });
    // The credentials' client reaches the same port.
    await applianceClientFor(profile)!
      .productVersion()
      .catch(() => undefined);
    expect(hits.product).toEqual(['GET /api/v1/ping', 'GET /v']);
    expect(hits.other).toEqual([]);
  });
});
