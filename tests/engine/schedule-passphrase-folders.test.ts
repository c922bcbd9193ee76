import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryError } from '../../src-main/engine/errors.js';
import { readPassphraseFile } from '../../src-main/engine/schedule/passphrase-file.js';
import { readRunLog } from '../../src-main/engine/schedule/run-log.js';
import { giveTo, shAs } from '../helpers/as-account.js';
import { runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/datasets.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * A scheduled encrypted backup reads its passphrase as root from the file `schedule install --passphrase-file` named.
 * The file itself was judged (root's, mode 600, not a link), the folders on the way to it were not: an account that
 * owns one of them (its home, a service account's folder) renamed the file's folder aside and put a link to a folder
 * of its choosing by that name, and root read the passphrase from there (a root-only file of the account's choice:
 * another root secret, or an old passphrase file whose text it knows). Every folder on the way must now be root's and
 * not writable by group or others, every link root's (UNSAFE_PATH, exit 4, naming the folder; nothing read).
 */
const OWNER = 'edge-rt';
const REAL = 'the real passphrase';
const OTHER = 'a passphrase the account chose';

/** What a read came to: the text read, or the error. */
const settle = (p: Promise<string>): Promise<string | Error> => p.catch((e: unknown) => e as Error);
const said = (r: string | Error): string =>
  typeof r === 'string' ? `read: ${r}` : ((r as RecoveryError).code ?? r.message);

const failure = (p: Promise<unknown>): Promise<RecoveryError> =>
  p.then(
    (v) => {
      throw new Error(`read, not refused: ${JSON.stringify(v)}`);
    },
    (e: unknown) => e as RecoveryError,
  );

describe.skipIf(!isRoot)("a scheduled run's passphrase file in a folder another account can change", () => {
  let work = '';
  let acct = '';
  let decoy = '';
  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'passphrase-folders-'));
    await fsp.chmod(work, 0o755);
    // The account's own folder, with a root-only folder and passphrase file in it (as root put them there).
    acct = path.join(work, 'home');
    await fsp.mkdir(path.join(acct, 'keys'), { recursive: true, mode: 0o700 });
    await fsp.chmod(acct, 0o755);
    await giveTo(OWNER, acct);
    await fsp.writeFile(path.join(acct, 'keys', 'pass'), `${REAL}\n`, { mode: 0o600 });
    // Elsewhere, a root-only file of the same name whose text the account knows.
    decoy = path.join(work, 'elsewhere', 'keys');
    await fsp.mkdir(decoy, { recursive: true, mode: 0o700 });
    await fsp.writeFile(path.join(decoy, 'pass'), `${OTHER}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('is refused before the swap and after it, naming the folder to fix: the passphrase is never read', async () => {
    const file = path.join(acct, 'keys', 'pass');
    const before = await settle(readPassphraseFile(file));
    // The account swaps the root-only folder for a link to the other one (it may: the folder above is its own).
    shAs(OWNER, 'mv "$1/keys" "$1/keys.aside" && ln -s "$2" "$1/keys"', acct, decoy);
    const after = await settle(readPassphraseFile(file));
    // Before the fix: { before: 'read: the real passphrase', after: 'read: a passphrase the account chose' }.
    expect({ before: said(before), after: said(after) }).toEqual({ before: 'UNSAFE_PATH', after: 'UNSAFE_PATH' });
    const e = before as RecoveryError;
    expect(e.message).toBe(
      `The passphrase file ${file} is not safe to read: the folder ${acct} belongs to uid ${(await fsp.stat(acct)).uid}. Another account could put a file of its own in its place, and the backups would be encrypted with a passphrase it chose. Nothing was read or changed.`,
    );
    expect(e.hint).toContain(`fix ${acct} (chown root:root, chmod go-w)`);
    expect((after as RecoveryError).message).toMatch(
      /belongs to uid \d+\. Another account could put a file of its own/,
    );
  });

  it('a folder on the way that group or others may write is refused; root-only folders and root links are followed', async () => {
    const shared = path.join(work, 'shared');
    await fsp.mkdir(path.join(shared, 'keys'), { recursive: true, mode: 0o700 });
    await fsp.chmod(shared, 0o775);
    await fsp.writeFile(path.join(shared, 'keys', 'pass'), `${REAL}\n`, { mode: 0o600 });
    const e = await failure(readPassphraseFile(path.join(shared, 'keys', 'pass')));
    expect(e.code).toBe('UNSAFE_PATH');
    expect(e.message).toContain(`the folder ${shared} is writable by others (mode 775)`);
    // The file's own folder counts too.
    await fsp.chmod(shared, 0o755);
    await fsp.chmod(path.join(shared, 'keys'), 0o777);
    const own = await failure(readPassphraseFile(path.join(shared, 'keys', 'pass')));
    expect(own.message).toContain(`the folder ${path.join(shared, 'keys')} is writable by others (mode 777)`);
    await fsp.chmod(path.join(shared, 'keys'), 0o700);
    expect(await readPassphraseFile(path.join(shared, 'keys', 'pass'))).toBe(REAL);
    // An administrator's link (root's, in a root-only folder) to the real folder is followed.
    await fsp.symlink(path.join(shared, 'keys'), path.join(work, 'etc-link'));
    expect(await readPassphraseFile(path.join(work, 'etc-link', 'pass'))).toBe(REAL);
    // A missing folder is bad input, said plainly.
    const none = await failure(readPassphraseFile(path.join(work, 'nowhere', 'pass')));
    expect([none.code, none.message]).toEqual([
      'BAD_INPUT',
      `Cannot read the passphrase file ${path.join(work, 'nowhere', 'pass')}: there is no folder ${path.join(work, 'nowhere')}.`,
    ]);
  });

  it('schedule install and schedule run refuse it (exit 4), install nothing and back up nothing', async () => {
    const file = path.join(acct, 'keys', 'pass');
    const stick = path.join(work, 'stick');
    const installRoot = path.join(work, 'install-root');
    await fsp.mkdir(stick, { recursive: true });
    const spec = ['--profile', 'eds-linux', '--to', stick, '--every', 'daily', '--encrypt', '--passphrase-file', file];
    const inst = await runCli(
      [
        'schedule',
        'install',
        ...spec,
        '--scheduler',
        'cron',
        '--install-root',
        installRoot,
        '--command',
        '/usr/bin/true',
      ],
      { env: { EDGE_RECOVERY_PDF: 'off' } },
    );
    expect(inst.code, inst.stderr).toBe(4);
    expect(inst.stderr).toContain(`The passphrase file ${file} is not safe to read: the folder ${acct} belongs to uid`);
    expect(existsSync(installRoot)).toBe(false);
    const run = await runCli(
      [
        'schedule',
        'run',
        ...spec,
        '--root',
        path.join(work, 'machine'),
        '--device-id',
        'box',
        '--state-dir',
        path.join(work, 'state'),
        '--retry-every',
        '1s',
        '--give-up-after',
        '2s',
      ],
      { env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_LOCK_DIR: path.join(work, 'lock') } },
    );
    expect(run.code, run.stderr).toBe(4);
    expect(run.stderr).toContain(`The passphrase file ${file} is not safe to read`);
    expect(await fsp.readdir(stick)).toEqual([]);
    // A failed run, logged as such, so `schedule status` says why the backups stopped (before: nothing there).
    const runs = await readRunLog(path.join(work, 'state'), 'eds-linux');
    expect(runs.map((r) => [r.outcome, r.detail.slice(0, 60)])).toEqual([
      ['failed', `The passphrase file ${file} is not safe to read`.slice(0, 60)],
    ]);
    const status = await runCli(
      ['schedule', 'status', '--profile', 'eds-linux', '--state-dir', path.join(work, 'state')],
      {
        env: { EDGE_RECOVERY_PDF: 'off', EDGE_RECOVERY_LOCK_DIR: path.join(work, 'lock') },
      },
    );
    expect(status.stdout).toContain(`failed: The passphrase file ${file} is not safe to read`);
  });
});
