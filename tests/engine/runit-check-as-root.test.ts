import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { asAccountArgs, shAs } from '../helpers/as-account.js';
import { runCli } from '../helpers/cli.js';
import { plantedProfile } from '../helpers/planted-profile.js';
import { rejection } from '../helpers/rejection.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { requireRunit } from '../helpers/runit.js';

/**
 * A runit service is stopped and started with `sv -w <s> stop|start <folder>`, and `-w` makes sv verbose: once the
 * service is up, sv runs the folder's `./check` script, as the account that runs sv (root). A service folder that
 * another account can change (its own, supervised by a runsv it runs itself) then has root run that account's
 * program: named by any profile (an untrusted one too, with no command of its own and no --allow-profile-commands),
 * at every backup and restore. Shown with a real unprivileged account, its own runsv and a check script that
 * notes who runs it.
 */
const USER = 'er-attack2';
const runit = requireRunit();
const why = restoreTestsBlocked() ?? (runit.skip ? runit.reason : undefined);

let work: string;
let acct: string;
let svc: string;
let runsv: ChildProcess | undefined;
/** The second case's runsv: the account's, on a service folder of root's whose supervise folder is the account's. */
let runsv2: ChildProcess | undefined;
const ranAs = (): string => path.join(acct, 'ran-as');
/** How many times root ran the account's check (it writes the uid that ran it, one line each). */
const rootRuns = async (): Promise<number> =>
  (await fsp.readFile(ranAs(), 'utf8').catch(() => '')).split('\n').filter((l) => l === '0').length;
/** The account starts its own service (its check then runs as the account, which is no harm). */
const accountStarts = (): void => shAs(USER, 'sv -w 5 start "$1" >/dev/null', svc);

beforeAll(async () => {
  if (why) return;
  ensureTestOwner(USER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-runit-check-'));
  await fsp.chmod(work, 0o755);
  acct = path.join(work, 'acct');
  await fsp.mkdir(acct);
  shAs(USER, 'true'); // the account exists and can run
  await fsp.chown(acct, ...(await ids()));
  svc = path.join(acct, 'svc');
  // The account's own service: a program that runs, and a check that writes who ran it.
  shAs(
    USER,
    'mkdir "$1" "$1/data" && printf "#!/bin/sh\\nexec sleep 1000\\n" > "$1/run" && ' +
      'printf "#!/bin/sh\\nid -u >> %s\\nexit 0\\n" "$2" > "$1/check" && chmod 755 "$1/run" "$1/check" && echo x > "$1/data/f"',
    svc,
    ranAs(),
  );
  runsv = spawn('setpriv', asAccountArgs(USER, 'runsv', svc), { cwd: '/', stdio: 'ignore', detached: true });
  for (const until = Date.now() + 15_000; !existsSync(path.join(svc, 'supervise', 'ok')); ) {
    if (Date.now() > until) throw new Error('the account’s runsv did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
});
afterAll(async () => {
  if (why) return;
  for (const [r, dir] of [
    [runsv, svc],
    [runsv2, path.join(work, 'rootsvc')],
  ] as const) {
    if (r?.pid !== undefined) {
      try {
        process.kill(-r.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // The service's own sleep, started by the account's runsv.
    const pid = await fsp.readFile(path.join(dir, 'supervise', 'pid'), 'utf8').catch(() => '');
    if (/^\d+/.test(pid)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  await fsp.rm(work, { recursive: true, force: true });
});

async function ids(): Promise<[number, number]> {
  const { uidForUser, gidForGroup } = await import('../../src-main/engine/util/system-users.js');
  return [uidForUser(USER)!, gidForGroup(USER)!];
}

/** runit's own word on the service (plain `sv status` runs no check). */
function svStatus(): string {
  return execFileSync('sv', ['status', svc], { encoding: 'utf8' }).split(':')[0]!;
}

describe.skipIf(why !== undefined)(`a runit service folder another account can change${why ? ` (${why})` : ''}`, () => {
  it('is refused before sv stops or starts it: root never runs its check', async () => {
    accountStarts();
    expect(svStatus()).toBe('run');
    const s = serviceFor({ manager: 'runit', name: svc, stopTimeoutSeconds: 5, startTimeoutSeconds: 5 });
    const status = await rejection(s.status());
    expect(status.code).toBe('UNSAFE_PATH');
    const stop = await rejection(s.stop());
    expect(stop.code).toBe('UNSAFE_PATH');
    expect(stop.message).toContain(svc);
    const start = await rejection(s.start());
    expect(start.code).toBe('UNSAFE_PATH');
    expect(await rootRuns()).toBe(0);
    expect(svStatus()).toBe('run'); // nothing was stopped
  });

  it('backup --profile with an untrusted profile naming it: exit 4, nothing stopped, the check never runs as root', async () => {
    accountStarts();
    expect(svStatus()).toBe('run');
    const file = path.join(acct, 'site.json');
    const raw = JSON.parse(
      plantedProfile({ id: 'site-app', productName: 'Site App', item: { id: 'Data', path: path.join(svc, 'data') } }),
    ) as Record<string, unknown>;
    raw.service = { manager: 'runit', name: svc, stopTimeoutSeconds: 5, startTimeoutSeconds: 5 };
    delete raw.stopService; // the default: the backup stops the service and starts it again
    shAs(USER, 'cat > "$1"', file);
    await fsp.writeFile(file, JSON.stringify(raw)); // root writes through; the file stays the account's
    const r = await runCli(
      ['backup', '--profile', file, '--to', path.join(work, 'out'), '--yes', '--state-dir', path.join(work, 'state')],
      {
        env: { EDGE_RECOVERY_PDF: 'off' },
      },
    );
    expect(await rootRuns()).toBe(0);
    expect(r.code, r.stderr + r.stdout).toBe(4);
    expect(r.stderr).toMatch(/check/);
    // Refused before the job noted a stop: it does not try to start again a service it never stopped.
    expect(r.stdout + r.stderr).not.toMatch(/could not be started again/);
    expect(svStatus()).toBe('run');
  });

  it("refuses a folder of root's whose supervise folder is the account's: sv would write its command into any file", async () => {
    // Root's service folder (root's, 755, in root's folders), its supervise folder given to the account, which runs
    // runsv on it (runsv needs to write there); then the account links supervise/control to a root-only file.
    const dir = path.join(work, 'rootsvc');
    await fsp.mkdir(path.join(dir, 'supervise'), { recursive: true, mode: 0o755 });
    await fsp.writeFile(path.join(dir, 'run'), '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 });
    await fsp.chown(path.join(dir, 'supervise'), ...(await ids()));
    const secret = path.join(work, 'root-only');
    await fsp.mkdir(secret, { mode: 0o700 });
    const victim = path.join(secret, 'shadow');
    await fsp.writeFile(victim, 'root:$y$j9T$secret:20000:0:99999:7:::\n', { mode: 0o600 });
    runsv2 = spawn('setpriv', asAccountArgs(USER, 'runsv', dir), { cwd: '/', stdio: 'ignore', detached: true });
    for (const until = Date.now() + 15_000; !existsSync(path.join(dir, 'supervise', 'ok')); ) {
      if (Date.now() > until) throw new Error('the account’s runsv did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    shAs(USER, 'cd "$1/supervise" && mv control control.fifo && ln -s "$2" control', dir, victim);

    const s = serviceFor({ manager: 'runit', name: dir, stopTimeoutSeconds: 2, startTimeoutSeconds: 2 });
    const stop = await s.stop().then(
      () => null,
      (e: unknown) => e as { code?: string },
    );
    // Root wrote nothing through the account's link (before: "doot:$y$j9T…", the stop's "d" over the first byte).
    expect(await fsp.readFile(victim, 'utf8')).toBe('root:$y$j9T$secret:20000:0:99999:7:::\n');
    expect(stop?.code).toBe('UNSAFE_PATH');
    const status = await rejection(s.status());
    expect(status.code).toBe('UNSAFE_PATH');
    expect(status.message).toMatch(/supervise belongs to uid/);
  });
});
