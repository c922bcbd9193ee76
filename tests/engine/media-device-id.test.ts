import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDeviceId, sanitizeHostname } from '../../src-main/engine/media/device-id.js';

const sha8 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);

describe('localDeviceId', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-devid-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('is the hostname plus 8 hex of the machine id hash, the same on every call', async () => {
    const f = path.join(dir, 'machine-id');
    await fsp.writeFile(f, '3d1219c7c4c5404aaa1f6d2a48adfda4\n');
    const a = await localDeviceId({ hostname: 'eds-edge01', machineIdFile: f });
    const b = await localDeviceId({ hostname: 'eds-edge01', machineIdFile: f });
    expect(a).toEqual({
      id: `eds-edge01-${sha8('3d1219c7c4c5404aaa1f6d2a48adfda4')}`,
      hostname: 'eds-edge01',
      source: f,
    });
    expect(b).toEqual(a);
    expect(a.id).not.toContain('3d1219c7');
  });

  it('tells two machines with the same hostname apart', async () => {
    const f1 = path.join(dir, 'm1');
    const f2 = path.join(dir, 'm2');
    await fsp.writeFile(f1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
    await fsp.writeFile(f2, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n');
    const a = await localDeviceId({ hostname: 'eds', machineIdFile: f1 });
    const b = await localDeviceId({ hostname: 'eds', machineIdFile: f2 });
    expect(a.id).not.toBe(b.id);
  });

  it('falls back to the hostname, and says so, when there is no machine id', async () => {
    const empty = path.join(dir, 'empty');
    await fsp.writeFile(empty, '\n');
    expect(await localDeviceId({ hostname: 'Box', machineIdFile: empty })).toEqual({
      id: `box-${sha8('Box')}`,
      hostname: 'Box',
      source: 'hostname',
    });
  });

  it('makes any hostname safe as a folder name', async () => {
    expect(sanitizeHostname('EDS Box #1/../x')).toBe('eds-box-1-x');
    expect(sanitizeHostname('..hidden')).toBe('hidden');
    expect(sanitizeHostname('CON:*?"<>|')).toBe('con');
    expect(sanitizeHostname('///')).toBe('host');
    expect(sanitizeHostname('a'.repeat(100))).toHaveLength(40);
    const r = await localDeviceId({ hostname: 'Ünïcode Host\\name', machineIdFile: path.join(dir, 'none') });
    expect(r.id).toMatch(/^[a-z0-9][a-z0-9._-]*-[0-9a-f]{8}$/);
  });

  it.skipIf(process.platform !== 'linux' || !existsSync('/etc/machine-id'))(
    'reads /etc/machine-id on Linux by default',
    async () => {
      const r = await localDeviceId();
      const mid = (await fsp.readFile('/etc/machine-id', 'utf8')).trim();
      expect(r).toEqual({
        id: `${sanitizeHostname(os.hostname())}-${sha8(mid)}`,
        hostname: os.hostname(),
        source: '/etc/machine-id',
      });
    },
  );
});
