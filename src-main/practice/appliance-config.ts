import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/util/atomic-fs.js';
import { decryptSecret, encryptSecret } from './appliance-crypto.js';

/** The version the practice appliance reports unless told otherwise (an EDS 1.1 release). */
export const DEFAULT_PRACTICE_VERSION = '1.1.1.46';
export const EDS_DIR = 'usr/share/OSIsoft/EdgeDataStore';
export const EGRESS_FILE = 'Storage_PeriodicEgressEndpoints.json';
export const SECRET_FIELDS = ['ClientSecret', 'Password'] as const;
export const MASK = '********';

export interface ApplianceFolders {
  configuration: string;
  storage: string;
}

export function foldersUnder(root: string): ApplianceFolders {
  return {
    configuration: path.join(root, EDS_DIR, 'Configuration'),
    storage: path.join(root, EDS_DIR, 'Storage'),
  };
}

export type EgressEntry = Record<string, unknown> & { Id: string };

async function writeJsonIfMissing(file: string, value: unknown): Promise<void> {
  try {
    await fsp.access(file);
  } catch {
    await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  }
}

/** Creates the product's default configuration the way a fresh install would, leaving existing files alone. */
export async function ensureDefaultConfiguration(f: ApplianceFolders, key: Buffer): Promise<void> {
  await fsp.mkdir(f.configuration, { recursive: true });
  await fsp.mkdir(f.storage, { recursive: true });
  await writeJsonIfMissing(path.join(f.configuration, 'System_Port.json'), { Port: 5590 });
  await writeJsonIfMissing(path.join(f.configuration, 'System_Logging.json'), {
    LogLevel: 'Information',
    LogFileSizeLimitBytes: 34636833,
    LogFileCountLimit: 31,
  });
  await writeJsonIfMissing(path.join(f.configuration, 'Storage_Runtime.json'), {
    StreamStorageLimitMb: 2,
    StreamStorageTargetMb: 1,
    IngressDebugExpiration: '0001-01-01T00:00:00',
    CheckpointRateInSec: 30,
    TransactionLogLimitMB: 250,
    EnableTransactionLog: true,
  });
  const egress = practiceEgressEndpoints(key);
  await writeJsonIfMissing(path.join(f.configuration, EGRESS_FILE), egress);
}

/** The practice appliance's two egress endpoints, one with a client secret and one with a password (EDS 1.0 and 1.1). */
export function practiceEgressEndpoints(key: Buffer): EgressEntry[] {
  return [
    {
      Id: 'ToAdh',
      Endpoint: 'https://uswe.datahub.connect.aveva.com/api/v1/Tenants/practice/Namespaces/plant/',
      ClientId: 'practice-client-7f3a',
      ClientSecret: encryptSecret(key, 'adh-practice-secret'),
      Username: null,
      Password: null,
      ValidateEndpointCertificate: true,
    },
    {
      Id: 'ToPiWebApi',
      Endpoint: 'https://pi-server.plant.local/piwebapi/omf/',
      ClientId: null,
      ClientSecret: null,
      Username: 'plant\\edge-egress',
      Password: encryptSecret(key, 'pi-practice-password'),
      ValidateEndpointCertificate: false,
    },
  ];
}

export async function readEgress(f: ApplianceFolders): Promise<EgressEntry[]> {
  const raw = JSON.parse(await fsp.readFile(path.join(f.configuration, EGRESS_FILE), 'utf8')) as unknown;
  return Array.isArray(raw) ? (raw as EgressEntry[]) : [];
}

export async function writeEgress(f: ApplianceFolders, entries: EgressEntry[]): Promise<void> {
  await writeFileAtomic(path.join(f.configuration, EGRESS_FILE), `${JSON.stringify(entries, null, 2)}\n`);
}

/** What the API shows: secrets masked, and whether this machine's key opens them. */
export function publicView(entry: EgressEntry, key: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = { ...entry };
  let ok = true;
  for (const f of SECRET_FIELDS) {
    const v = entry[f];
    if (typeof v === 'string' && v.length > 0) {
      if (decryptSecret(key, v) === undefined) ok = false;
      out[f] = MASK;
    }
  }
  out.SecretStatus = ok ? 'ok' : 'undecryptable';
  return out;
}

/**
 * Applies a PUT body: a masked secret keeps the stored one, a new secret is encrypted with this machine's key.
 * Unknown fields are kept as sent, like the product's own configuration API.
 */
export function mergePut(existing: EgressEntry, body: Record<string, unknown>, key: Buffer): EgressEntry {
  const next: EgressEntry = { ...existing };
  for (const [k, v] of Object.entries(body)) {
    if (k === 'Id' || k === 'SecretStatus') continue;
    if ((SECRET_FIELDS as readonly string[]).includes(k)) {
      if (v === MASK) continue;
      next[k] = typeof v === 'string' && v.length > 0 ? encryptSecret(key, v) : null;
    } else {
      next[k] = v;
    }
  }
  return next;
}
