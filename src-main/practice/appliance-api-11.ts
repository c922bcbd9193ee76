import type { IncomingMessage, ServerResponse } from 'node:http';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/util/atomic-fs.js';
import { encryptSecret } from './appliance-crypto.js';
import {
  mergePut,
  practiceEgressEndpoints,
  publicView,
  type ApplianceFolders,
  type EgressEntry,
} from './appliance-config.js';

/**
 * The stand-in's EDS 1.1 API (AVEVA Edge-Data-Store-Docs, see the README's "Edge Data Store facts"):
 *   GET  /api/v1/Diagnostics/ProductInformation  {"Product Name", "Product Version", …}
 *   /api/v1/configuration/storage/egressendpoints[/{Id}]      GET, PUT, PATCH (partial update per Id)
 *   /api/v1/configuration/System/HealthEndpoints[/{Id}]       GET, PUT, PATCH
 *   /api/v1/configuration/system/components                   GET (ComponentId, ComponentType)
 *   /api/v1/configuration/<ComponentId>/DataSource            GET, PUT of the whole object (no PATCH)
 *   PUT  /api/v1/configuration                                replaces the WHOLE configuration (a trap here:
 *                                                              it empties what the body leaves out)
 * Routes are case-insensitive like the product's. Secrets are encrypted with this machine's key and shown masked.
 */
export const FILES_11 = {
  egress: 'Storage_EgressEndpoints.json',
  health: 'System_HealthEndpoints.json',
  components: 'System_Components.json',
  dataSource: (componentId: string) => `${componentId}_DataSource.json`,
} as const;

type Send = (res: ServerResponse, status: number, body: unknown) => void;

export interface State11 {
  folders: ApplianceFolders;
  key: Buffer;
  version: string;
}

async function readJson<T>(file: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw e;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

async function writeIfMissing(file: string, value: unknown): Promise<void> {
  try {
    await fsp.access(file);
  } catch {
    await writeJson(file, value);
  }
}

/** A fresh EDS 1.1 install's configuration with one of each thing that holds a secret (plus an OPC UA adapter). */
export async function ensureDefaults11(f: ApplianceFolders, key: Buffer): Promise<void> {
  await fsp.mkdir(f.configuration, { recursive: true });
  await fsp.mkdir(f.storage, { recursive: true });
  const c = (n: string) => path.join(f.configuration, n);
  await writeIfMissing(c(FILES_11.egress), practiceEgressEndpoints(key));
  await writeIfMissing(c(FILES_11.health), [
    {
      Id: 'HealthToPi',
      Endpoint: 'https://pi-server.plant.local/piwebapi/omf/',
      ClientId: null,
      ClientSecret: null,
      Username: 'plant\\edge-health',
      Password: encryptSecret(key, 'pi-health-password'),
      ValidateEndpointCertificate: false,
    },
  ]);
  await writeIfMissing(c(FILES_11.components), [
    { ComponentId: 'Storage', ComponentType: 'EDS.Component' },
    { ComponentId: 'OpcUa1', ComponentType: 'OpcUa' },
  ]);
  await writeIfMissing(c(FILES_11.dataSource('OpcUa1')), {
    EndpointUrl: 'opc.tcp://plc-01.plant.local:4840/',
    UseSecureConnection: true,
    UserName: 'opc-reader',
    Password: encryptSecret(key, 'opc-practice-password'),
    RootNodeIds: null,
    IncomingTimestamp: 'Source',
    StreamIdPrefix: 'OpcUa1.',
  });
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 1024 * 1024) throw new Error('body too large');
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A collection with entries by Id: GET list, GET/PUT/PATCH one. */
async function collection(
  s: State11,
  file: string,
  what: string,
  rest: string,
  m: string,
  req: IncomingMessage,
  res: ServerResponse,
  send: Send,
): Promise<void> {
  const entries = await readJson<EgressEntry[]>(file, []);
  if (rest === '') {
    if (m === 'GET')
      return send(
        res,
        200,
        entries.map((e) => publicView(e, s.key)),
      );
    return send(res, 405, { Message: `${m} on all ${what} is not supported by the practice appliance` });
  }
  const id = decodeURIComponent(rest);
  const i = entries.findIndex((e) => e.Id.toLowerCase() === id.toLowerCase());
  if (i < 0) return send(res, 404, { Message: `No ${what} with Id "${id}"` });
  if (m === 'GET') return send(res, 200, publicView(entries[i]!, s.key));
  if (m !== 'PUT' && m !== 'PATCH') return send(res, 405, { Message: `${m} is not allowed here` });
  const b = await body(req);
  if (!isObject(b)) return send(res, 400, { Message: `The body must be one ${what} object` });
  if (b.Id !== undefined && String(b.Id).toLowerCase() !== id.toLowerCase()) {
    return send(res, 400, { Message: 'The Id in the body does not match the URL' });
  }
  if (m === 'PUT') {
    // PUT replaces the entry: what the body leaves out is gone (secrets sent masked stay as they were).
    const kept: EgressEntry = { Id: entries[i]!.Id };
    for (const k of ['ClientSecret', 'Password']) if (b[k] === '********') kept[k] = entries[i]![k];
    entries[i] = mergePut(kept, b, s.key);
  } else entries[i] = mergePut(entries[i]!, b, s.key);
  await writeJson(file, entries);
  return send(res, 200, publicView(entries[i]!, s.key));
}

/** Answers a 1.1 route; false when the path is not one of them. `p` is lower-case, without a trailing slash. */
export async function route11(
  s: State11,
  req: IncomingMessage,
  res: ServerResponse,
  m: string,
  p: string,
  send: Send,
): Promise<boolean> {
  const c = (n: string) => path.join(s.folders.configuration, n);
  if (m === 'GET' && p === '/api/v1/diagnostics/productinformation') {
    send(res, 200, {
      'Product Name': 'Edge Data Store',
      'Product Version': s.version,
      'Adapter Framework Version': '1.6.0.24',
      'Runtime Version': '.NET 6.0.9',
      'Operating System': 'Linux (practice appliance)',
    });
    return true;
  }
  const EGRESS = '/api/v1/configuration/storage/egressendpoints';
  const HEALTH = '/api/v1/configuration/system/healthendpoints';
  for (const [base, file, what] of [
    [EGRESS, FILES_11.egress, 'egress endpoint'],
    [HEALTH, FILES_11.health, 'health endpoint'],
  ] as const) {
    if (p === base || p.startsWith(`${base}/`)) {
      await collection(s, c(file), what, p.slice(base.length + 1), m, req, res, send);
      return true;
    }
  }
  if (p === '/api/v1/configuration/system/components' && m === 'GET') {
    send(res, 200, await readJson(c(FILES_11.components), []));
    return true;
  }
  if (p === '/api/v1/configuration' && m === 'PUT') {
    // The whole configuration is replaced: everything the body does not carry is gone. Never what a restore wants.
    const b = await body(req);
    const all = isObject(b) ? b : {};
    const storage = isObject(all.Storage) ? all.Storage : {};
    const system = isObject(all.System) ? all.System : {};
    await writeJson(c(FILES_11.egress), Array.isArray(storage.EgressEndpoints) ? storage.EgressEndpoints : []);
    await writeJson(c(FILES_11.health), Array.isArray(system.HealthEndpoints) ? system.HealthEndpoints : []);
    send(res, 200, {});
    return true;
  }
  const ds = /^\/api\/v1\/configuration\/([^/]+)\/datasource$/.exec(p);
  if (ds) {
    const components = await readJson<{ ComponentId: string; ComponentType: string }[]>(c(FILES_11.components), []);
    const comp = components.find((x) => x.ComponentId.toLowerCase() === decodeURIComponent(ds[1]!).toLowerCase());
    if (!comp || comp.ComponentType !== 'OpcUa') {
      send(res, 404, { Message: `No OPC UA component "${ds[1]}"` });
      return true;
    }
    const file = c(FILES_11.dataSource(comp.ComponentId));
    const cur = await readJson<Record<string, unknown> | null>(file, null);
    if (m === 'GET') {
      if (cur === null) send(res, 404, { Message: 'No data source configured' });
      else send(res, 200, publicView({ ...cur, Id: comp.ComponentId }, s.key));
      return true;
    }
    if (m === 'PUT') {
      const b = await body(req);
      if (!isObject(b)) {
        send(res, 400, { Message: 'The body must be the data source object' });
        return true;
      }
      // PUT overwrites the data source: a field left out is gone; a masked password keeps the stored one.
      const kept: EgressEntry = { Id: comp.ComponentId };
      if (b.Password === '********' && cur) kept.Password = cur.Password;
      const next = mergePut(kept, b, s.key);
      delete (next as Record<string, unknown>).Id;
      await writeJson(file, next);
      send(res, 200, publicView({ ...next, Id: comp.ComponentId }, s.key));
      return true;
    }
    send(res, 405, { Message: `${m} is not allowed on a data source (use PUT with the whole object)` });
    return true;
  }
  return false;
}
