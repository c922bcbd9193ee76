import { promises as fsp } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfile, resolveItems } from '../../src-main/engine/profiles/load.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import {
  createPracticeSandbox,
  makeMachine,
  startMachine,
  stopMachine,
  type PracticeSandbox,
} from '../../src-main/practice/sandbox.js';
import { APPLIANCE_ENTRY, TSX_LOADER } from '../helpers/practice-machine.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
});

async function api(port: number, p: string): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  expect(r.ok).toBe(true);
  return r.json();
}

describe('practice sandbox', () => {
  it('runs an old appliance with data and a fresh replacement, each with its own folders, port and key', async () => {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'sandbox-test-'));
    dirs.push(base);
    let sb: PracticeSandbox | undefined;
    try {
      sb = await createPracticeSandbox({ baseDir: base });
      const view = sb.view();
      expect((await fsp.stat(view.stickDir)).isDirectory()).toBe(true);
      expect(sb.old.port).not.toBe(sb.replacement.port);
      expect(sb.old.keyFile).not.toBe(sb.replacement.keyFile);

      // Profile refs are files that load through the ordinary profile loader.
      const oldProfile = await loadProfile(view.old.profileRef);
      expect(oldProfile.service.manager).toBe('process');
      expect(oldProfile.ownership?.user).toBe(os.userInfo().username);
      const [conf, storage] = resolveItems(oldProfile, { root: view.old.root });
      expect((await fsp.readdir(path.join(storage!.path, 'streams'))).length).toBeGreaterThanOrEqual(3);
      expect(JSON.parse(await fsp.readFile(path.join(conf!.path, 'System_Logging.json'), 'utf8'))).toMatchObject({
        LogLevel: 'Warning',
      });

      const fresh = resolveItems(await loadProfile(view.replacement.profileRef), { root: view.replacement.root });
      expect(JSON.parse(await fsp.readFile(path.join(fresh[0]!.path, 'System_Logging.json'), 'utf8'))).toMatchObject({
        LogLevel: 'Information',
      });

      for (const m of [sb.old, sb.replacement]) {
        expect((await serviceFor(m.profile.service).status()).state).toBe('running');
        expect(await api(m.port, '/api/v1/diagnostics/productinformation')).toBeTruthy();
      }
    } finally {
      await sb?.dispose();
    }
    // Disposing stops both appliances and removes the folder.
    expect(await fsp.readdir(base)).toEqual([]);
    for (const m of [sb!.old, sb!.replacement]) {
      await expect(fetch(`http://127.0.0.1:${m.port}/`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
    }
  });

  // The flake of serve-security's "stops both practice appliances": the port was free when chosen, another appliance
  // bound it first, ours ended at once (EADDRINUSE), and the other one's answer was taken for ours. The sandbox was
  // "started" with a pid file naming a process already gone.
  it('takes no other program’s answer on the port for its own appliance’s', async () => {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'sandbox-port-'));
    dirs.push(base);
    const other = http.createServer((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as { port: number }).port;
    const command = [process.execPath, '--import', pathToFileURL(TSX_LOADER).href, APPLIANCE_ENTRY];
    const m = await makeMachine(base, 'old', 'Old appliance', command, port);
    try {
      await expect(startMachine(m)).rejects.toThrow(
        new RegExp(`on port ${port} (ended before it answered|is held by another program)`),
      );
    } finally {
      await stopMachine(m);
      await new Promise((resolve) => other.close(resolve));
    }
    // Our appliance did not bind the port (it ended): the pid file names no running appliance.
    const pid = Number(await fsp.readFile(m.pidFile, 'utf8').catch(() => '0'));
    if (pid > 0) expect(() => process.kill(pid, 0)).toThrow();
  });
});
