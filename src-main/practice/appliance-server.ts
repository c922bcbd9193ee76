import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { promises as fsp } from 'node:fs';
import { route11 } from './appliance-api-11.js';
import { mergePut, publicView, readEgress, writeEgress, type ApplianceFolders } from './appliance-config.js';

export interface ApplianceState {
  folders: ApplianceFolders;
  key: Buffer;
  version: string;
  runningTransactions: number;
  /** Which Edge Data Store API it speaks: 1.0 (PeriodicEgressEndpoints) or 1.1 (EgressEndpoints, HealthEndpoints, DataSource). */
  api?: '1.0' | '1.1';
  /**
   * Method and path of every request (never a body), one JSON line each, in a file outside the product's
   * folders that survives restarts: tests check what a restore sent.
   */
  requestLog?: string;
}

const EGRESS = '/api/v1/configuration/storage/periodicegressendpoints';
const MAX_BODY = 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY) throw new Error('body too large');
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

async function folderExists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

// One small route table: the practice appliance answers only what the wizard uses.
async function route(s: ApplianceState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const p = url.pathname.replace(/\/+$/, '');
  const m = req.method ?? 'GET';
  if (s.requestLog !== undefined) {
    if (p === '/api/v1/practice/requests' && m === 'GET') {
      const text = await fsp.readFile(s.requestLog, 'utf8').catch(() => '');
      send(
        res,
        200,
        text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as unknown),
      );
      return;
    }
    await fsp.appendFile(s.requestLog, `${JSON.stringify({ method: m, path: p })}\n`);
  }
  if (s.api === '1.1') {
    if (await route11(s, req, res, m, p.toLowerCase(), send)) return;
    if (p.toLowerCase().startsWith('/api/v1/configuration/storage/periodicegressendpoints')) {
      send(res, 404, { Message: 'Not found (EDS 1.1 has egressendpoints)' });
      return;
    }
  }

  if (m === 'GET' && p === '/api/v1/diagnostics/productinformation') {
    send(res, 200, { 'Edge Data Store': s.version, Storage: s.version });
    return;
  }
  if (m === 'GET' && p === '/api/v1/diagnostics/health') {
    const ok = (await folderExists(s.folders.configuration)) && (await folderExists(s.folders.storage));
    send(res, ok ? 200 : 503, {
      Status: ok ? 'Healthy' : 'Unhealthy',
      Detail: ok ? '' : 'Configuration or Storage folder missing',
    });
    return;
  }
  if (m === 'GET' && p === '/api/v1/diagnostics/transactions') {
    send(res, 200, { Running: s.runningTransactions });
    return;
  }
  if (m === 'PUT' && p === '/api/v1/practice/transactions') {
    const body = (await readJson(req)) as { Running?: unknown };
    if (typeof body.Running !== 'number' || !Number.isInteger(body.Running) || body.Running < 0) {
      send(res, 400, { Message: 'Running must be a non-negative integer' });
      return;
    }
    s.runningTransactions = body.Running;
    send(res, 200, { Running: s.runningTransactions });
    return;
  }
  if (p === EGRESS && m === 'GET') {
    send(
      res,
      200,
      (await readEgress(s.folders)).map((e) => publicView(e, s.key)),
    );
    return;
  }
  if (p.startsWith(`${EGRESS}/`)) {
    const id = decodeURIComponent(p.slice(EGRESS.length + 1));
    const entries = await readEgress(s.folders);
    const i = entries.findIndex((e) => e.Id === id);
    if (i < 0) {
      send(res, 404, { Message: `No periodic egress endpoint with Id "${id}"` });
      return;
    }
    if (m === 'GET') {
      send(res, 200, publicView(entries[i]!, s.key));
      return;
    }
    if (m === 'PUT') {
      const body = await readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        send(res, 400, { Message: 'The body must be one endpoint object' });
        return;
      }
      const b = body as Record<string, unknown>;
      if (b.Id !== undefined && b.Id !== id) {
        send(res, 400, { Message: 'The Id in the body does not match the URL' });
        return;
      }
      entries[i] = mergePut(entries[i]!, b, s.key);
      await writeEgress(s.folders, entries);
      send(res, 200, publicView(entries[i]!, s.key));
      return;
    }
  }
  send(res, 404, { Message: `No route for ${m} ${p}` });
}

export function createApplianceServer(s: ApplianceState, log: (m: string) => void): Server {
  return createServer((req, res) => {
    route(s, req, res).catch((e: unknown) => {
      // Never echo a request body: it may hold a secret.
      log(`request ${req.method} ${req.url} failed: ${(e as Error).name}`);
      if (!res.headersSent) send(res, e instanceof SyntaxError ? 400 : 500, { Message: 'Request failed' });
      else res.end();
    });
  });
}
