import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logScheduledRun, readRunLog, RUN_LOG_FILE, type RunLogEntry } from '../../src-main/engine/schedule/run-log.js';
import type { ExecFn } from '../../src-main/engine/service/types.js';
import { uidForUser } from '../../src-main/engine/util/system-users.js';
import { shAs } from '../helpers/as-account.js';
import { isRoot } from '../helpers/datasets.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * A scheduled run appends its line to <state>/scheduled-runs.jsonl as root, also when the run failed because its
 * state folder is unsafe (the job lock refuses it then). The line used to go in by path, following a link, into any
 * folder: a state folder others may write, with the file's name linked to a file of root's, had root append to that
 * file. Now only a root-only state folder gets the line, never through a link; the journal still gets it, and what
 * was not kept is said.
 */
const OWNER = 'edge-rlr';
const entry: RunLogEntry = {
  at: '2026-12-01T02:30:00.000Z',
  profileId: 'eds-linux',
  outcome: 'failed',
  detail: 'the stick is not mounted',
  postponed: 0,
};
/** logger(1) answering as it does when it sent the line. */
const sentLines: string[][] = [];
const exec: ExecFn = async (file, args) => {
  sentLines.push([file, ...args]);
  return { code: 0, stdout: '', stderr: '' };
};

describe.skipIf(!isRoot)('the scheduled run log in the state folder', () => {
  let work = '';
  let precious = '';
  const PRECIOUS = 'root:x:0:0:root:/root:/bin/bash\n';
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'run-log-'));
    precious = path.join(work, 'precious');
    await fsp.writeFile(precious, PRECIOUS, { mode: 0o600 });
  });
  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('goes into a root-only state folder, read back by schedule status', async () => {
    const state = path.join(work, 'state-ok');
    const r = await logScheduledRun(state, entry, { exec, platform: 'linux' });
    expect(r.problem).toBeUndefined();
    expect(await readRunLog(state, 'eds-linux')).toEqual([entry]);
    expect(((await fsp.stat(state)).mode & 0o777).toString(8)).toBe('700');
    expect(sentLines.at(-1)).toContain('scheduled backup eds-linux: failed: the stick is not mounted');
  });

  it('is not written into a state folder others may write, nor through a link there; the journal gets it', async () => {
    const state = path.join(work, 'state-shared');
    await fsp.mkdir(state);
    await fsp.chmod(state, 0o777);
    await fsp.symlink(precious, path.join(state, RUN_LOG_FILE));
    const r = await logScheduledRun(state, entry, { exec, platform: 'linux' });
    // Before: the line was appended to the linked file, and nothing said so.
    expect(await fsp.readFile(precious, 'utf8')).toBe(PRECIOUS);
    expect(r.problem).toContain(`not kept in ${path.join(state, RUN_LOG_FILE)}: The state folder ${state} is not safe`);
    expect(r.sentTo).toBe('the system journal (journalctl -t edge-recovery)');
  });

  it('is not written through a link at its name in a root-only state folder', async () => {
    const state = path.join(work, 'state-linked');
    await fsp.mkdir(state, { mode: 0o700 });
    await fsp.symlink(precious, path.join(state, RUN_LOG_FILE));
    const r = await logScheduledRun(state, entry, { exec, platform: 'linux' });
    expect(await fsp.readFile(precious, 'utf8')).toBe(PRECIOUS);
    expect(r.problem).toMatch(/^not kept in .*scheduled-runs\.jsonl: ELOOP/);
  });

  it('is not written into a state folder another account made just before root did', async () => {
    // A state folder not made yet, in a folder everyone may write (sticky, like /tmp): checked, then made. The
    // account makes it its own in between (the moment is the test's: right before root's mkdir), with a file of its
    // own by the log's name.
    ensureTestOwner(OWNER);
    await fsp.chmod(work, 0o755);
    const shared = path.join(work, 'shared');
    await fsp.mkdir(shared);
    await fsp.chmod(shared, 0o1777);
    const state = path.join(shared, 'state');
    const realMkdir = fsp.mkdir.bind(fsp);
    vi.spyOn(fsp, 'mkdir').mockImplementation((async (p: string, o?: unknown) => {
      if (p === state) shAs(OWNER, 'mkdir "$1" && printf "mine\\n" > "$1/$2"', state, RUN_LOG_FILE);
      return realMkdir(p, o as never);
    }) as typeof fsp.mkdir);
    let r: Awaited<ReturnType<typeof logScheduledRun>>;
    try {
      r = await logScheduledRun(state, entry, { exec, platform: 'linux' });
    } finally {
      vi.restoreAllMocks();
    }
    // The account's folder was there (the race was live), and root wrote nothing into it.
    expect((await fsp.stat(state)).uid).toBe(uidForUser(OWNER));
    expect(await fsp.readFile(path.join(state, RUN_LOG_FILE), 'utf8')).toBe('mine\n');
    expect(r.problem).toContain(`not kept in ${path.join(state, RUN_LOG_FILE)}: The state folder ${state} is not safe`);
  });
});
