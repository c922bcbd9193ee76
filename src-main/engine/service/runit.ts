import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { resolveTrusted } from '../util/linked-folder.js';
import { execFileResult, firstLine } from './exec.js';
import type { ExecFn, ExecResult, ServiceControl, ServiceDeps, ServiceStatus } from './types.js';
import { pollUntil } from './wait-for.js';

/** runit looks a bare name up under /etc/service; we make that explicit so messages show the real folder. */
export function runitServiceDir(name: string): string {
  return path.isAbsolute(name) ? name : path.join('/etc/service', name);
}

/**
 * Parses one `sv status` line:
 *   run: /x: (pid 123) 5s[, normally down][, want down[, got TERM]]
 *   down: /x: 3s, normally up[, want up]
 *   finish: /x: (pid 123) 1s
 *   fail: /x: unable to change to service directory: file does not exist
 *   warning: /x: unable to open supervise/ok: file does not exist   (no runsv for it)
 * sv prefixes the answer to stop/start with "ok: " or "timeout: ".
 */
export function parseSvStatus(out: string): ServiceStatus {
  const line = firstLine(out).replace(/^(ok|timeout):\s*/, '');
  const detail = line;
  const pidM = /\(pid (\d+)\)/.exec(line);
  const pid = pidM ? Number(pidM[1]) : undefined;
  const withPid = (state: ServiceStatus['state']): ServiceStatus =>
    pid === undefined ? { state, detail } : { state, pid, detail };
  if (line.startsWith('run:')) return withPid(/want down/.test(line) ? 'stopping' : 'running');
  if (line.startsWith('finish:')) return withPid(/want up/.test(line) ? 'starting' : 'stopping');
  if (line.startsWith('down:')) return { state: /want up/.test(line) ? 'starting' : 'stopped', detail };
  if (line.startsWith('fail:') && /unable to change to service directory/.test(line))
    return { state: 'not-found', detail };
  return { state: 'unknown', detail: detail || 'sv printed nothing' };
}

/**
 * Why `sv -w` must not be run on the service folder `dir`, or null. `-w` makes sv verbose, and a verbose sv runs the
 * folder's `./check` once the service is up, as the account that runs sv (root): whoever can change the folder, the
 * way to it or its check (its owner, supervised by a runsv of its own) would have root run a program of its choosing,
 * named by any profile, an untrusted one too. So the way to the folder, its links, the folder itself, a check in it and
 * its supervise folders (where sv writes) must be root's (or this account's) and not writable by group or others. A
 * folder that does not exist is left to sv, which says so.
 */
export function serviceFolderProblem(dir: string): string | null {
  if (process.platform === 'win32') return null;
  const me = process.geteuid?.() ?? 0;
  const why = (e: unknown): string => (e as { why?: string }).why ?? (e as Error).message;
  const fail = (_place: string, w: string): Error => Object.assign(new Error(w), { why: w });
  const judge = (p: string, st: { uid: number; mode: number }): string | null =>
    st.uid !== 0 && st.uid !== me
      ? `${p} belongs to uid ${st.uid}`
      : (st.mode & 0o022) !== 0
        ? `${p} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`
        : null;
  try {
    const folder = resolveTrusted(dir, fail);
    if (folder.st === null) return null;
    const own = judge(folder.place, folder.st);
    if (own !== null) return own;
    const check = resolveTrusted(path.join(dir, 'check'), fail);
    if (check.st !== null) {
      const bad = judge(check.place, check.st);
      if (bad !== null) return bad;
    }
    // sv writes its command ("d", "u") into supervise/control, opened by its name and following links, and opens
    // supervise/ok (also log/supervise/ok for a status) for writing: a supervise folder another account may change
    // (one it owns, for a runsv it runs on root's folder) lets it link `control` to any file, into which root then
    // writes that byte (over the first character of /etc/shadow, say). runsv makes these folders as the account it
    // runs as: root's runsv, root's folders.
    for (const sub of ['supervise', 'log/supervise']) {
      const sup = resolveTrusted(path.join(dir, sub), fail);
      if (sup.st === null) continue;
      const bad = judge(sup.place, sup.st);
      if (bad !== null) return bad;
    }
    return null;
  } catch (e) {
    return why(e);
  }
}

export function runitService(
  name: string,
  timeouts: { stopSeconds: number; startSeconds: number },
  deps: ServiceDeps = {},
): ServiceControl {
  const exec: ExecFn = deps.exec ?? execFileResult;
  const dir = runitServiceDir(name);
  const label = `runit service ${dir}`;

  function notFound(detail: string): RecoveryError {
    return new RecoveryError('SERVICE_NOT_FOUND', `The ${label} is not installed on this machine (${detail}).`, {
      hint: 'Check the service folder in the profile; `ls /etc/service` lists the services runit knows.',
    });
  }

  function unsupervised(detail: string): RecoveryError {
    return new RecoveryError('SERVICE_FAILED', `runit does not supervise the ${label}: ${detail}`, {
      hint: 'Is runsvdir running for this folder? (`ps -ef | grep runsv`)',
    });
  }

  /**
   * Refused before sv is asked anything (the status first asked before a stop too): a stop refused after the job
   * noted it would stop the service had it try to start it again and say it could not, while it ran all along.
   */
  function refuseUnsafeFolder(): void {
    const unsafe = serviceFolderProblem(dir);
    if (unsafe === null) return;
    throw new RecoveryError(
      'UNSAFE_PATH',
      `The ${label} is not safe to stop or start as root: ${unsafe}. sv runs the folder's ./check script as root when it starts the service, so whoever can change it would run a program of their choosing as root. Nothing was stopped or started.`,
      {
        hint: `Make the service folder, its check script and every folder and link on the way to it root's and not writable by group or others (chown root:root, chmod go-w), or stop and start the service yourself; then start again.`,
        details: { dir },
      },
    );
  }

  async function status(): Promise<ServiceStatus> {
    refuseUnsafeFolder();
    const r = await exec('sv', ['status', dir]);
    if (r.code === 127)
      throw new RecoveryError('SERVICE_FAILED', `Cannot query the ${label}: sv (runit) is not installed.`);
    const s = parseSvStatus(r.stdout || r.stderr);
    if (s.state === 'unknown' && /supervise\/ok/.test(s.detail)) throw unsupervised(s.detail);
    return s;
  }

  async function control(verb: 'stop' | 'start', seconds: number): Promise<void> {
    refuseUnsafeFolder();
    const r: ExecResult = await exec('sv', ['-w', String(seconds), verb, dir], { timeoutMs: (seconds + 30) * 1000 });
    const out = r.stdout || r.stderr;
    if (r.code === 127)
      throw new RecoveryError('SERVICE_FAILED', `Cannot ${verb} the ${label}: sv (runit) is not installed.`);
    const s = parseSvStatus(out);
    if (r.code === 0) return;
    if (s.state === 'not-found') throw notFound(s.detail);
    if (/supervise\/ok/.test(out)) throw unsupervised(firstLine(out));
    if (/^timeout:/m.test(out)) {
      throw new RecoveryError(
        'SERVICE_TIMEOUT',
        `The ${label} did not ${verb} within ${seconds} s; runit says: ${s.detail}`,
        {
          hint:
            verb === 'stop'
              ? 'The program ignores the stop request. Check its log; `sv kill` forces it down.'
              : 'Check the service log for start-up errors.',
          details: { state: s.state, pid: s.pid },
        },
      );
    }
    throw new RecoveryError(
      'SERVICE_FAILED',
      `Could not ${verb} the ${label}: ${firstLine(out) || `exit code ${r.code}`}`,
    );
  }

  return {
    label,
    status,
    stop: () => control('stop', timeouts.stopSeconds),
    start: () => control('start', timeouts.startSeconds),
    waitFor: (state, timeoutMs, signal) => pollUntil(label, status, state, timeoutMs, { signal, pollMs: deps.pollMs }),
  };
}
