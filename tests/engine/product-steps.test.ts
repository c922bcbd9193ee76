import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import { runProductStep, removeWork, type ProductHost } from '../../src-main/engine/runbook/product/product-steps.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import type { RunbookEvent } from '../../src-main/engine/runbook/types.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { accountFor } from '../../src-main/engine/runbook/product/run-command.js';
import { productHost, stepsProfile } from '../helpers/product-host.js';
import { rejection } from '../helpers/rejection.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';
import { startRunsvdir, type RunitTree } from '../helpers/runit.js';

const why = restoreTestsBlocked();
const USER = 'er-steps';

const base = { title: 'A step', explain: 'It does a thing.', at: 'backup.after-stop' };

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'product-steps-'));
  await fsp.chmod(dir, 0o755); // the step's own user runs scripts from here
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
  // Steps run in a work folder of their own (/tmp/edge-recovery-work-*): the runbooks remove it, so do we.
  for (const h of hosts) await removeWork(h);
});

const hosts: ProductHost[] = [];

async function script(name: string, body: string): Promise<string> {
  const f = path.join(dir, name);
  await fsp.writeFile(f, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return f;
}

function host(profile: Profile, over: Partial<ProductHost> = {}): ProductHost {
  const h = productHost(profile, over);
  hosts.push(h);
  return h;
}

function sink(): { log: (m: string) => void; progress: () => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (m) => lines.push(m), progress: () => undefined, lines };
}

async function runOne(step: Record<string, unknown>, over: Partial<ProductHost> = {}) {
  const p = stepsProfile([{ ...base, ...step }]);
  const s = sink();
  const h = host(p, over);
  const run = runProductStep(h, p.steps[0]!, s);
  return { run, s, h };
}

describe('product steps: validation', () => {
  const bad = (step: Record<string, unknown>): string => {
    try {
      stepsProfile([{ ...base, ...step }]);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('the profile was accepted');
  };

  it('refuses shell characters in argv, a shell with -c, and the passphrase on the command line', () => {
    expect(bad({ id: 'x', kind: 'command', argv: ['/bin/echo', 'a; rm -rf /'] })).toContain('shell characters');
    expect(bad({ id: 'x', kind: 'command', argv: ['/bin/echo', '$(id)'] })).toContain('shell characters');
    expect(bad({ id: 'x', kind: 'command', argv: ['/bin/sh', '-c', 'echo hi'] })).toContain('not a shell with -c');
    expect(bad({ id: 'x', kind: 'command', argv: ['/x', '--pass={passphrase}'] })).toContain('may not appear in argv');
    expect(bad({ id: 'x', kind: 'command', argv: ['/x'], env: { P: '{passphrase}' } })).toContain('environment');
  });

  it('needs a confirmation for a reset, artifacts at the archive point, and ids of its own', () => {
    expect(bad({ id: 'x', kind: 'reset', at: 'restore.after-stop', argv: ['/x'] })).toContain('confirm');
    expect(bad({ id: 'x', kind: 'artifact', path: '/x' })).toContain('backup.archive');
    expect(bad({ id: 'swap', kind: 'command', argv: ['/x'] })).toContain("runbook's own steps");
    expect(bad({ id: 'x', kind: 'command', argv: ['/x', '{artifact:nope}'] })).toContain('names no artifact step');
    expect(bad({ id: 'x', kind: 'command', argv: ['/x'], failurePattern: '(' })).toContain('regular expression');
  });
});

describe.skipIf(why !== undefined)('product steps on real processes', () => {
  beforeAll(() => ensureTestOwner(USER));

  it('runs a command as the named user with a clean environment, answers its prompt, never shows the passphrase', async () => {
    const prog = await script(
      'asks.sh',
      [
        'echo "uid=$(id -u) home=$HOME secret=${EDGE_RECOVERY_PASSPHRASE:-none} token=${ER_TEST_TOKEN:-none} mode=$MODE"',
        'printf "Enter the backup password: "',
        'read pw',
        'echo "got ${#pw} characters"',
        'echo "Restore successfully"',
      ].join('\n'),
    );
    process.env.ER_TEST_TOKEN = 'leaky';
    try {
      const { run, s } = await runOne(
        {
          id: 'ask',
          kind: 'command',
          argv: [prog],
          user: USER,
          env: { MODE: 'test' },
          answers: [{ prompt: 'password:\\s*$', answer: '{passphrase}' }],
          successPattern: '^Restore successfully$',
        },
        { passphrase: 'hunter2-secret' },
      );
      const summary = await run;
      expect(summary).toContain('exit code 0');
      const all = s.lines.join('\n');
      expect(all).toContain(`uid=${accountFor(USER).uid}`);
      expect(all).toContain('secret=none token=none mode=test');
      expect(all).toContain('got 14 characters');
      expect(all).not.toContain('hunter2-secret');
    } finally {
      delete process.env.ER_TEST_TOKEN;
    }
  });

  it('a command that outlives its timeout is stopped with its whole process group', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const prog = await script('hangs.sh', `sleep 300 &\necho $! > ${pidFile}\necho started\nwait`);
    const { run } = await runOne({ id: 'hang', kind: 'command', argv: [prog], timeoutSeconds: 1 });
    const e = await rejection(run);
    expect(e.code).toBe('STEP_TIMEOUT');
    expect(e.message).toContain('did not finish within 1 s');
    expect(e.message).toContain('started');
    const child = Number(await fsp.readFile(pidFile, 'utf8'));
    await expect.poll(() => alive(child), { timeout: 8000 }).toBe(false);
  });

  it('a failure pattern ends the command at once, even when it would go on', async () => {
    const prog = await script('fails.sh', 'echo "Import started"\necho "ERROR: graph is locked"\nsleep 30\necho done');
    const started = Date.now();
    const { run } = await runOne({ id: 'f', kind: 'command', argv: [prog], failurePattern: '^ERROR:' });
    const e = await rejection(run);
    expect(e.code).toBe('STEP_FAILED');
    expect(e.message).toContain('ERROR: graph is locked');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a wrong exit code fails with the last output; a missing success line fails too', async () => {
    const prog = await script('exit3.sh', 'echo "cannot write /opt/x"\nexit 3');
    const e = await rejection((await runOne({ id: 'e', kind: 'command', argv: [prog] })).run);
    expect(e.code).toBe('STEP_FAILED');
    expect(e.message).toMatch(/exit code 3 \(expected 0\).*cannot write/);
    const quiet = await script('quiet.sh', 'echo "nothing to say"');
    const e2 = await rejection(
      (await runOne({ id: 'q', kind: 'command', argv: [quiet], successPattern: 'Restore successfully' })).run,
    );
    expect(e2.message).toContain('without saying /Restore successfully/');
  });

  it('a prompt that never comes: the program ends without it, or waits silently until the timeout', async () => {
    const ends = await script('noprompt.sh', 'echo "no questions today"');
    const e = await rejection(
      (await runOne({ id: 'p', kind: 'command', argv: [ends], answers: [{ prompt: 'backup path', answer: 'x' }] })).run,
    );
    expect(e.code).toBe('STEP_FAILED');
    expect(e.message).toContain('ended without asking /backup path/');
    const waits = await script('waits.sh', 'echo "thinking"\nsleep 60');
    const e2 = await rejection(
      (
        await runOne({
          id: 'w',
          kind: 'command',
          argv: [waits],
          timeoutSeconds: 1,
          answers: [{ prompt: 'backup path', answer: 'x' }],
        })
      ).run,
    );
    expect(e2.code).toBe('STEP_TIMEOUT');
    expect(e2.message).toContain('did not ask /backup path/ within 1 s');
  });

  describe('http and follow-log', () => {
    let server: Server;
    let port = 0;
    let running = 2;
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/transactions') {
          // Two transactions that end one per request: a precheck that waits and retries sees them go.
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ running: Math.max(0, running--) }));
        } else if (req.url === '/stuck') {
          res.end(JSON.stringify({ running: 1 }));
        } else {
          res.statusCode = 503;
          res.end('{}');
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    const api = () => ({ api: { baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v' } });

    it('retries until the expected value comes, or explains after the last try', async () => {
      const step = {
        ...base,
        id: 'tx',
        kind: 'http',
        path: '/transactions',
        expect: { pointer: '/running', equals: 0 },
      };
      const p = stepsProfile([{ ...step, retries: 5, retryDelaySeconds: 0.05 }], api());
      const s = sink();
      expect(await runProductStep(host(p), p.steps[0]!, s)).toContain('after 2 retries');
      const p2 = stepsProfile(
        [{ ...step, path: '/stuck', retries: 2, retryDelaySeconds: 0.05, failMessage: 'Wait until charging ends.' }],
        api(),
      );
      const e = await rejection(runProductStep(host(p2), p2.steps[0]!, sink()));
      expect(e.code).toBe('STEP_FAILED');
      expect(e.message).toContain('after 3 tries: /running is 1, not 0');
      expect(e.hint).toBe('Wait until charging ends.');
      const p3 = stepsProfile([{ ...step, path: '/down' }], api());
      expect((await rejection(runProductStep(host(p3), p3.steps[0]!, sink()))).message).toContain('HTTP 503');
    });

    it('follows a log from where it stood: success, failure pattern, timeout', async () => {
      const log = path.join(dir, 'product.log');
      await fsp.writeFile(log, 'Import complete (an old line, before the step)\n');
      const follow = (more: Record<string, unknown> = {}) =>
        stepsProfile([
          {
            ...base,
            id: 'log',
            kind: 'follow-log',
            file: log,
            successPattern: 'Import complete',
            failurePattern: 'Import failed',
            timeoutSeconds: 3,
            ...more,
          },
        ]);
      const p = follow();
      const h = host(p);
      h.state.offsets.log = (await fsp.stat(log)).size;
      const done = runProductStep(h, p.steps[0]!, sink());
      setTimeout(() => void fsp.appendFile(log, 'Importing 10%\nImport complete in 2 s\n'), 300);
      expect(await done).toContain('Import complete in 2 s');
      const p2 = follow();
      const h2 = host(p2);
      const bad = runProductStep(h2, p2.steps[0]!, sink());
      setTimeout(() => void fsp.appendFile(log, 'Import failed: wrong graph\n'), 300);
      expect((await rejection(bad)).message).toContain('Import failed: wrong graph');
      const p3 = follow({ timeoutSeconds: 1 });
      const e = await rejection(runProductStep(host(p3), p3.steps[0]!, sink()));
      expect(e.code).toBe('STEP_TIMEOUT');
      expect(e.message).toContain('did not report /Import complete/ within 1 s');
    });
  });

  describe('inside the backup runbook, with rollback', () => {
    let tree: RunitTree;
    let main: string;
    let second: string;
    beforeAll(async () => {
      tree = await startRunsvdir(path.join(dir, 'sv'), {
        main: '#!/bin/sh\nexec sleep 100000\n',
        graph: '#!/bin/sh\nexec sleep 100000\n',
      });
      [main, second] = tree.services as [string, string];
    });
    afterAll(() => tree.stop());

    async function failingBackup(failing: Record<string, unknown>) {
      const marker = path.join(dir, 'undone');
      await fsp.rm(marker, { force: true });
      const undo = await script('undo.sh', `echo undone > ${marker}`);
      const root = path.join(dir, 'root');
      await fsp.mkdir(path.join(root, 'data'), { recursive: true });
      await fsp.writeFile(path.join(root, 'data', 'a.txt'), 'a');
      const profile = stepsProfile(
        [
          {
            id: 'stop-graph',
            title: 'Stop the graph database',
            explain: 'The second service stops.',
            at: 'backup.before-stop',
            kind: 'service',
            action: 'stop',
            service: { manager: 'runit', name: second, stopTimeoutSeconds: 10 },
          },
          {
            id: 'prepare',
            title: 'Prepare',
            explain: 'Something with an undo.',
            at: 'backup.after-stop',
            kind: 'command',
            argv: ['/bin/true'],
            undo: { kind: 'command', argv: [undo] },
          },
          { ...base, id: 'export', title: 'Export', at: 'backup.after-stop', ...failing },
        ],
        {
          service: { manager: 'runit', name: main, stopTimeoutSeconds: 10 },
          stopService: ['backup'],
          items: [{ id: 'Data', path: path.join(root, 'data') }],
        },
      );
      const events: RunbookEvent[] = [];
      const e = await rejection(
        runBackup(
          { profile, to: path.join(dir, 'stick'), deviceId: 'dev-1' },
          { emit: (ev) => events.push(ev), interaction: autoConfirm },
        ),
      );
      // Rolled back: the undo ran, both services run again, no unfinished set is left on the stick.
      expect(await fsp.readFile(marker, 'utf8')).toBe('undone\n');
      expect((await serviceFor(profile.service).status()).state).toBe('running');
      expect((await serviceFor({ ...profile.service, name: second }).status()).state).toBe('running');
      const sets = await fsp.readdir(path.join(dir, 'stick', 'EdgeRecovery', 'dev-1')).catch(() => []);
      expect(sets).toEqual([]);
      const plan = events.find((x) => x.type === 'plan');
      expect(plan?.type === 'plan' && plan.steps.map((x) => x.id)).toEqual([
        'prechecks',
        'version',
        'stop-graph',
        'stop-service',
        'open-files',
        'prepare',
        'export',
        'archive',
        'verify',
        'start-service',
        'retention',
      ]);
      return e;
    }

    it('a timed-out export puts back everything done before it', async () => {
      const slow = await script('slow.sh', 'sleep 60');
      const e = await failingBackup({ kind: 'command', argv: [slow], timeoutSeconds: 1 });
      expect(e.code).toBe('STEP_TIMEOUT');
    });

    it('an export that reports a failure, or exits wrong, puts back everything too', async () => {
      const says = await script('says.sh', 'echo "Export failed: StackGraph is not running"\nsleep 20');
      expect((await failingBackup({ kind: 'command', argv: [says], failurePattern: 'failed' })).code).toBe(
        'STEP_FAILED',
      );
      const exits = await script('exits.sh', 'exit 2');
      expect((await failingBackup({ kind: 'command', argv: [exits] })).message).toContain('exit code 2');
    });

    it('a prompt that never comes puts back everything too', async () => {
      const mute = await script('mute.sh', 'sleep 60');
      const e = await failingBackup({
        kind: 'command',
        argv: [mute],
        timeoutSeconds: 1,
        answers: [{ prompt: 'Enter the path', answer: '/x' }],
      });
      expect(e.message).toContain('did not ask /Enter the path/');
    });
  });
});

function alive(pid: number): boolean {
  try {
    const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}
