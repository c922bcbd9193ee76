import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import { runRestore } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { driverInteraction, ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';

const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';

type Req = { method: string; path: string };

async function get(m: PracticeMachine, p: string): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${m.port}${p}`);
  expect(r.status, p).toBe(200);
  return r.json();
}

for (const eds of ['1.0', '1.1'] as const) {
  describe.skipIf(blocked !== undefined)(
    `EDS ${eds} stand-in: backup and restore with the built-in profile's credential resources${blocked ? ` (skipped: ${blocked})` : ''}`,
    () => {
      let oldM: PracticeMachine;
      let newM: PracticeMachine;
      let work: string;
      let builtin: Profile;

      beforeAll(async () => {
        ensureTestOwner(OWNER);
        builtin = await loadProfile('eds-linux');
        work = await fsp.mkdtemp(path.join(os.tmpdir(), `eds-${eds}-`));
        [oldM, newM] = await Promise.all([
          startPracticeMachine({ user: OWNER, group: OWNER, eds, portFromAppsettings: true }),
          startPracticeMachine({ user: OWNER, group: OWNER, eds, portFromAppsettings: true }),
        ]);
      }, 90_000);

      afterAll(async () => {
        await Promise.all([oldM?.stop(), newM?.stop()]);
        if (work) await fsp.rm(work, { recursive: true, force: true });
      });

      it(`reads the version and the API port, and re-enters every credential the way EDS ${eds} takes it`, async () => {
        // The profiles say port 5590; the stand-ins listen elsewhere, as their appsettings.json says.
        expect(oldM.profile.api!.baseUrl).toBe('http://127.0.0.1:5590');
        // The practice service with the built-in profile's API facts and credential resources (all versions).
        const withBuiltin = (m: PracticeMachine): Profile => ({
          ...m.profile,
          api: { ...m.profile.api!, versionPointers: builtin.api!.versionPointers! },
          credentials: builtin.credentials,
        });
        const b = await runBackup(
          { profile: withBuiltin(oldM), to: path.join(work, 'stick'), root: oldM.root, deviceId: 'old-device' },
          { emit: () => undefined, interaction: autoConfirm },
        );
        expect(b.manifest.productVersion).toBe(eds === '1.0' ? '1.0.0.52' : '1.1.1.46');
        expect(b.manifest.apiPort).toBe(oldM.port);

        const res = await runRestore(
          {
            backup: b.setDir,
            profile: withBuiltin(newM),
            root: newM.root,
            stateDir: path.join(work, 'state'),
            allowOtherDevice: true,
            tuning: { pollMs: 50, deviceId: 'new-device' },
          },
          { emit: () => undefined, interaction: driverInteraction('typed-') },
        );
        const compat = res.steps.find((s) => s.id === 'compatibility')!.summary!;
        expect(compat).toContain(`The API listens on port ${newM.port} here`);
        expect(compat).toContain(`the old box used ${oldM.port}`);

        const requests = (await get(newM, '/api/v1/practice/requests')) as Req[];
        const sent = requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path.toLowerCase()}`);
        // Never the whole configuration: that would replace everything not sent.
        expect(sent).not.toContain('PUT /api/v1/configuration');
        if (eds === '1.0') {
          expect(res.credentialsUpdated.map((u) => u.key).sort()).toEqual(['egress/ToAdh', 'egress/ToPiWebApi']);
          expect(sent).toEqual(
            expect.arrayContaining([
              'PUT /api/v1/configuration/storage/periodicegressendpoints/toadh',
              'PUT /api/v1/configuration/storage/periodicegressendpoints/topiwebapi',
            ]),
          );
          expect(
            requests.some((r) =>
              /egressendpoints|healthendpoints|datasource/i.test(r.path.replace(/periodicegressendpoints/i, '')),
            ),
          ).toBe(false);
          const egress = (await get(newM, '/api/v1/configuration/storage/periodicegressendpoints')) as {
            SecretStatus: string;
          }[];
          expect(egress.map((e) => e.SecretStatus)).toEqual(['ok', 'ok']);
        } else {
          expect(res.credentialsUpdated.map((u) => u.key).sort()).toEqual([
            'egress-endpoints/ToAdh',
            'egress-endpoints/ToPiWebApi',
            'health-endpoints/HealthToPi',
            'opcua-data-source/OpcUa1',
          ]);
          expect(sent.sort()).toEqual(
            [
              'PATCH /api/v1/configuration/storage/egressendpoints/toadh',
              'PATCH /api/v1/configuration/storage/egressendpoints/topiwebapi',
              'PATCH /api/v1/configuration/system/healthendpoints/healthtopi',
              'PUT /api/v1/configuration/opcua1/datasource',
            ].sort(),
          );
          // The 1.0 resource is left alone on 1.1 (chosen by version, not by trial).
          expect(requests.some((r) => /periodicegressendpoints/i.test(r.path))).toBe(false);
          const egress = (await get(newM, '/api/v1/configuration/storage/egressendpoints')) as Record<
            string,
            unknown
          >[];
          expect(egress.map((e) => e.SecretStatus)).toEqual(['ok', 'ok']);
          // PATCH sent only the secrets: the old box's other settings stay.
          expect(egress.map((e) => e.ClientId)).toEqual(['practice-client-7f3a', null]);
          const health = (await get(newM, '/api/v1/configuration/System/HealthEndpoints')) as Record<string, unknown>[];
          expect(health.map((e) => [e.Id, e.SecretStatus, e.Username])).toEqual([
            ['HealthToPi', 'ok', 'plant\\edge-health'],
          ]);
          const ds = (await get(newM, '/api/v1/configuration/OpcUa1/DataSource')) as Record<string, unknown>;
          expect(ds).toMatchObject({
            SecretStatus: 'ok',
            UserName: 'opc-reader',
            EndpointUrl: 'opc.tcp://plc-01.plant.local:4840/',
            StreamIdPrefix: 'OpcUa1.',
          });
        }
        expect(res.credentialsPending).toEqual([]);
      }, 180_000);
    },
  );
}
