import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceClient } from '../../src-main/engine/appliance/client.js';
import { ApiSchema, CredentialResourceSchema } from '../../src-main/engine/profiles/schema.js';
import { rejection } from '../helpers/rejection.js';

/**
 * A product API (or whatever answers on its port) that misbehaves. The profile rules allow only a loopback
 * `baseUrl` because the technician's secrets are sent there; the client must not let an answer undo that or
 * pass a broken answer off as a good one:
 * - a redirect (307/308 keep the method and the body) took the secret to whatever address it named;
 * - an answer whose body never finished (or was cut by the timeout) was read as an empty, successful answer, so
 *   a product that hangs after its headers was "healthy" and an update it never confirmed was "accepted";
 * - an answer was read whole into memory, however large.
 * The servers never finish what they withhold, so the outcome does not depend on how fast the machine is.
 */
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function listen(h: () => Handler): Promise<{ server: Server; port: number; open: Set<ServerResponse> }> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => h()(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0, open };
}

const resource = CredentialResourceSchema.parse({
  id: 'egress',
  title: 'Egress endpoints',
  path: '/api/v1/egress',
  nameField: 'Id',
  fieldSets: [{ identity: 'Username', secret: 'Password' }],
  statusField: 'Status',
  statusNeedsReentry: ['NeedsCredentials'],
});

const SECRET = 'Hunter2-OnlyForTheProduct';
const json = (res: ServerResponse, v: unknown, status = 200): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(v));
};

describe('ApplianceClient against a hostile or broken product API', () => {
  let product: Awaited<ReturnType<typeof listen>>;
  let elsewhere: Awaited<ReturnType<typeof listen>>;
  let handler: Handler = () => undefined;
  const received: string[] = [];

  beforeAll(async () => {
    product = await listen(() => handler);
    // Stands in for an address off this machine: it must never see a secret.
    elsewhere = await listen(() => (req, res, body) => {
      received.push(`${req.method} ${req.url} ${body}`);
      json(res, {});
    });
  });
  afterEach(() => {
    for (const r of product.open) r.destroy();
  });
  afterAll(async () => {
    for (const s of [product, elsewhere]) {
      s.server.closeAllConnections();
      await new Promise<void>((r) => s.server.close(() => r()));
    }
  });

  const client = (timeoutMs = 5000) =>
    new ApplianceClient(
      ApiSchema.parse({ baseUrl: `http://127.0.0.1:${product.port}`, versionEndpoint: '/v', timeoutMs }),
    );

  const entry = { Id: 'ToAdh', Username: 'u', Password: '', Status: 'NeedsCredentials' };

  it('does not follow a redirect with the secret (a 307 keeps the method and the body)', async () => {
    handler = (req, res) => {
      if (req.method === 'GET' && req.url === '/api/v1/egress') return json(res, [entry]);
      if (req.method === 'GET') return json(res, entry);
      res.writeHead(307, { location: `http://127.0.0.1:${elsewhere.port}/collect` });
      res.end();
    };
    const c = client();
    const [e] = await c.credentialEntries(resource);
    const err = await rejection(c.applyCredentials(resource, e!, { Password: SECRET }));
    expect(err.code).toBe('API_ERROR');
    expect(err.message).toMatch(/redirect/i);
    expect(received.join('\n')).not.toContain(SECRET);
    expect(received).toEqual([]);
  });

  it('an API that redirects is not called healthy', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/health` });
      res.end();
    };
    const h = await client().health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/redirect/i);
  });

  it('an answer whose body never finishes is not a healthy answer', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"Status":'); // … and nothing more, ever
    };
    const h = await client(300).health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/did not finish its answer/);
  });

  it('an update the product never confirms (its check answer hangs) is not reported as accepted', async () => {
    let puts = 0;
    handler = (req, res) => {
      if (req.method === 'PUT') {
        puts++;
        return json(res, {});
      }
      if (req.url === '/api/v1/egress') return json(res, [entry]);
      if (puts === 0) return json(res, entry);
      // The check after the update: headers, then silence (the entry still says NeedsCredentials, never sent).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"Id":"ToAdh","Status":');
    };
    const c = client(300);
    const [e] = await c.credentialEntries(resource);
    const err = await rejection(c.applyCredentials(resource, e!, { Password: SECRET }));
    expect(puts).toBe(1);
    expect(err.code).toBe('APPLIANCE_UNREACHABLE');
    expect(err.message).not.toContain(SECRET);
  });

  it('stops reading an answer far larger than any API answer (bounded memory) and says so', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // 20 MiB of a JSON string, then silence: the client must stop well before, not wait for the timeout.
      res.write('["');
      const chunk = 'x'.repeat(1024 * 1024);
      for (let i = 0; i < 20; i++) res.write(chunk);
    };
    const h = await client(60_000).health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/more than 16 MiB/);
  });

  it("a profile's API timeout longer than a timer holds is refused (Node set it to 1 ms: every call 'did not answer')", async () => {
    const long = ApiSchema.safeParse({
      baseUrl: 'http://127.0.0.1:1',
      versionEndpoint: '/v',
      timeoutMs: 3_000_000_000,
    });
    expect(long.success).toBe(false);
    expect(
      ApiSchema.safeParse({ baseUrl: 'http://127.0.0.1:1', versionEndpoint: '/v', timeoutMs: 600_000 }).success,
    ).toBe(true);
  });
});
