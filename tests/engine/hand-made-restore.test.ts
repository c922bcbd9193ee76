import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdopt } from '../../src-main/engine/backup/hand-made.js';
import { listBackups } from '../../src-main/engine/backup/list-backups.js';
import { verifyBackup } from '../../src-main/engine/backup/verify-backup.js';
import { isRecoveryError } from '../../src-main/engine/errors.js';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { restoreStatus, runRestore } from '../../src-main/engine/restore/run-restore.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { driverInteraction, ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { siblingsLike, snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';

// Debian's python3 (CI installs it); a version manager's shim on PATH can take seconds per start.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';
const EGRESS = 'Storage_PeriodicEgressEndpoints.json';
const EDS = 'usr/share/OSIsoft/EdgeDataStore';
const quiet = { emit: () => undefined, interaction: driverInteraction('typed-') };

/** Windows-style zip made by Python's zipfile: backslash separators, MS-DOS attributes, folder entries. */
const WINDOWS_ZIP_PY = `
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for top in ('Configuration', 'Storage'):
        for d, dirs, files in os.walk(os.path.join(src, top)):
            dirs.sort()
            rel = os.path.relpath(d, src).replace('/', '\\\\')
            zi = zipfile.ZipInfo('EdgeDataStore\\\\' + rel + '\\\\', (2026, 1, 2, 3, 4, 6))
            zi.create_system = 0
            zi.external_attr = 0x10
            z.writestr(zi, b'')
            for f in sorted(files):
                zi = zipfile.ZipInfo('EdgeDataStore\\\\' + rel + '\\\\' + f, (2026, 1, 2, 3, 4, 6))
                zi.create_system = 0
                zi.external_attr = 0x20
                zi.compress_type = zipfile.ZIP_DEFLATED
                with open(os.path.join(d, f), 'rb') as fh:
                    z.writestr(zi, fh.read())
`;

/** Copies a tar.gz member by member (headers as they are) with one byte of the marker file changed. */
const TAMPER_PY = `
import io, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(src, 'r:gz') as a, tarfile.open(out, 'w:gz', format=tarfile.PAX_FORMAT) as b:
    for m in a.getmembers():
        data = a.extractfile(m).read() if m.isfile() else None
        if m.name == 'Configuration/Custom/deep/marker.json':
            data = data[:-2] + b'X' + data[-1:]
        b.addfile(m, io.BytesIO(data) if data is not None else None)
`;

describe.skipIf(blocked !== undefined)(
  `restore of hand-made archives onto another machine${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let oldM: PracticeMachine;
    let newM: PracticeMachine;
    let work: string;
    let oldConfSnap: TreeSnapshot;
    let oldStorageSnap: TreeSnapshot;
    const archives: Record<string, string> = {};

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'hand-made-'));
      [oldM, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      const [conf] = resolveItems(oldM.profile, { root: oldM.root });
      await fsp.mkdir(path.join(conf!.path, 'Custom/deep'), { recursive: true });
      await fsp.writeFile(path.join(conf!.path, 'Custom/deep/marker.json'), '{"from":"old machine"}\n');
      await fsp.writeFile(path.join(conf!.path, 'Custom/ü-naïve name.json'), '{"non":"ascii"}\n');
      // Odd modes by hand: the policy must set them, whatever the archive says.
      await fsp.chmod(path.join(conf!.path, 'Custom/deep/marker.json'), 0o4777);
      // The technician stops the product and archives its folders, as the vendor's guide says.
      await serviceFor(oldM.profile.service).stop();
      await serviceFor(oldM.profile.service).waitFor('stopped', 15_000);
      const eds = path.join(oldM.root, EDS);
      oldConfSnap = await snapshotTree(path.join(eds, 'Configuration'));
      oldStorageSnap = await snapshotTree(path.join(eds, 'Storage'));
      archives.topTgz = path.join(work, 'eds-backup.tar.gz');
      execFileSync('tar', ['-czf', archives.topTgz, '-C', eds, 'Configuration', 'Storage']);
      // As `tar czf x.tgz /usr/share/OSIsoft/EdgeDataStore` stores it (GNU tar drops the leading "/").
      archives.absTgz = path.join(work, 'eds-absolute.tgz');
      execFileSync('tar', ['-czf', archives.absTgz, '-C', oldM.root, EDS]);
      archives.winZip = path.join(work, 'EdgeDataStore.zip');
      execFileSync(PYTHON, ['-c', WINDOWS_ZIP_PY, eds, archives.winZip]);
      archives.damaged = path.join(work, 'eds-damaged.tar.gz');
      const whole = await fsp.readFile(archives.topTgz);
      const cut = Buffer.from(whole.subarray(0, Math.floor(whole.length * 0.6)));
      await fsp.writeFile(archives.damaged, cut);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([oldM?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    async function expectOldDataOnNewMachine(): Promise<void> {
      const eds = path.join(newM.root, EDS);
      const conf = await snapshotTree(path.join(eds, 'Configuration'));
      for (const [rel, e] of Object.entries(oldConfSnap)) {
        const n = conf[rel];
        expect(n, rel).toBeDefined();
        expect(n!.type, rel).toBe(e.type);
        if (rel === EGRESS) continue; // rewritten by the product when the secrets were typed in again
        expect(n!.sha256, rel).toBe(e.sha256);
        expect(n!.owner, rel).toBe(`${OWNER}:${OWNER}`);
        expect(n!.mode, rel).toBe(e.type === 'dir' ? '755' : '644');
      }
      expect(Object.keys(conf).sort()).toEqual(Object.keys(oldConfSnap).sort());
      // Storage: every old file identical (the running product adds new segments of its own).
      const storage = await snapshotTree(path.join(eds, 'Storage'));
      for (const [rel, e] of Object.entries(oldStorageSnap)) {
        expect(storage[rel]?.type, rel).toBe(e.type);
        expect(storage[rel]?.sha256, rel).toBe(e.sha256);
        expect(storage[rel]?.owner, rel).toBe(`${OWNER}:${OWNER}`);
      }
      // Credentials typed in again; the product opens them.
      expect(await newM.api.credentialEntries(newM.profile.credentials[0]!)).toEqual([]);
      expect((await serviceFor(newM.profile.service).status()).state).toBe('running');
      expect(await siblingsLike(path.join(eds, 'Configuration'))).toEqual([]);
      expect(await siblingsLike(path.join(eds, 'Storage'))).toEqual([]);
    }

    for (const [name, key, base] of [
      ['a .tar.gz with the folders at the top', 'topTgz', ''],
      ['a .tgz of the absolute path (usr/share/OSIsoft/EdgeDataStore/…)', 'absTgz', EDS],
      ['a Windows-style .zip (backslashes, MS-DOS attributes, under EdgeDataStore\\)', 'winZip', 'EdgeDataStore'],
    ] as const) {
      it(`restores ${name} with identical content, policy owners and modes, and records it as unverified`, async () => {
        const stateDir = path.join(work, `state-${key}`);
        const res = await runRestore(
          {
            backup: archives[key]!,
            profile: newM.profile,
            root: newM.root,
            stateDir,
            tuning: { pollMs: 50, deviceId: 'new-device' },
          },
          quiet,
        );
        await expectOldDataOnNewMachine();
        const verify = res.steps.find((s) => s.id === 'verify')!;
        expect(verify.summary).toContain('Made by hand: it can be read through, but there are no recorded checksums');
        expect(verify.summary).toContain(`Configuration ← ${base ? `${base}/` : ''}Configuration/`);
        const compat = res.steps.find((s) => s.id === 'compatibility')!;
        expect(compat.summary).toContain('hand-made archive records no device');
        const report = JSON.parse(await fsp.readFile(res.reports.find((r) => r.endsWith('.json'))!, 'utf8')) as {
          backupPath: string;
          source?: { kind: string; verified: boolean; sha256: string };
        };
        expect(report.backupPath).toBe(archives[key]);
        expect(report.source).toMatchObject({ kind: 'hand-made', verified: false });
        const html = await fsp.readFile(res.reports.find((r) => r.endsWith('.html'))!, 'utf8');
        expect(html).toContain('UNVERIFIED');
        // The report lies beside the archive; the copy made of it in the state folder is gone.
        expect(res.reports.some((r) => path.dirname(r) === work)).toBe(true);
        expect(await fsp.readdir(path.join(stateDir, 'restores')).then((ids) => ids.length)).toBeGreaterThan(0);
        for (const id of await fsp.readdir(path.join(stateDir, 'restores'))) {
          expect(await fsp.stat(path.join(stateDir, 'restores', id, 'adopted')).catch(() => null)).toBeNull();
        }
      }, 120_000);
    }

    it('refuses a damaged archive (exit class BACKUP_CORRUPT) with nothing changed', async () => {
      const eds = path.join(newM.root, EDS);
      const before = {
        conf: await snapshotTree(path.join(eds, 'Configuration')),
        storageList: (await fsp.readdir(path.join(eds, 'Storage', 'streams'))).sort(),
      };
      const stateDir = path.join(work, 'state-damaged');
      const err = await runRestore(
        { backup: archives.damaged!, profile: newM.profile, root: newM.root, stateDir, tuning: { pollMs: 50 } },
        quiet,
      ).catch((e: unknown) => e);
      expect(isRecoveryError(err) && err.code).toBe('BACKUP_CORRUPT');
      expect((err as Error).message).toMatch(/damaged/);
      expect(await snapshotTree(path.join(eds, 'Configuration'))).toEqual(before.conf);
      // Storage: the running product only adds; nothing of ours was set aside or replaced.
      const after = (await fsp.readdir(path.join(eds, 'Storage', 'streams'))).sort();
      expect(after.slice(0, before.storageList.length)).toEqual(before.storageList);
      expect((await serviceFor(newM.profile.service).status()).state).toBe('running');
      expect(await restoreStatus({ stateDir })).toBeNull();
      expect(await siblingsLike(path.join(eds, 'Configuration'))).toEqual([]);
      expect(await fsp.readdir(path.join(stateDir, 'restores')).catch(() => [])).toEqual([]);
    }, 60_000);

    it('adopt makes a backup set that verify checks file by file, and list shows both', async () => {
      const stick = path.join(work, 'stick');
      const r = await runAdopt({ source: archives.winZip!, profile: newM.profile, to: stick }, quiet);
      expect(r.manifest.source).toMatchObject({ kind: 'hand-made', format: 'zip', base: 'EdgeDataStore' });
      const v = await verifyBackup(r.setDir, {});
      expect(v.files).toBe(r.manifest.files);
      expect(v.files).toBe(
        Object.values(oldConfSnap)
          .concat(Object.values(oldStorageSnap))
          .filter((e) => e.type === 'file').length,
      );
      // Stock tools agree.
      execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: r.setDir });
      const names = execFileSync('tar', ['-tzf', path.join(r.setDir, 'data.tar.gz')], { encoding: 'utf8' });
      expect(names).toContain('Configuration/Custom/deep/marker.json');
      expect(await fsp.readFile(path.join(r.setDir, 'RESTORE.txt'), 'utf8')).toContain('hand-made archive');
      // Verify now checks every file: one byte of one file changed inside the data (same size, same headers) is caught.
      const tampered = path.join(work, 'tampered-set');
      await fsp.cp(r.setDir, tampered, { recursive: true });
      execFileSync(PYTHON, ['-c', TAMPER_PY, path.join(r.setDir, 'data.tar.gz'), path.join(tampered, 'data.tar.gz')]);
      const sum = execFileSync('sha256sum', ['data.tar.gz'], { cwd: tampered, encoding: 'utf8' }).split(' ')[0]!;
      const size = (await fsp.stat(path.join(tampered, 'data.tar.gz'))).size;
      const m = JSON.parse(await fsp.readFile(path.join(tampered, 'manifest.json'), 'utf8')) as {
        archive: { parts: { name: string; size: number; sha256: string }[] };
      };
      m.archive.parts = [{ name: 'data.tar.gz', size, sha256: sum }];
      const mText = JSON.stringify(m);
      await fsp.writeFile(path.join(tampered, 'manifest.json'), mText);
      // Checksums rewritten to match (manifest.json is listed too): only the file-by-file check can tell.
      const mSum = createHash('sha256').update(mText).digest('hex');
      await fsp.writeFile(path.join(tampered, 'SHA256SUMS'), `${sum}  data.tar.gz\n${mSum}  manifest.json\n`);
      const err = await verifyBackup(tampered, {}).catch((e: unknown) => e);
      expect(isRecoveryError(err) && err.code).toBe('BACKUP_CORRUPT');
      expect((err as Error).message).toContain('Configuration/Custom/deep/marker.json');

      await fsp.copyFile(archives.topTgz!, path.join(stick, 'eds-backup.tar.gz'));
      const groups = await listBackups(stick);
      const all = groups.flatMap((g) => g.backups);
      expect(all.find((b) => b.path === r.setDir)).toMatchObject({ complete: true });
      expect(all.find((b) => b.path === path.join(stick, 'eds-backup.tar.gz'))).toMatchObject({
        handMade: true,
        complete: true,
      });
    }, 120_000);
  },
);
