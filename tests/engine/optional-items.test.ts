import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup, selectItems } from '../../src-main/engine/backup/run-backup.js';
import { loadProfile, resolveItems } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import { runRestore } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { driverInteraction, ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { snapshotTree } from '../helpers/tree-snapshot.js';

const EDS = 'usr/share/OSIsoft/EdgeDataStore';

describe('optional items: Logs and each OPC UA adapter’s Certificates', () => {
  it('expands "*" to the adapters present, or to those a backup holds, and selects by default and by choice', async () => {
    const linux = await loadProfile('eds-linux');
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'optional-'));
    try {
      for (const d of ['OpcUa1/Certificates/My/certs', 'OpcUa2/Certificates', 'Modbus1', 'Configuration', 'Storage'])
        await fsp.mkdir(path.join(root, EDS, d), { recursive: true });
      const here = resolveItems(linux, { root });
      expect(here.map((i) => [i.id, i.selected])).toEqual([
        ['Configuration', true],
        ['Storage', true],
        ['Logs', false],
        ['Certificates.OpcUa1', true],
        ['Certificates.OpcUa2', true],
      ]);
      expect(here[3]).toMatchObject({
        path: path.join(root, EDS, 'OpcUa1/Certificates'),
        declaredPath: `/${EDS}/OpcUa1/Certificates`,
      });
      expect(selectItems(here, {}).map((i) => i.id)).toEqual([
        'Configuration',
        'Storage',
        'Certificates.OpcUa1',
        'Certificates.OpcUa2',
      ]);
      expect(selectItems(here, { include: ['Logs'], exclude: ['Certificates'] }).map((i) => i.id)).toEqual([
        'Configuration',
        'Storage',
        'Logs',
      ]);
      // On the new box the adapter's folder may not exist yet: the backup says where it goes.
      const fresh = path.join(root, 'fresh');
      const restoring = resolveItems(linux, { root: fresh, fromBackup: ['Configuration', 'Certificates.OpcUa7'] });
      expect(restoring.find((i) => i.id === 'Certificates.OpcUa7')?.path).toBe(
        path.join(fresh, EDS, 'OpcUa7/Certificates'),
      );
      // A name that would leave the folder never becomes a path.
      expect(resolveItems(linux, { root, fromBackup: ['Certificates...'] }).some((i) => i.id.includes('..'))).toBe(
        false,
      );
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});

const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';

describe.skipIf(blocked !== undefined)(
  `optional items travel on request${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let oldM: PracticeMachine;
    let newM: PracticeMachine;
    let work: string;
    let linux: Profile;

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      linux = await loadProfile('eds-linux');
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'optional-e2e-'));
      [oldM, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      const eds = path.join(oldM.root, EDS);
      await fsp.mkdir(path.join(eds, 'Logs'), { recursive: true });
      await fsp.writeFile(path.join(eds, 'Logs/Message.log'), 'old box log\n');
      await fsp.mkdir(path.join(eds, 'OpcUa1/Certificates/My/certs'), { recursive: true });
      await fsp.mkdir(path.join(eds, 'OpcUa1/Certificates/My/private'), { recursive: true });
      await fsp.writeFile(path.join(eds, 'OpcUa1/Certificates/My/certs/adapter.der'), 'certificate');
      await fsp.writeFile(path.join(eds, 'OpcUa1/Certificates/My/private/adapter.pfx'), 'private key');
    }, 90_000);

    afterAll(async () => {
      await Promise.all([oldM?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    it('backs up Certificates by default and Logs when asked, and restores the adapter’s store with its key 600', async () => {
      // The practice service with the built-in profile's folders and ownership exceptions.
      const withItems = (m: PracticeMachine): Profile => ({
        ...m.profile,
        items: linux.items,
        ownership: { ...m.profile.ownership!, exceptions: linux.ownership!.exceptions },
      });
      const plain = await runBackup(
        { profile: withItems(oldM), to: path.join(work, 'stick'), root: oldM.root, deviceId: 'old' },
        { emit: () => undefined, interaction: autoConfirm },
      );
      expect(plain.manifest.items.map((i) => i.id)).toEqual(['Configuration', 'Storage', 'Certificates.OpcUa1']);
      const b = await runBackup(
        {
          profile: withItems(oldM),
          to: path.join(work, 'stick'),
          root: oldM.root,
          deviceId: 'old',
          include: ['Logs'],
          now: new Date(Date.now() + 120_000),
        },
        { emit: () => undefined, interaction: autoConfirm },
      );
      expect(b.manifest.items.map((i) => [i.id, i.path])).toEqual([
        ['Configuration', `/${EDS}/Configuration`],
        ['Storage', `/${EDS}/Storage`],
        ['Logs', `/${EDS}/Logs`],
        ['Certificates.OpcUa1', `/${EDS}/OpcUa1/Certificates`],
      ]);
      await runRestore(
        {
          backup: b.setDir,
          profile: withItems(newM),
          root: newM.root,
          stateDir: path.join(work, 'state'),
          allowOtherDevice: true,
          tuning: { pollMs: 50, deviceId: 'new' },
        },
        { emit: () => undefined, interaction: driverInteraction('typed-') },
      );
      const certs = await snapshotTree(path.join(newM.root, EDS, 'OpcUa1/Certificates'));
      expect(certs['My/private/adapter.pfx']).toMatchObject({ type: 'file', mode: '600', owner: `${OWNER}:${OWNER}` });
      expect(certs['My/private']).toMatchObject({ type: 'dir', mode: '700' });
      expect(certs['My/certs/adapter.der']).toMatchObject({ type: 'file', mode: '644' });
      expect(await fsp.readFile(path.join(newM.root, EDS, 'Logs/Message.log'), 'utf8')).toBe('old box log\n');
    }, 180_000);
  },
);
