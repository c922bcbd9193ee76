import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinProfiles, loadProfile, parseProfile, resolveItems } from '../../src-main/engine/profiles/load.js';
import { rejection } from '../helpers/rejection.js';

describe('profiles', () => {
  it('ships eds-linux and eds-windows with the Edge Data Store facts', () => {
    const [linux, windows] = builtinProfiles();
    expect(linux).toMatchObject({
      id: 'eds-linux',
      service: { manager: 'systemd', name: 'osisoft.edgedatastore' },
      ownership: { user: 'edgedatastore', group: 'edgedatastore', dirMode: 0o755, fileMode: 0o644 },
      api: { baseUrl: 'http://localhost:5590', versionEndpoint: '/api/v1/diagnostics/productinformation' },
    });
    expect(linux!.items.map((i) => [i.path, i.required, i.selected])).toEqual([
      ['/usr/share/OSIsoft/EdgeDataStore/Configuration', true, true],
      ['/usr/share/OSIsoft/EdgeDataStore/Storage', true, true],
      // Optional: the product's logs (off by default) and each OPC UA adapter's certificate store.
      ['/usr/share/OSIsoft/EdgeDataStore/Logs', false, false],
      ['/usr/share/OSIsoft/EdgeDataStore/*/Certificates', false, true],
    ]);
    expect(windows).toMatchObject({
      id: 'eds-windows',
      service: { manager: 'windows', displayName: 'Edge Data Store' },
    });
  });

  it('resolves %ProgramData% from the environment, not a hard-coded C:, and drops the drive letter under --root', () => {
    const windows = builtinProfiles().find((p) => p.id === 'eds-windows')!;
    const env = { PROGRAMDATA: 'D:\\Data' };
    expect(resolveItems(windows, { env }).map((i) => i.path)).toEqual([
      'D:\\Data\\OSIsoft\\EdgeDataStore\\Configuration',
      'D:\\Data\\OSIsoft\\EdgeDataStore\\Storage',
      'D:\\Data\\OSIsoft\\EdgeDataStore\\Logs',
    ]);
    expect(resolveItems(windows, { env, root: '/mnt/old' })[0]!.path).toBe(
      '/mnt/old/Data/OSIsoft/EdgeDataStore/Configuration',
    );
    expect(() => resolveItems(windows, { env: {} })).toThrow(/%ProgramData%.*not set/);
  });

  it('takes folders chosen by the technician as they are, and refuses unknown items or relative paths', () => {
    const linux = builtinProfiles()[0]!;
    const items = resolveItems(linux, { root: '/mnt/x', folders: { Storage: '/data/eds/Storage' } });
    expect(items.map((i) => i.path)).toEqual([
      '/mnt/x/usr/share/OSIsoft/EdgeDataStore/Configuration',
      '/data/eds/Storage',
      '/mnt/x/usr/share/OSIsoft/EdgeDataStore/Logs',
    ]);
    expect(() => resolveItems(linux, { folders: { Journal: '/var/log' } })).toThrow(/no folder "Journal"/);
    expect(() => resolveItems(linux, { folders: { Storage: 'data/Storage' } })).toThrow(/absolute path/);
  });

  it('loads a profile file by path and names every wrong field', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'profiles-'));
    try {
      const good = path.join(dir, 'good.json');
      const raw = JSON.parse(
        JSON.stringify((await import('../../src-main/engine/profiles/builtin/eds-linux.json')).default),
      );
      raw.id = 'my-product';
      await fsp.writeFile(good, JSON.stringify(raw));
      expect((await loadProfile(good)).id).toBe('my-product');

      raw.service.manager = 'upstart';
      raw.version = { policy: 'newest' };
      delete raw.items[0].path;
      const bad = path.join(dir, 'bad.json');
      await fsp.writeFile(bad, JSON.stringify(raw));
      const e = await rejection(loadProfile(bad));
      expect(e.code).toBe('BAD_PROFILE');
      expect(e.message).toMatch(/service\.manager/);
      expect(e.message).toMatch(/items\.0\.path/);
      expect(e.message).toMatch(/version\.policy/);

      await fsp.writeFile(bad, '{ "schemaVersion": 1, ');
      expect((await rejection(loadProfile(bad))).message).toMatch(/not valid JSON/);
      expect((await rejection(loadProfile(path.join(dir, 'missing.json')))).code).toBe('PROFILE_NOT_FOUND');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses two items with the same id', () => {
    const raw = JSON.parse(JSON.stringify(builtinProfiles()[0]));
    raw.ownership.dirMode = '755';
    raw.ownership.fileMode = '644';
    raw.ownership.exceptions = [];
    raw.items[1].id = raw.items[0].id;
    expect(() => parseProfile(raw, 'dup.json')).toThrow(/used twice/);
  });
});
