import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { childEnv } from '../../src-main/engine/util/child-env.js';
import { createPracticeSandbox, type PracticeSandbox } from '../../src-main/practice/sandbox.js';
import { runCli } from '../helpers/cli.js';

const PASSPHRASE = 'env-passphrase-Zq81-do-not-leak';

async function environOf(pid: number): Promise<Record<string, string>> {
  const raw = await fsp.readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

describe('secrets never reach the programs the tool starts', () => {
  it('childEnv keeps what programs need and nothing of ours', () => {
    const env = {
      PATH: '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/root',
      EDGE_RECOVERY_PASSPHRASE: 'x',
      EDGE_RECOVERY_STATE_DIR: '/tmp/s',
      NODE_OPTIONS: '--inspect',
      AWS_SECRET_ACCESS_KEY: 'y',
    };
    expect(childEnv({}, env, 'linux')).toEqual({ PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/root' });
    expect(childEnv({ A: '1' }, { Path: 'C:\\x', SystemRoot: 'C:\\Windows', TOKEN: 't' }, 'win32')).toEqual({
      SystemRoot: 'C:\\Windows',
      A: '1',
    });
  });

  describe('a restore run from the CLI with EDGE_RECOVERY_PASSPHRASE', () => {
    let base: string;
    let sandbox: PracticeSandbox;
    let setDir: string;

    beforeAll(async () => {
      base = await fsp.mkdtemp(path.join(os.tmpdir(), 'child-env-'));
      sandbox = await createPracticeSandbox({ baseDir: base });
      const r = await runBackup(
        {
          profile: sandbox.old.profile,
          to: sandbox.stickDir,
          root: sandbox.old.root,
          deviceId: 'practice-old',
          passphrase: PASSPHRASE,
          stateDir: path.join(base, 'backup-state'),
        },
        { emit: () => undefined, interaction: { confirm: async () => true, credentials: async () => null } },
      );
      setDir = r.setDir;
    });
    afterAll(async () => {
      await sandbox?.dispose();
      await fsp.rm(base, { recursive: true, force: true });
    });

    it('starts the appliance again without the passphrase (or anything of ours) in its environment', async () => {
      const creds = path.join(base, 'creds.json');
      await fsp.writeFile(creds, JSON.stringify({ ToAdh: { ClientSecret: 'c1' }, ToPiWebApi: { Password: 'c2' } }));
      const pidFile = sandbox.replacement.profile.service.pidFile!;
      const before = (await fsp.readFile(pidFile, 'utf8')).trim();
      const r = await runCli(
        [
          'restore',
          setDir,
          '--profile',
          sandbox.replacement.profileRef,
          '--root',
          sandbox.replacement.root,
          '--state-dir',
          path.join(base, 'restore-state'),
          '--credentials-file',
          creds,
          '--allow-other-device',
          '--allow-profile-commands',
          '--yes',
        ],
        { env: { EDGE_RECOVERY_PASSPHRASE: PASSPHRASE, EDGE_RECOVERY_TEST_MARKER: 'ours' } },
      );
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const pid = Number((await fsp.readFile(pidFile, 'utf8')).trim());
      expect(String(pid)).not.toBe(before); // the restore stopped it and started it again
      const env = await environOf(pid);
      expect(env.PATH).toBeTruthy();
      expect(Object.keys(env)).not.toContain('EDGE_RECOVERY_PASSPHRASE');
      expect(Object.keys(env)).not.toContain('EDGE_RECOVERY_TEST_MARKER');
      expect(Object.values(env).join('\n')).not.toContain(PASSPHRASE);
      expect(Object.keys(env).filter((k) => k.startsWith('EDGE_RECOVERY') || k.startsWith('VITEST'))).toEqual([]);
    });
  });
});
