import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { flags, say, serveUntilSignalled } from './common.js';

/**
 * Advantech WISE-DeviceOn server as far as its backups go: scheduled backups written as
 * Backup_YYYYMMDD_HHMMZ.zip into a storage destination, the newest N kept (the retention count); a backup
 * restores only onto the same server version, and a TPM-encrypted one only with the same TPM; before a restore
 * the server is reset to default (the "Reset to Default" tool); the restore runs
 * <INSTALL_PATH>/tools/System Recovery/recovery.bat (here its Linux equivalent recovery.sh), which asks for the
 * backup's path and ends with "Restore successfully".
 *
 * ASSUMED (no public documentation found): the Linux install path /opt/Advantech/DeviceOn, the scripts'
 * Linux names (recovery.sh, reset-to-default.sh), their prompts and failure lines, the REST paths below and
 * the backup zip's inner layout. The TPM is simulated by a key derived from its id.
 */
export const INSTALL = 'opt/Advantech/DeviceOn';

export const deviceonPaths = (root: string) => ({
  install: path.join(root, INSTALL),
  conf: path.join(root, INSTALL, 'conf/server.json'),
  data: path.join(root, INSTALL, 'data/devices.json'),
  storage: path.join(root, INSTALL, 'backup'),
  recovery: path.join(root, INSTALL, 'tools/System Recovery/recovery.sh'),
  reset: path.join(root, INSTALL, 'tools/Reset to Default/reset-to-default.sh'),
  log: path.join(root, INSTALL, 'logs/server.log'),
});

interface ServerConf {
  version: string;
  tpmId: string | null;
  backup: { storage: string; keep: number; schedule: string; tpmEncryption: boolean };
}

async function conf(root: string): Promise<ServerConf> {
  return JSON.parse(await fsp.readFile(deviceonPaths(root).conf, 'utf8')) as ServerConf;
}

async function devices(root: string): Promise<unknown[]> {
  try {
    return JSON.parse(await fsp.readFile(deviceonPaths(root).data, 'utf8')) as unknown[];
  } catch {
    return [];
  }
}

async function log(root: string, line: string): Promise<void> {
  const f = deviceonPaths(root).log;
  await fsp.mkdir(path.dirname(f), { recursive: true });
  await fsp.appendFile(f, `${new Date().toISOString()} ${line}\n`);
}

const tpmKey = (id: string): Buffer => createHash('sha256').update(`deviceon-tpm:${id}`).digest();

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}Z`;
}

/**
 * The scheduled backup job: Backup_<stamp>.zip in the storage destination (backup.json + the data, encrypted
 * with the TPM when the server is set to), then only the newest `keep` backups stay.
 */
export async function scheduledBackup(root: string, at: Date): Promise<string> {
  const c = await conf(root);
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'deviceon-backup-'));
  try {
    const data = Buffer.from(JSON.stringify(await devices(root)));
    const encrypted = c.backup.tpmEncryption && c.tpmId !== null;
    const meta = {
      product: 'WISE-DeviceOn Server',
      version: c.version,
      createdAt: at.toISOString(),
      tpm: encrypted ? c.tpmId : null,
    };
    await fsp.writeFile(path.join(tmp, 'backup.json'), JSON.stringify(meta));
    if (encrypted) {
      const iv = randomBytes(12);
      const ci = createCipheriv('aes-256-gcm', tpmKey(c.tpmId!), iv);
      const body = Buffer.concat([ci.update(data), ci.final()]);
      await fsp.writeFile(path.join(tmp, 'devices.json.enc'), Buffer.concat([iv, ci.getAuthTag(), body]));
    } else {
      await fsp.writeFile(path.join(tmp, 'devices.json'), data);
    }
    const storage = path.join(root, c.backup.storage);
    await fsp.mkdir(storage, { recursive: true });
    const out = path.join(storage, `Backup_${stamp(at)}.zip`);
    execFileSync('zip', ['-q', '-j', out, ...(await fsp.readdir(tmp)).map((n) => path.join(tmp, n))]);
    await fsp.utimes(out, at, at);
    // The retention count: the newest `keep` stay.
    const all = (await fsp.readdir(storage))
      .filter((n) => /^Backup_\d{8}_\d{4}Z\.zip$/.test(n))
      .sort()
      .reverse();
    for (const old of all.slice(c.backup.keep)) await fsp.rm(path.join(storage, old), { force: true });
    await log(root, `scheduled backup ${path.basename(out)} written${encrypted ? ' (TPM-encrypted)' : ''}`);
    return out;
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

function unzipEntry(zip: string, name: string): Buffer {
  return execFileSync('unzip', ['-p', zip, name], {
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 256 * 1024 * 1024,
  });
}

async function ask(question: string): Promise<string> {
  process.stdout.write(question);
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return '';
}

/** tools/System Recovery: asks for the backup's path, checks it fits this server, restores it. */
async function recovery(root: string): Promise<number> {
  say('WISE-DeviceOn System Recovery');
  const file = (await ask('Please input the backup file path: ')).replace(/^"|"$/g, '');
  if (!file) {
    say('Restore failed: no backup file was given.');
    return 1;
  }
  const c = await conf(root);
  let meta: { version: string; tpm: string | null };
  try {
    meta = JSON.parse(unzipEntry(file, 'backup.json').toString('utf8')) as typeof meta;
  } catch {
    say(`Restore failed: ${file} is not a DeviceOn backup or it is damaged.`);
    return 1;
  }
  if (meta.version !== c.version) {
    say(`Restore failed: the backup was made by server version ${meta.version}; this server is ${c.version}.`);
    return 1;
  }
  let data: Buffer;
  try {
    if (meta.tpm !== null) {
      if (c.tpmId !== meta.tpm) {
        say('Restore failed: the backup is encrypted with another TPM.');
        return 1;
      }
      const raw = unzipEntry(file, 'devices.json.enc');
      const d = createDecipheriv('aes-256-gcm', tpmKey(c.tpmId), raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      data = Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    } else {
      data = unzipEntry(file, 'devices.json');
    }
    JSON.parse(data.toString('utf8'));
  } catch {
    say(`Restore failed: the data in ${path.basename(file)} cannot be read (damaged backup).`);
    return 1;
  }
  say('Restoring database ...');
  await fsp.mkdir(path.dirname(deviceonPaths(root).data), { recursive: true });
  await fsp.writeFile(deviceonPaths(root).data, data);
  await log(root, `restored from ${path.basename(file)}`);
  say('Restore successfully');
  return 0;
}

/** tools/Reset to Default: asks, then clears the server's data (settings stay: version, TPM, storage). */
async function reset(root: string): Promise<number> {
  const a = await ask('Reset WISE-DeviceOn server to default? All data will be deleted. (y/n): ');
  if (a.toLowerCase() !== 'y') {
    say('Reset cancelled.');
    return 1;
  }
  await fsp.writeFile(deviceonPaths(root).data, '[]');
  await log(root, 'reset to default');
  say('Reset to default successfully');
  return 0;
}

async function server(root: string, f: Map<string, string>): Promise<number> {
  const port = Number(f.get('port'));
  const srv = createServer((req, res) => {
    void (async () => {
      res.setHeader('content-type', 'application/json');
      const c = await conf(root);
      if (req.url === '/rmm/v1/about') res.end(JSON.stringify({ product: 'WISE-DeviceOn Server', version: c.version }));
      else if (req.url === '/rmm/v1/backup/setting')
        res.end(JSON.stringify({ ...c.backup, tpmEncryptionId: c.backup.tpmEncryption ? c.tpmId : null }));
      else if (req.url === '/rmm/v1/system/tpm') res.end(JSON.stringify({ present: c.tpmId !== null, id: c.tpmId }));
      else if (req.url === '/rmm/v1/devices/count') res.end(JSON.stringify({ count: (await devices(root)).length }));
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    })().catch(() => {
      res.statusCode = 500;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  await log(root, `DeviceOn server started, API on port ${port}`);
  return serveUntilSignalled(srv);
}

export async function deviceonMain(argv: string[]): Promise<number> {
  const rootArg = argv.find((a) => a.startsWith('--root='));
  const [cmd, ...rest] = argv.filter((a) => a !== rootArg);
  const root = rootArg?.slice(7) ?? '/';
  switch (cmd) {
    case 'recovery':
      return recovery(root);
    case 'reset':
      return reset(root);
    case 'server':
      return server(root, flags(rest));
    default:
      say(`deviceon stand-in: unknown command ${cmd ?? ''}`);
      return 2;
  }
}

/** Installs a DeviceOn server: its tools, settings and `count` managed devices. */
export async function installDeviceOn(
  root: string,
  o: { version?: string; tpmId?: string | null; tpmEncryption?: boolean; devices: number; keep?: number },
): Promise<void> {
  const { installWrapper } = await import('./common.js');
  const p = deviceonPaths(root);
  await installWrapper(p.recovery, ['deviceon', 'recovery', `--root=${root}`]);
  await installWrapper(p.reset, ['deviceon', 'reset', `--root=${root}`]);
  await fsp.mkdir(path.dirname(p.conf), { recursive: true });
  const c: ServerConf = {
    version: o.version ?? '5.3.2',
    tpmId: o.tpmId === undefined ? 'TPM-2B7E151628AED2A6' : o.tpmId,
    backup: {
      storage: path.relative(root, p.storage),
      keep: o.keep ?? 7,
      schedule: 'daily 02:00 UTC',
      tpmEncryption: o.tpmEncryption ?? false,
    },
  };
  await fsp.writeFile(p.conf, JSON.stringify(c, null, 2));
  await fsp.mkdir(path.dirname(p.data), { recursive: true });
  await fsp.writeFile(
    p.data,
    JSON.stringify(
      Array.from({ length: o.devices }, (_v, i) => ({
        agentId: `00000001-0000-0000-0000-${String(i + 1).padStart(12, '0')}`,
        name: `UNO-2484G-${i + 1}`,
      })),
    ),
  );
  await fsp.mkdir(p.storage, { recursive: true });
}

export async function setDeviceOnConf(
  root: string,
  change: Partial<Omit<ServerConf, 'backup'>> & { tpmEncryption?: boolean },
): Promise<void> {
  const c = await conf(root);
  if (change.version !== undefined) c.version = change.version;
  if (change.tpmId !== undefined) c.tpmId = change.tpmId;
  if (change.tpmEncryption !== undefined) c.backup.tpmEncryption = change.tpmEncryption;
  await fsp.writeFile(deviceonPaths(root).conf, JSON.stringify(c, null, 2));
}

export async function countDevices(root: string): Promise<number> {
  return (await devices(root)).length;
}

export const deviceonServerArgs = (root: string, port: number): string[] => [
  'deviceon',
  'server',
  `--root=${root}`,
  `--port=${port}`,
];
