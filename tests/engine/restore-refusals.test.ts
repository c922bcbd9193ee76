import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import {
  restoreStatus,
  rollbackRestore,
  runRestore,
  type RestoreOptions,
} from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { driverInteraction, ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { siblingsLike, snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';

const blocked = restoreTestsBlocked();
const OWNER = 'edge-rt';
const PASS = 'correct horse battery staple';

/** Storage keeps growing while the practice appliance runs: its stream segments are left out of "unchanged". */
/** The error a promise rejects with; a test failure if it resolves. */
async function failure(p: Promise<unknown>): Promise<RecoveryError> {
  const r = await p.then(
    () => new Error('expected a refusal, but the restore completed'),
    (e: unknown) => e,
  );
  if (!(r instanceof RecoveryError)) throw r;
  return r;
}

function withoutStreams(s: TreeSnapshot): TreeSnapshot {
  return Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('streams')));
}

describe.skipIf(blocked !== undefined)(
  `restore refusals and rollback${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let oldM: PracticeMachine;
    let newM: PracticeMachine;
    let work: string;
    const sets: Record<'plain' | 'encrypted' | 'hostile', string> = { plain: '', encrypted: '', hostile: '' };
    let n = 0;

    async function backup(to: string, passphrase?: string): Promise<string> {
      const r = await runBackup(
        {
          profile: oldM.profile,
          to: path.join(work, to),
          root: oldM.root,
          deviceId: 'old-device',
          ...(passphrase ? { passphrase } : {}),
        },
        { emit: () => undefined, interaction: autoConfirm },
      );
      return r.setDir;
    }

    beforeAll(async () => {
      ensureTestOwner(OWNER);
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'restore-refusals-'));
      [oldM, newM] = await Promise.all([
        startPracticeMachine({ user: OWNER, group: OWNER }),
        startPracticeMachine({ user: OWNER, group: OWNER }),
      ]);
      sets.plain = await backup('stick-plain');
      sets.encrypted = await backup('stick-encrypted', PASS);
      // A faithful backup of a folder holding links out of it: the restore must refuse to recreate them.
      const [conf] = resolveItems(oldM.profile, { root: oldM.root });
      await fsp.symlink('../../../../../../outside-target', path.join(conf!.path, 'escape'));
      await fsp.symlink('/etc/shadow', path.join(conf!.path, 'absolute'));
      sets.hostile = await backup('stick-hostile');
    });

    afterAll(async () => {
      await Promise.all([oldM?.stop(), newM?.stop()]);
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    function opts(extra: Partial<RestoreOptions> = {}): RestoreOptions {
      return {
        backup: sets.plain,
        profile: newM.profile,
        root: newM.root,
        stateDir: path.join(work, `state-${n++}`),
        allowOtherDevice: true,
        tuning: { pollMs: 50, deviceId: 'new-device' },
        ...extra,
      };
    }

    /** The new machine's folders, leftovers, service pid and journal, to prove a refusal changed nothing. */
    async function machineState(stateDir: string): Promise<unknown> {
      const [conf, storage] = resolveItems(newM.profile, { root: newM.root });
      const st = await serviceFor(newM.profile.service).status();
      return {
        conf: await snapshotTree(conf!.path),
        storage: withoutStreams(await snapshotTree(storage!.path)),
        leftovers: [...(await siblingsLike(conf!.path)), ...(await siblingsLike(storage!.path))],
        parent: (await fsp.readdir(path.dirname(conf!.path))).sort(),
        service: `${st.state} ${st.pid}`,
        journal: await restoreStatus({ stateDir }),
      };
    }

    async function expectRefusedUnchanged(
      o: RestoreOptions,
      code: string,
      io = { emit: () => undefined, interaction: autoConfirm },
    ): Promise<RecoveryError> {
      const before = await machineState(o.stateDir!);
      const err = await runRestore(o, io).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RecoveryError);
      expect((err as RecoveryError).code, (err as Error).message).toBe(code);
      expect(await machineState(o.stateDir!)).toEqual(before);
      return err as RecoveryError;
    }

    it('refuses a wrong passphrase and changes nothing', async () => {
      await expectRefusedUnchanged(opts({ backup: sets.encrypted, passphrase: 'wrong horse' }), 'WRONG_PASSPHRASE');
    });

    it('refuses an encrypted backup without a passphrase and changes nothing', async () => {
      await expectRefusedUnchanged(opts({ backup: sets.encrypted }), 'PASSPHRASE_REQUIRED');
    });

    it('refuses a corrupt backup (one byte changed) and changes nothing', async () => {
      const copy = path.join(work, 'corrupt');
      await fsp.cp(sets.plain, copy, { recursive: true });
      const part = path.join(copy, 'data.tar.gz');
      const buf = await fsp.readFile(part);
      const mid = Math.floor(buf.length / 2);
      buf[mid] = buf[mid]! ^ 0xff;
      await fsp.writeFile(part, buf);
      await expectRefusedUnchanged(opts({ backup: copy }), 'BACKUP_CORRUPT');
    });

    it('refuses a backup whose archive part is missing and changes nothing', async () => {
      const copy = path.join(work, 'missing-part');
      await fsp.cp(sets.plain, copy, { recursive: true });
      await fsp.rm(path.join(copy, 'data.tar.gz'));
      const e = await failure(runRestore(opts({ backup: copy }), { emit: () => undefined, interaction: autoConfirm }));
      expect(['BACKUP_INCOMPLETE', 'BACKUP_CORRUPT']).toContain((e as RecoveryError).code);
    });

    it('refuses an archive with links leaving their folder before the service is touched, writing nothing anywhere', async () => {
      const outside = path.join(newM.root, '..', 'outside-target');
      const e = await expectRefusedUnchanged(opts({ backup: sets.hostile }), 'HOSTILE_ARCHIVE');
      expect(e.message).toMatch(/escape|absolute/);
      await expect(fsp.lstat(outside)).rejects.toThrow();
    });

    it('refuses a backup from another device unless told the machine replaces it, naming both ids', async () => {
      const e = await expectRefusedUnchanged(opts({ allowOtherDevice: false }), 'OTHER_DEVICE');
      expect(e.message).toContain('old-device');
      expect(e.message).toContain('new-device');
      expect(e.hint).toContain('--allow-other-device');
    });

    it('refuses a backup made with another profile', async () => {
      const other: Profile = { ...newM.profile, id: 'eds-other' };
      await expectRefusedUnchanged(opts({ profile: other }), 'PROFILE_MISMATCH');
    });

    it('refuses when the owner user is missing, before the service is touched', async () => {
      const noUser: Profile = { ...newM.profile, ownership: { ...newM.profile.ownership!, user: 'no-such-user-rt' } };
      const e = await expectRefusedUnchanged(opts({ profile: noUser }), 'USER_MISSING');
      expect(e.message).toContain('no-such-user-rt');
    });

    it('refuses an older installed version, and restores with --allow-version-mismatch', async () => {
      const older = await startPracticeMachine({ version: '1.0.0.3', user: OWNER, group: OWNER });
      try {
        const o = (extra: Partial<RestoreOptions>): RestoreOptions => ({
          ...opts(extra),
          profile: older.profile,
          root: older.root,
        });
        const before = await snapshotTree(resolveItems(older.profile, { root: older.root })[0]!.path);
        const refused = o({});
        const e = await failure(runRestore(refused, { emit: () => undefined, interaction: autoConfirm }));
        expect(e).toBeInstanceOf(RecoveryError);
        expect(e.code).toBe('VERSION_MISMATCH');
        expect(e.message).toContain('1.1.1.46');
        expect(e.hint).toContain('--allow-version-mismatch');
        expect(await snapshotTree(resolveItems(older.profile, { root: older.root })[0]!.path)).toEqual(before);
        expect(await restoreStatus({ stateDir: refused.stateDir! })).toBeNull();

        const r = await runRestore(o({ allowVersionMismatch: true }), {
          emit: () => undefined,
          interaction: driverInteraction('typed-'),
        });
        expect(r.steps.find((s) => s.id === 'compatibility')?.summary).toContain('--allow-version-mismatch');
        expect((await serviceFor(older.profile.service).status()).state).toBe('running');
      } finally {
        await older.stop();
      }
    });

    it('after a failure past the swap, rollback puts the folders and the running service back exactly', async () => {
      const o = opts();
      const [conf, storage] = resolveItems(newM.profile, { root: newM.root });
      const confBefore = await snapshotTree(conf!.path);
      const storageBefore = withoutStreams(await snapshotTree(storage!.path));
      const segmentsBefore = Object.keys(await snapshotTree(storage!.path)).filter((k) => k.startsWith('streams/'));
      const failing = {
        confirm: async () => true,
        credentials: async () => {
          throw new RecoveryError('CANCELLED', 'The technician closed the credentials form.');
        },
      };
      const e = await failure(runRestore(o, { emit: () => undefined, interaction: failing }));
      expect(e.code).toBe('CANCELLED');
      const st = await restoreStatus({ stateDir: o.stateDir! });
      expect(st).toMatchObject({ canResume: true, canRollback: true });
      expect(st!.where).toContain('Enter the credentials again');
      expect(st!.where).toContain('holds the restored data');

      await rollbackRestore({ stateDir: o.stateDir!, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm });
      expect(await snapshotTree(conf!.path)).toEqual(confBefore);
      expect(withoutStreams(await snapshotTree(storage!.path))).toEqual(storageBefore);
      const segmentsAfter = Object.keys(await snapshotTree(storage!.path));
      for (const s of segmentsBefore) expect(segmentsAfter).toContain(s);
      expect([...(await siblingsLike(conf!.path)), ...(await siblingsLike(storage!.path))]).toEqual([]);
      expect((await serviceFor(newM.profile.service).status()).state).toBe('running');
      // The machine's own secrets open again: its key and its configuration are back together.
      expect(await newM.api.credentialEntries(newM.profile.credentials[0]!)).toEqual([]);
      expect(await restoreStatus({ stateDir: o.stateDir! })).toMatchObject({ canResume: false, canRollback: false });
    });

    it('refuses to start a second restore while one is unfinished', async () => {
      const o = opts();
      const declineSwap = {
        confirm: async (r: { stepId: string }) => r.stepId !== 'swap',
        credentials: async () => null,
      };
      const e = await failure(runRestore(o, { emit: () => undefined, interaction: declineSwap }));
      expect(e.code).toBe('DECLINED');
      const again = await failure(
        runRestore({ ...opts(), stateDir: o.stateDir! }, { emit: () => undefined, interaction: autoConfirm }),
      );
      expect(again.code).toBe('RESTORE_IN_PROGRESS');
      await rollbackRestore({ stateDir: o.stateDir!, pollMs: 50 }, { emit: () => undefined, interaction: autoConfirm });
      expect((await serviceFor(newM.profile.service).status()).state).toBe('running');
    });
  },
);
