import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { loadProfile, parseProfile } from '../../src-main/engine/profiles/load.js';
import { runRestore } from '../../src-main/engine/restore/run-restore.js';
import type { RunbookIO } from '../../src-main/engine/runbook/runner.js';
import { practiceLockScope } from '../../src-main/engine/util/job-lock.js';
import { refuseRealProductInPractice } from '../../src-main/engine/util/practice-only.js';

/**
 * A job whose state folder is a practice sandbox's keeps its journal there and locks there, not on the machine:
 * the engine refuses to run a real product's profile in it, whoever asked.
 */
const io: RunbookIO = {
  emit: () => undefined,
  interaction: {
    confirm: async () => true,
    secret: async () => null,
    choose: async () => null,
  } as unknown as RunbookIO['interaction'],
  signal: new AbortController().signal,
};

let sandbox: string;
let state: string;
let forget: () => void;

beforeEach(async () => {
  sandbox = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-only-'));
  state = path.join(sandbox, 'state');
  await fsp.mkdir(state, { mode: 0o700 });
  await fsp.mkdir(path.join(sandbox, 'stick'));
  forget = practiceLockScope(state);
});

afterEach(async () => {
  forget();
  await fsp.rm(sandbox, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<RecoveryError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RecoveryError);
  return e as RecoveryError;
}

describe('practice jobs run only practice products', () => {
  it('refuses a backup of the real Edge Data Store in a practice state folder, before any lock or journal', async () => {
    const eds = await loadProfile('eds-linux');
    for (const root of [undefined, path.join(sandbox, 'old', 'root')]) {
      const e = await refusal(
        runBackup({ profile: eds, to: path.join(sandbox, 'stick'), stateDir: state, ...(root ? { root } : {}) }, io),
      );
      expect(e.code).toBe('PROFILE_UNTRUSTED');
      expect(e.message).toMatch(/^Practice works only on the practice appliances: "AVEVA Edge Data Store/);
      expect(e.message).toMatch(
        root ? /its service "\S+" \(systemd\) is this machine's/ : /outside the practice sandbox/,
      );
      expect(e.message).toMatch(/Nothing was changed\.$/);
      expect(e.hint).toMatch(/Leave practice/);
    }
    expect(await fsp.readdir(state)).toEqual([]); // no job.lock, no backup journal
    expect(await fsp.readdir(path.join(sandbox, 'stick'))).toEqual([]);
  });

  it('refuses a restore of the real product too', async () => {
    const e = await refusal(
      runRestore({ profile: await loadProfile('eds-linux'), backup: path.join(sandbox, 'stick'), stateDir: state }, io),
    );
    expect(e.code).toBe('PROFILE_UNTRUSTED');
    expect(existsSync(path.join(state, 'restore-journal.json'))).toBe(false);
    expect(await fsp.readdir(state)).toEqual([]);
  });

  it('lets a stand-in through (folders and process service in the sandbox), and real jobs are not checked', async () => {
    const standin = parseProfile(
      {
        schemaVersion: 1,
        id: 'practice-x',
        productName: 'Practice X',
        platform: 'linux',
        service: {
          manager: 'process',
          name: 'practice-old',
          command: ['/bin/true'],
          pidFile: path.join(sandbox, 'old', 'run', 'x.pid'),
        },
        items: [{ id: 'Data', path: '/var/lib/x/Data' }],
      },
      'test',
    );
    const folders = [path.join(sandbox, 'old', 'root', 'var/lib/x/Data')];
    expect(() => refuseRealProductInPractice(state, standin, () => folders)).not.toThrow();
    // The same pid file outside the sandbox is a service of this machine.
    const outside = { ...standin, service: { ...standin.service, pidFile: '/run/x.pid' } };
    expect(() => refuseRealProductInPractice(state, outside, () => folders)).toThrow(/its service "practice-old"/);
    // A state folder that is not a practice sandbox's is a real job: no practice rule applies.
    const eds = await loadProfile('eds-linux');
    expect(() => refuseRealProductInPractice(path.join(sandbox, 'real'), eds, () => ['/usr/share'])).not.toThrow();
  });
});
