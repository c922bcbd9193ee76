import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { runTool } from './run-tool.js';

export interface DeviceId {
  /** `<hostname>-<8 hex>`: safe as a folder name on FAT, exFAT, NTFS and ext4. */
  id: string;
  hostname: string;
  /** Where the machine-specific part came from ('/etc/machine-id', 'registry MachineGuid', 'hostname'). */
  source: string;
}

const LINUX_MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

/**
 * Lower case (FAT and NTFS ignore case, so "EDS01" and "eds01" would share a folder), only
 * letters, digits, dot, dash and underscore, no leading dot (hidden) and bounded length.
 */
export function sanitizeHostname(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 40)
    .replace(/[-.]+$/g, '');
  return s === '' ? 'host' : s;
}

async function readFirst(files: string[]): Promise<{ value: string; source: string } | null> {
  for (const f of files) {
    try {
      const v = (await fsp.readFile(f, 'utf8')).trim();
      if (v !== '') return { value: v, source: f };
    } catch {
      // Try the next place.
    }
  }
  return null;
}

async function windowsMachineGuid(): Promise<{ value: string; source: string } | null> {
  const r = await runTool('reg', ['query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid']);
  const m = /MachineGuid\s+REG_SZ\s+(\S+)/i.exec(r.stdout);
  return r.code === 0 && m?.[1] ? { value: m[1].toLowerCase(), source: 'registry MachineGuid' } : null;
}

/**
 * This machine's id, stable across reboots and tool versions: the backup folder on the stick is
 * named after it, and a restore compares it. The machine id itself is not written anywhere,
 * only 8 hex digits of its hash. Without any machine id (rare: minimal containers) the hostname
 * alone is hashed and `source` says so.
 */
export async function localDeviceId(opts: { hostname?: string; machineIdFile?: string } = {}): Promise<DeviceId> {
  const hostname = opts.hostname ?? os.hostname();
  let found: { value: string; source: string } | null;
  if (opts.machineIdFile !== undefined) found = await readFirst([opts.machineIdFile]);
  else if (process.platform === 'win32') found = await windowsMachineGuid();
  else found = await readFirst(LINUX_MACHINE_ID_FILES);
  const source = found?.source ?? 'hostname';
  const hash = createHash('sha256')
    .update(found?.value ?? hostname)
    .digest('hex')
    .slice(0, 8);
  return { id: `${sanitizeHostname(hostname)}-${hash}`, hostname, source };
}
