import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { flags, installWrapper, say, serveUntilSignalled } from './common.js';

/**
 * OpenCRVS as far as its backups go: the nightly backup job (a tar of the database dumps, encrypted with the
 * real `openssl enc -aes-256-cbc -salt [-pbkdf2]`), infrastructure/backups/extract-backup.sh and restore.sh
 * with their arguments and messages, and the gateway's GET /ping. The "databases" are one records file.
 */
const SCRIPTS = 'opt/opencrvs/infrastructure/backups';

function recordsFile(root: string): string {
  return path.join(root, 'data', 'hearth', 'records.json');
}

async function readRecords(root: string): Promise<unknown[]> {
  try {
    return JSON.parse(await fsp.readFile(recordsFile(root), 'utf8')) as unknown[];
  } catch {
    return [];
  }
}

/** backup.sh: dumps the data, packs <label>.tar.gz, encrypts it into /home/backup/backups/<label>/. */
async function backup(root: string, f: Map<string, string>): Promise<number> {
  const label = f.get('label') ?? new Date().toISOString().slice(0, 10);
  const passphrase = (await fsp.readFile(f.get('passphrase-file')!, 'utf8')).trim();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'opencrvs-backup-'));
  try {
    await fsp.mkdir(path.join(tmp, 'mongo'), { recursive: true });
    const records = await readRecords(root);
    await fsp.writeFile(path.join(tmp, 'mongo', `hearth-dev-${label}.gz`), gzipSync(JSON.stringify(records)));
    const tgz = path.join(tmp, `${label}.tar.gz`);
    execFileSync('tar', ['-czf', tgz, '-C', tmp, 'mongo']);
    const outDir = path.join(root, 'home/backup/backups', label);
    await fsp.mkdir(outDir, { recursive: true });
    const enc = ['enc', '-aes-256-cbc', '-salt', ...(f.has('legacy') ? [] : ['-pbkdf2'])];
    execFileSync(
      'openssl',
      [...enc, '-pass', `pass:${passphrase}`, '-in', tgz, '-out', path.join(outDir, `${label}.tar.gz.enc`)],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    say(`Backup ${label} written (${records.length} records).`);
    return 0;
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

async function extractBackup(root: string, f: Map<string, string>): Promise<number> {
  const label = f.get('label');
  const dir = f.get('backup_raw_files_dir');
  if (!label) {
    say('Error: Argument for --label is required.');
    say('Usage: ./extract-backup.sh --label=XXX --backup_raw_files_dir=XXX');
    return 1;
  }
  if (!dir) {
    say('Error: Argument for --backup_raw_files_dir is required.');
    say('Usage: ./extract-backup.sh --label=XXX --backup_raw_files_dir=XXX');
    return 1;
  }
  await fsp.mkdir(path.join(dir, 'extract'), { recursive: true });
  process.stdout.write(
    execFileSync('tar', ['-xvf', path.join(dir, `${label}.tar.gz`), '-C', path.join(dir, 'extract')]),
  );
  const mongo = path.join(root, 'data/backups/mongo');
  await fsp.rm(mongo, { recursive: true, force: true });
  await fsp.mkdir(mongo, { recursive: true });
  for (const n of await fsp.readdir(path.join(dir, 'extract', 'mongo'))) {
    await fsp.rename(path.join(dir, 'extract', 'mongo', n), path.join(mongo, n));
  }
  return 0;
}

async function restore(root: string, f: Map<string, string>): Promise<number> {
  const replicas = f.get('replicas') ?? '';
  const label = f.get('label') ?? new Date().toISOString().slice(0, 10);
  if (!/^[0-9]+$/.test(replicas)) {
    say('Script must be passed a positive integer number of replicas');
    return 1;
  }
  say(replicas === '0' ? 'Working with no replicas' : `Working with ${replicas} replica(s)`);
  const dump = path.join(root, 'data/backups/mongo', `hearth-dev-${label}.gz`);
  let data: Buffer;
  try {
    data = gunzipSync(await fsp.readFile(dump));
  } catch (e) {
    say(`Error: Failed: open ${dump}: ${(e as Error).message}`);
    return 1;
  }
  say(
    'delete any previously created snapshot if any.  This may error on a fresh install with a repository_missing_exception error.  Just ignore it.',
  );
  await fsp.rm(path.dirname(recordsFile(root)), { recursive: true, force: true });
  await fsp.mkdir(path.dirname(recordsFile(root)), { recursive: true });
  await fsp.writeFile(recordsFile(root), data);
  const n = (JSON.parse(data.toString('utf8')) as unknown[]).length;
  say(`${n} document(s) restored successfully. 0 document(s) failed to restore.`);
  return 0;
}

async function server(root: string, f: Map<string, string>): Promise<number> {
  const port = Number(f.get('port'));
  const srv = createServer((req, res) => {
    void (async () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/ping') res.end(JSON.stringify({ success: true, version: 'v1.9.0' }));
      else if (req.url === '/records/count') res.end(JSON.stringify({ count: (await readRecords(root)).length }));
      else {
        res.statusCode = 404;
        res.end('{"error":"not found"}');
      }
    })();
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  process.stderr.write(`opencrvs gateway listening on 127.0.0.1:${port}\n`);
  return serveUntilSignalled(srv);
}

export async function opencrvsMain(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const f = flags(rest);
  const root = f.get('root') ?? '/';
  switch (cmd) {
    case 'backup':
      return backup(root, f);
    case 'extract-backup':
      return extractBackup(root, f);
    case 'restore':
      return restore(root, f);
    case 'server':
      return server(root, f);
    default:
      say(`opencrvs stand-in: unknown command ${cmd ?? ''}`);
      return 2;
  }
}

/** Installs the scripts at OpenCRVS's paths under root; with `records`, seeds its data. */
export async function installOpenCrvs(root: string, opts: { records?: number } = {}): Promise<void> {
  const scripts = path.join(root, SCRIPTS);
  await installWrapper(path.join(scripts, 'extract-backup.sh'), ['opencrvs', 'extract-backup', `--root=${root}`]);
  await installWrapper(path.join(scripts, 'restore.sh'), ['opencrvs', 'restore', `--root=${root}`]);
  await installWrapper(path.join(scripts, 'backup.sh'), ['opencrvs', 'backup', `--root=${root}`]);
  await fsp.mkdir(path.dirname(recordsFile(root)), { recursive: true });
  const records = Array.from({ length: opts.records ?? 0 }, (_v, i) => ({
    id: `birth-${i + 1}`,
    type: 'birth',
    registeredAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
  }));
  await fsp.writeFile(recordsFile(root), JSON.stringify(records));
}

/** The nightly job, as OpenCRVS's cron runs it: a backup per date (the legacy ones without -pbkdf2). */
export function runNightlyBackup(root: string, label: string, passphraseFile: string, legacy = false): void {
  execFileSync(
    path.join(root, SCRIPTS, 'backup.sh'),
    [`--label=${label}`, `--passphrase-file=${passphraseFile}`, ...(legacy ? ['--legacy'] : [])],
    {
      stdio: 'ignore',
    },
  );
}

export async function countRecords(root: string): Promise<number> {
  return (await readRecords(root)).length;
}

export function opencrvsServerArgs(root: string, port: number): string[] {
  return ['opencrvs', 'server', `--root=${root}`, `--port=${port}`];
}
