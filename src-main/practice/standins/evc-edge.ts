import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { flags, serveUntilSignalled } from './common.js';

/**
 * EVC-net Edge (Last Mile Solutions) as far as its backups go, after edgedocs.evc-net.com/docs/backups: backups
 * exist from 1.24.5 on, per device id; none is made or restored while a chargepoint transaction runs (customers
 * must not be billed twice); manual backups carry a name; an automatic backup every 24 h (postponed while
 * transactions run); the 10 newest manual backups are kept and automatic ones are deleted after 6 months; a
 * replacement Edge has a new device id and restores another device's backup through "switch device".
 *
 * Last Mile Solutions publishes no REST API for this: the endpoint names below are ASSUMED (the Edge front-end
 * does these things through its own API). Folders:
 *   <root>/etc/evc-edge/device-id, <root>/etc/evc-edge/version
 *   <root>/var/lib/evc-edge/config.json            the Edge's configuration (chargepoints, charge cards, …)
 *   <root>/var/lib/evc-edge/transactions.json      running chargepoint transactions ([{chargepoint, endsAt?}])
 *   <root>/var/lib/evc-edge/backups/<device>/       backups (<id>.edgebackup) and index.json
 */
export const EVC_NAME_RULE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
export const KEEP_MANUAL = 10;
export const AUTOMATIC_MONTHS = 6;

export interface EdgeBackupEntry {
  id: string;
  name: string;
  type: 'manual' | 'automatic';
  deviceId: string;
  createdAt: string;
  size: number;
  sha256: string;
}

interface Transaction {
  chargepoint: string;
  connector?: number;
  startedAt?: string;
  /** When it ends (a driver unplugs); absent: it runs until someone stops it. */
  endsAt?: string;
}

export const edgePaths = (root: string) => ({
  deviceId: path.join(root, 'etc/evc-edge/device-id'),
  version: path.join(root, 'etc/evc-edge/version'),
  config: path.join(root, 'var/lib/evc-edge/config.json'),
  transactions: path.join(root, 'var/lib/evc-edge/transactions.json'),
  backups: (device: string) => path.join(root, 'var/lib/evc-edge/backups', device),
  log: path.join(root, 'var/log/evc-edge/edge.log'),
});

async function readJson<T>(file: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch {
    return fallback;
  }
}

async function writeJson(file: string, v: unknown): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, JSON.stringify(v, null, 2));
  await fsp.rename(tmp, file);
}

async function log(root: string, line: string): Promise<void> {
  const f = edgePaths(root).log;
  await fsp.mkdir(path.dirname(f), { recursive: true });
  await fsp.appendFile(f, `${new Date().toISOString()} ${line}\n`);
}

export async function activeTransactions(root: string, now = Date.now()): Promise<Transaction[]> {
  const all = await readJson<Transaction[]>(edgePaths(root).transactions, []);
  return all.filter((t) => t.endsAt === undefined || Date.parse(t.endsAt) > now);
}

async function deviceIdOf(root: string): Promise<string> {
  return (await fsp.readFile(edgePaths(root).deviceId, 'utf8')).trim();
}

export async function listBackups(root: string, device: string): Promise<EdgeBackupEntry[]> {
  const list = await readJson<EdgeBackupEntry[]>(path.join(edgePaths(root).backups(device), 'index.json'), []);
  return list.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/**
 * The Edge's retention: the 10 newest manual backups of a device stay; automatic ones older than 6 months go.
 * Returns what it deleted.
 */
export async function applyEdgeRetention(root: string, device: string, now = new Date()): Promise<string[]> {
  const dir = edgePaths(root).backups(device);
  const list = await listBackups(root, device);
  const cutoff = new Date(now);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - AUTOMATIC_MONTHS);
  const manual = list.filter((b) => b.type === 'manual');
  const drop = new Set<string>([
    ...manual.slice(KEEP_MANUAL).map((b) => b.id),
    ...list.filter((b) => b.type === 'automatic' && Date.parse(b.createdAt) < cutoff.getTime()).map((b) => b.id),
  ]);
  if (drop.size === 0) return [];
  for (const id of drop) await fsp.rm(path.join(dir, `${id}.edgebackup`), { force: true });
  await writeJson(
    path.join(dir, 'index.json'),
    list.filter((b) => !drop.has(b.id)),
  );
  const gone = list.filter((b) => drop.has(b.id)).map((b) => `${b.type} "${b.name}" (${b.createdAt})`);
  await log(root, `retention deleted ${gone.join(', ')}`);
  return gone;
}

/** Stores one backup file under a device and lists it. */
async function store(
  root: string,
  device: string,
  data: Buffer,
  e: Pick<EdgeBackupEntry, 'name' | 'type'> & { createdAt?: string },
): Promise<EdgeBackupEntry> {
  const dir = edgePaths(root).backups(device);
  await fsp.mkdir(dir, { recursive: true });
  const entry: EdgeBackupEntry = {
    id: `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
    name: e.name,
    type: e.type,
    deviceId: device,
    createdAt: e.createdAt ?? new Date().toISOString(),
    size: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
  };
  await fsp.writeFile(path.join(dir, `${entry.id}.edgebackup`), data);
  const list = await listBackups(root, device);
  await writeJson(path.join(dir, 'index.json'), [entry, ...list]);
  return entry;
}

/** A backup of the Edge's configuration, as the Edge writes it (gzip of JSON). */
export async function makeBackup(
  root: string,
  name: string,
  type: 'manual' | 'automatic',
  createdAt?: string,
  /** Seeding a history in tests and practice leaves retention to the Edge's next backup. */
  retention = true,
): Promise<EdgeBackupEntry> {
  const device = await deviceIdOf(root);
  const version = (await fsp.readFile(edgePaths(root).version, 'utf8')).trim();
  const config = await readJson<unknown>(edgePaths(root).config, {});
  const data = gzipSync(
    JSON.stringify({ format: 'evc-edge-backup/1', deviceId: device, version, name, createdAt, config }),
  );
  const entry = await store(root, device, data, { name, type, ...(createdAt ? { createdAt } : {}) });
  await log(root, `${type} backup "${name}" created (${entry.id})`);
  if (retention) await applyEdgeRetention(root, device);
  return entry;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

const BUSY =
  'Chargepoint transactions are running. Backups can only be made or restored when no transactions run, so customers will not be billed twice.';

async function handle(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://edge');
  const p = url.pathname;
  const device = await deviceIdOf(root);
  const version = (await fsp.readFile(edgePaths(root).version, 'utf8')).trim();
  let m: RegExpExecArray | null;
  if (req.method === 'GET' && p === '/api/v1/system') {
    const config = await readJson<{ chargepoints?: unknown[]; restoredFrom?: unknown }>(edgePaths(root).config, {});
    send(res, 200, {
      product: 'EVC-net Edge',
      version,
      deviceId: device,
      chargepoints: config.chargepoints?.length ?? 0,
      ...(config.restoredFrom ? { restoredFrom: config.restoredFrom } : {}),
    });
    return;
  }
  if (req.method === 'GET' && p === '/api/v1/transactions/active') {
    const t = await activeTransactions(root);
    send(res, 200, { active: t.length, transactions: t });
    return;
  }
  if (req.method === 'GET' && p === '/api/v1/backups') {
    send(res, 200, await listBackups(root, device));
    return;
  }
  if (req.method === 'POST' && p === '/api/v1/backups') {
    let name: unknown;
    try {
      name = (JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')) as { name?: unknown }).name;
    } catch {
      send(res, 400, { error: 'The body must be JSON: {"name": "<backup name>"}.' });
      return;
    }
    if (typeof name !== 'string' || !EVC_NAME_RULE.test(name)) {
      send(res, 400, { error: 'A backup name is 1 to 64 letters, digits, spaces, dots, dashes or underscores.' });
      return;
    }
    if ((await activeTransactions(root)).length > 0) {
      send(res, 409, { error: BUSY });
      return;
    }
    send(res, 201, await makeBackup(root, name, 'manual'));
    return;
  }
  if ((m = /^\/api\/v1\/devices\/([A-Za-z0-9._-]+)\/backups$/.exec(p))) {
    const dev = m[1]!;
    if (req.method === 'GET') {
      send(res, 200, await listBackups(root, dev));
      return;
    }
    if (req.method === 'POST') {
      // Switch device: a backup of another Edge (from EVC-net, or here from the stick) listed under that Edge's id.
      const data = await readBody(req);
      let meta: { format?: string; deviceId?: string; name?: string };
      try {
        meta = JSON.parse(gunzipSync(data).toString('utf8')) as typeof meta;
      } catch {
        send(res, 400, { error: 'This is not an EVC-net Edge backup.' });
        return;
      }
      if (meta.format !== 'evc-edge-backup/1' || meta.deviceId !== dev) {
        send(res, 400, { error: `This backup belongs to the device ${meta.deviceId ?? '?'}, not ${dev}.` });
        return;
      }
      const e = await store(root, dev, data, { name: meta.name ?? 'uploaded', type: 'manual' });
      await log(root, `backup "${e.name}" of device ${dev} uploaded (${e.id})`);
      send(res, 201, e);
      return;
    }
  }
  if ((m = /^\/api\/v1\/devices\/([A-Za-z0-9._-]+)\/backups\/([a-z0-9-]+)\/(download|restore)$/.exec(p))) {
    const [, dev, id, what] = m as unknown as [string, string, string, string];
    const entry = (await listBackups(root, dev)).find((b) => b.id === id);
    if (entry === undefined) {
      send(res, 404, { error: `No backup ${id} of the device ${dev}.` });
      return;
    }
    const data = await fsp.readFile(path.join(edgePaths(root).backups(dev), `${id}.edgebackup`));
    if (req.method === 'GET' && what === 'download') {
      res.statusCode = 200;
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-disposition', `attachment; filename="${id}.edgebackup"`);
      res.end(data);
      return;
    }
    if (req.method === 'POST' && what === 'restore') {
      if ((await activeTransactions(root)).length > 0) {
        send(res, 409, { error: BUSY });
        return;
      }
      const b = JSON.parse(gunzipSync(data).toString('utf8')) as { config: Record<string, unknown>; version: string };
      const restoredFrom = { deviceId: dev, backupId: id, name: entry.name, at: new Date().toISOString() };
      await writeJson(edgePaths(root).config, { ...b.config, restoredFrom });
      await log(root, `configuration restored from backup "${entry.name}" of device ${dev}`);
      send(res, 200, { restored: true, restoredFrom });
      return;
    }
  }
  send(res, 404, { error: 'not found' });
}

async function server(root: string, f: Map<string, string>): Promise<number> {
  const port = Number(f.get('port'));
  const autoMs = Number(f.get('auto-interval-seconds') ?? 86400) * 1000;
  const srv = createServer((req, res) => {
    handle(root, req, res).catch((e: unknown) => send(res, 500, { error: (e as Error).message }));
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  await log(root, `EVC-net Edge started, API on port ${port}`);
  await applyEdgeRetention(root, await deviceIdOf(root));
  // Every 24 h an automatic backup; while transactions run it is postponed (tried again each minute).
  const auto = async (): Promise<void> => {
    if ((await activeTransactions(root)).length > 0) {
      await log(root, 'automatic backup postponed: transactions are running');
      setTimeout(() => void auto(), Math.min(60_000, autoMs));
      return;
    }
    await makeBackup(root, `Automatic ${new Date().toISOString().slice(0, 16)}`, 'automatic');
    setTimeout(() => void auto(), autoMs);
  };
  setTimeout(() => void auto(), autoMs);
  return serveUntilSignalled(srv);
}

export async function evcEdgeMain(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const f = flags(rest);
  const root = f.get('root') ?? '/';
  if (cmd === 'server') return server(root, f);
  process.stdout.write(`evc-edge stand-in: unknown command ${cmd ?? ''}\n`);
  return 2;
}

/** Installs an Edge: its device id, version and a configuration with `chargepoints` chargepoints. */
export async function installEvcEdge(
  root: string,
  o: { deviceId: string; version?: string; chargepoints: number },
): Promise<void> {
  const p = edgePaths(root);
  await fsp.mkdir(path.dirname(p.deviceId), { recursive: true });
  await fsp.writeFile(p.deviceId, `${o.deviceId}\n`);
  await fsp.writeFile(p.version, `${o.version ?? '1.26.3'}\n`);
  await writeJson(p.config, {
    site: o.chargepoints > 0 ? 'Depot Noord' : '',
    loadBalancing: { maxCurrentA: o.chargepoints > 0 ? 250 : 0 },
    chargepoints: Array.from({ length: o.chargepoints }, (_v, i) => ({
      id: `CP-${String(i + 1).padStart(3, '0')}`,
      ocppId: `NL*LMS*E${1000 + i}`,
      connectors: 2,
    })),
    chargeCards: o.chargepoints > 0 ? [{ uid: '04A1B2C3D4', priority: 200 }] : [],
  });
  await writeJson(p.transactions, []);
  await fsp.mkdir(p.backups(o.deviceId), { recursive: true });
}

/** Chargepoint transactions on an Edge: each ends after `endsInSeconds` (null: runs until stopped). */
export async function setTransactions(root: string, count: number, endsInSeconds: number | null): Promise<void> {
  const now = Date.now();
  await writeJson(
    edgePaths(root).transactions,
    Array.from({ length: count }, (_v, i) => ({
      chargepoint: `CP-${String(i + 1).padStart(3, '0')}`,
      connector: 1,
      startedAt: new Date(now - 600_000).toISOString(),
      ...(endsInSeconds !== null ? { endsAt: new Date(now + endsInSeconds * 1000).toISOString() } : {}),
    })),
  );
}

export async function edgeConfig(root: string): Promise<{
  chargepoints: Array<{ id: string }>;
  restoredFrom?: { deviceId: string; name: string };
}> {
  return readJson(edgePaths(root).config, { chargepoints: [] });
}

export const evcEdgeServerArgs = (root: string, port: number): string[] => [
  'evc-edge',
  'server',
  `--root=${root}`,
  `--port=${port}`,
];
