import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { execFileResult } from '../service/exec.js';
import type { ExecFn } from '../service/types.js';
import { checkStateDir } from '../util/job-lock.js';

/** One scheduled run, as the journal / event log and the state folder keep it. */
export interface RunLogEntry {
  at: string;
  profileId: string;
  outcome: 'verified' | 'missed' | 'failed';
  /** The backup written (verified), or why not. */
  detail: string;
  postponed: number;
}

export const RUN_LOG_FILE = 'scheduled-runs.jsonl';
export const SYSLOG_TAG = 'edge-recovery';

export function runLogLine(e: RunLogEntry): string {
  const after = e.postponed > 0 ? ` after ${e.postponed} postponement${e.postponed === 1 ? '' : 's'}` : '';
  return `scheduled backup ${e.profileId}: ${e.outcome}${after}: ${e.detail}`.replace(/[\r\n]+/g, ' ');
}

export interface RunLogDeps {
  exec?: ExecFn;
  platform?: NodeJS.Platform;
  /** syslog socket for logger(1) (tests: a private socket; default /dev/log, which journald reads). */
  syslogSocket?: string;
}

/**
 * Writes one line per scheduled run: to the journal through logger(1) (`journalctl -t edge-recovery`), or to
 * the Windows Application log through eventcreate (source EdgeRecovery; ID 1 verified, 2 missed, 3 failed),
 * and appends it to <state>/scheduled-runs.jsonl for `schedule status`. Logging never fails the run: a
 * logger that is missing is reported in the returned text.
 */
export async function logScheduledRun(
  stateDir: string,
  e: RunLogEntry,
  deps: RunLogDeps = {},
): Promise<{ sentTo: string; problem?: string }> {
  const exec = deps.exec ?? execFileResult;
  const line = runLogLine(e);
  const kept = await keepInStateDir(stateDir, e);
  const sent = await sendToSystemLog(line, e, exec, deps);
  const problem = [sent.problem, kept].filter((x) => x !== undefined).join('; ');
  return problem === '' ? { sentTo: sent.sentTo } : { sentTo: sent.sentTo, problem };
}

/**
 * Appends the run to <state>/scheduled-runs.jsonl, for `schedule status`; what went wrong, if anything. A run can fail
 * because its state folder is unsafe (the job lock refuses it), and the line is written as root: only into a state
 * folder judged root-only (checkStateDir, before and after it is made), and never through a link at the file's name.
 */
async function keepInStateDir(stateDir: string, e: RunLogEntry): Promise<string | undefined> {
  try {
    checkStateDir(stateDir);
    await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
    // Judged again once it is there: one not made yet in a folder everyone may write (sticky, like /tmp) could have
    // been made by another account between the check and the mkdir, which then finds it and says nothing.
    checkStateDir(stateDir);
    const fh = await fsp.open(
      path.join(stateDir, RUN_LOG_FILE),
      fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | (fsc.O_NOFOLLOW ?? 0),
      0o644,
    );
    try {
      await fh.appendFile(JSON.stringify(e) + '\n');
    } finally {
      await fh.close();
    }
    return undefined;
  } catch (err) {
    return `not kept in ${path.join(stateDir, RUN_LOG_FILE)}: ${(err as Error).message}`;
  }
}

async function sendToSystemLog(
  line: string,
  e: RunLogEntry,
  exec: ExecFn,
  deps: RunLogDeps,
): Promise<{ sentTo: string; problem?: string }> {
  if ((deps.platform ?? process.platform) === 'win32') {
    const type = e.outcome === 'verified' ? 'INFORMATION' : e.outcome === 'missed' ? 'WARNING' : 'ERROR';
    const id = e.outcome === 'verified' ? '1' : e.outcome === 'missed' ? '2' : '3';
    // eventcreate refuses descriptions longer than this.
    const r = await exec('eventcreate', [
      '/L',
      'APPLICATION',
      '/T',
      type,
      '/SO',
      'EdgeRecovery',
      '/ID',
      id,
      '/D',
      line.slice(0, 1000),
    ]);
    if (r.code !== 0 || !/^SUCCESS:/m.test(r.stdout)) {
      return { sentTo: 'nowhere', problem: `eventcreate failed: ${(r.stderr || r.stdout).trim()}` };
    }
    return { sentTo: 'the Windows Application event log (source EdgeRecovery)' };
  }
  const socket = deps.syslogSocket ?? process.env['EDGE_RECOVERY_SYSLOG_SOCKET'];
  const prio = e.outcome === 'verified' ? 'daemon.notice' : e.outcome === 'missed' ? 'daemon.warning' : 'daemon.err';
  const args = ['-t', SYSLOG_TAG, '-p', prio, ...(socket ? ['--socket', socket] : []), '--', line];
  const r = await exec('logger', args);
  if (r.code !== 0 || r.stderr.trim() !== '') {
    return { sentTo: 'nowhere', problem: `logger: ${(r.stderr || `exit code ${r.code}`).trim()}` };
  }
  return { sentTo: 'the system journal (journalctl -t edge-recovery)' };
}

export async function readRunLog(stateDir: string, profileId?: string): Promise<RunLogEntry[]> {
  const text = await fsp.readFile(path.join(stateDir, RUN_LOG_FILE), 'utf8').catch(() => '');
  const out: RunLogEntry[] = [];
  for (const l of text.split('\n')) {
    if (!l.trim()) continue;
    try {
      const e = JSON.parse(l) as RunLogEntry;
      if (profileId === undefined || e.profileId === profileId) out.push(e);
    } catch {
      // a torn last line after a power cut
    }
  }
  return out;
}
