import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { findOpenFiles } from '../../src-main/engine/service/open-files.js';
import { descendantsOf, isLive, requireRunit } from '../helpers/runit.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';

const runit = requireRunit();

describe.skipIf(runit.skip)(`practice appliance under runit ${runit.reason}`, () => {
  let m: PracticeMachine;
  beforeAll(async () => {
    m = await startPracticeMachine({ version: '1.1.1.46' });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it('writes a profile file that loads through the profile schema', async () => {
    const p = await loadProfile(m.profilePath);
    expect(p).toEqual(m.profile);
    expect(p.service).toMatchObject({ manager: 'runit', name: m.serviceDir });
    expect(p.api?.baseUrl).toBe(`http://127.0.0.1:${m.port}`);
  });

  it('answers its product version and health', async () => {
    expect(await m.api.productVersion()).toBe('1.1.1.46');
    expect(await m.api.health()).toMatchObject({ ok: true });
  });

  it('creates the EDS folders with default configuration and keeps writing into Storage', async () => {
    const [config, storage] = resolveItems(m.profile, { root: m.root });
    expect(config!.path).toBe(path.join(m.root, 'usr/share/OSIsoft/EdgeDataStore/Configuration'));
    const names = await fsp.readdir(config!.path);
    expect(names).toContain('Storage_PeriodicEgressEndpoints.json');
    // Secrets are never stored in clear text.
    const egress = await fsp.readFile(path.join(config!.path, 'Storage_PeriodicEgressEndpoints.json'), 'utf8');
    expect(egress).not.toContain('adh-practice-secret');
    expect(egress).toContain('aes256gcm:');
    const size = async () => {
      let n = 0;
      for (const f of await fsp.readdir(path.join(storage!.path, 'streams')))
        n += (await fsp.stat(path.join(storage!.path, 'streams', f))).size;
      return n;
    };
    const before = await size();
    await expect.poll(size, { timeout: 5000 }).toBeGreaterThan(before);
  });

  it('holds a file open in Storage while it runs, and none after the service stops', async () => {
    const folders = resolveItems(m.profile, { root: m.root }).map((i) => i.path);
    const running = await findOpenFiles(folders);
    expect(
      running.some(
        (f) => f.file.includes('/Storage/streams/segment-') && f.command.includes(path.basename(m.applianceEntry)),
      ),
    ).toBe(true);

    const svc = serviceFor(m.profile.service);
    await svc.stop();
    await svc.waitFor('stopped', 10_000);
    expect(await findOpenFiles(folders)).toEqual([]);
    expect((await m.api.health()).ok).toBe(false);

    await svc.start();
    await svc.waitFor('running', 10_000);
    await expect.poll(async () => (await m.api.health()).ok, { timeout: 20_000 }).toBe(true);
  });
});

describe.skipIf(runit.skip)(`practice machine cleanup ${runit.reason}`, () => {
  it('leaves no runsvdir, runsv or appliance process and no files behind', async () => {
    const m = await startPracticeMachine();
    const runsvdir = findRunsvdir(m.serviceDir);
    const pids = [runsvdir, ...descendantsOf(runsvdir)];
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await m.stop();
    expect(pids.filter(isLive)).toEqual([]);
    await expect(fsp.access(m.dir)).rejects.toThrow();
  });
});

/** The runsvdir watching the folder above `serviceDir`, from /proc. */
function findRunsvdir(serviceDir: string): number {
  const want = path.dirname(serviceDir);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'runsvdir' && argv.includes(want)) return Number(name);
    } catch {
      // gone
    }
  }
  throw new Error(`no runsvdir for ${want}`);
}
