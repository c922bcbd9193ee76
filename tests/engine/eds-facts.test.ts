import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants as fsc, openSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceClient, apiWithPort, compareVersions } from '../../src-main/engine/appliance/client.js';
import { versionFromCommand } from '../../src-main/engine/appliance/installed-version.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';

/** A dpkg database holding only an installed osisoft.edgedatastore, as `dpkg -i` leaves it. */
const STATUS = `Package: osisoft.edgedatastore
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 120000
Maintainer: OSIsoft, LLC <support@osisoft.com>
Architecture: amd64
Version: 1.1.1.46
Description: Edge Data Store
`;

describe('Edge Data Store facts in the built-in profiles', () => {
  let dir: string;
  let linux: Profile;
  let windows: Profile;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'eds-facts-'));
    linux = await loadProfile('eds-linux');
    windows = await loadProfile('eds-windows');
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reads the installed version from the package database when the API is down (real dpkg-query)', async () => {
    const admin = path.join(dir, 'dpkg');
    await fsp.mkdir(path.join(admin, 'updates'), { recursive: true });
    await fsp.mkdir(path.join(admin, 'info'), { recursive: true });
    await fsp.writeFile(path.join(admin, 'status'), STATUS);
    const c = linux.version.command!;
    expect(c.argv).toEqual(['dpkg-query', '-W', 'osisoft.edgedatastore']);
    // The profile's own command and pattern, pointed at this database.
    const withDb = { ...c, argv: ['dpkg-query', `--admindir=${admin}`, ...c.argv.slice(1)] };
    expect(await versionFromCommand(withDb, 'linux')).toEqual({
      version: '1.1.1.46',
      from: `dpkg-query --admindir=${admin} -W osisoft.edgedatastore`,
    });
    // Not installed: dpkg-query exits 1, the version is unknown (never a guess).
    await fsp.writeFile(path.join(admin, 'status'), '');
    expect((await versionFromCommand(withDb, 'linux')).version).toBeNull();
  });

  it('parses the Windows registry answer with the same pattern (recorded PowerShell output)', async () => {
    const c = windows.version.command!;
    expect(c.windows?.join(' ')).toContain('CurrentVersion\\Uninstall');
    // `printf` stands in for powershell.exe; what it prints is what the registry query printed on a real box.
    const recorded = { ...c, windows: ['printf', '1.1.1.46\r\n'] };
    expect((await versionFromCommand(recorded, 'win32')).version).toBe('1.1.1.46');
  });

  it('takes the API port from appsettings.json under --root, with a BOM, and falls back to baseUrl', async () => {
    const root = path.join(dir, 'box');
    const f = path.join(root, 'opt/OSIsoft/EdgeDataStore/appsettings.json');
    await fsp.mkdir(path.dirname(f), { recursive: true });
    expect(apiWithPort(linux.api!, { root }).api.baseUrl).toBe('http://localhost:5590');
    await fsp.writeFile(
      f,
      '\uFEFF{ "ApplicationSettings": { "Port": 6000, "ApplicationDataDirectory": "EdgeDataStore" } }',
    );
    expect(apiWithPort(linux.api!, { root })).toMatchObject({
      port: 6000,
      from: f,
      api: { baseUrl: 'http://localhost:6000' },
    });
    await fsp.writeFile(f, '{ "ApplicationSettings": { "Port": 99999 } }');
    expect(apiWithPort(linux.api!, { root }).port).toBeNull();
    // Windows: C:\Program Files\OSIsoft\EdgeDataStore\appsettings.json (the drive letter dropped under --root).
    const wf = path.join(root, 'Program Files/OSIsoft/EdgeDataStore/appsettings.json');
    await fsp.mkdir(path.dirname(wf), { recursive: true });
    await fsp.writeFile(wf, '{ "ApplicationSettings": { "Port": 5591 } }');
    expect(apiWithPort(windows.api!, { root }).port).toBe(5591);
  });

  it('does not wait on a FIFO in place of appsettings.json (a synchronous read would stop the whole process)', async () => {
    const root = path.join(dir, 'fifo-box');
    const f = path.join(root, 'opt/OSIsoft/EdgeDataStore/appsettings.json');
    await fsp.mkdir(path.dirname(f), { recursive: true });
    execFileSync('mkfifo', [f]);
    // Something writes a port into the pipe a while later: read from the pipe, it would be taken (after the wait).
    const writer = spawn(
      'timeout',
      ['20', 'sh', '-c', `sleep 2; printf '%s' '{"ApplicationSettings":{"Port":6001}}' > '${f}'`],
      {
        stdio: 'ignore',
      },
    );
    try {
      expect(apiWithPort(linux.api!, { root })).toMatchObject({
        port: null,
        api: { baseUrl: 'http://localhost:5590' },
      });
    } finally {
      // Let the writer go (it waits for a reader) rather than leave it behind.
      const fd = openSync(f, fsc.O_RDONLY | fsc.O_NONBLOCK);
      await new Promise((r) => writer.once('exit', r));
      closeSync(fd);
    }
  }, 30_000);

  it('chooses credential resources by installed version, and one data source per OPC UA adapter', async () => {
    expect(compareVersions('1.1.1.46', '1.1')).toBe(1);
    expect(compareVersions('1.0.0.52', '1.1')).toBe(-1);
    expect(compareVersions('1.1', '1.1.0.0')).toBe(0);
    const calls: string[] = [];
    const fake: typeof fetch = async (url) => {
      calls.push(String(url));
      return new Response(
        JSON.stringify([
          { ComponentId: 'Storage', ComponentType: 'EDS.Component' },
          { ComponentId: 'OpcUa1', ComponentType: 'OpcUa' },
          { ComponentId: 'OpcUa2', ComponentType: 'OpcUa' },
          { ComponentId: '../x', ComponentType: 'OpcUa' },
        ]),
        { status: 200 },
      );
    };
    const api = new ApplianceClient(linux.api!, { fetch: fake });
    const byId = Object.fromEntries(linux.credentials.map((r) => [r.id, r]));
    expect(await api.expand(byId['egress']!, '1.1.1.46')).toEqual([
      expect.objectContaining({ skipped: expect.stringContaining('before 1.1') }),
    ]);
    expect((await api.expand(byId['egress-endpoints']!, '1.1.1.46'))[0]!.skipped).toBeUndefined();
    expect((await api.expand(byId['egress-endpoints']!, '1.0.0.52'))[0]!.skipped).toContain('from 1.1');
    const ds = await api.expand(byId['opcua-data-source']!, '1.1.1.46');
    expect(ds.map((d) => [d.resource.path, d.objectId])).toEqual([
      ['/api/v1/configuration/OpcUa1/DataSource', 'OpcUa1'],
      ['/api/v1/configuration/OpcUa2/DataSource', 'OpcUa2'],
    ]);
    expect(calls).toEqual(['http://localhost:5590/api/v1/configuration/system/components']);
    expect(byId['egress-endpoints']!.method).toBe('PATCH');
    expect(byId['opcua-data-source']!.method).toBe('PUT');
  });
});
