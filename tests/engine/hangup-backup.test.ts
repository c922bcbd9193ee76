import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceFor } from '../../src-main/engine/service/index.js';
import type { ServiceControl } from '../../src-main/engine/service/types.js';
import { cliCommand } from '../helpers/cli.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { requireRunit } from '../helpers/runit.js';
import { Terminal, tmuxSkipReason } from '../helpers/tmux.js';

/**
 * A technician runs `edge-recovery backup` over SSH and the connection drops (the shell gets SIGHUP and passes it
 * on), or the backup is stopped with a plain `kill` (SIGTERM). Only Ctrl-C (SIGINT) cancelled the job; these two
 * ended the process on the spot with the product stopped, and it stayed down until somebody ran edge-recovery
 * again. They now cancel like Ctrl-C: the service is started again before the process ends.
 */
const runit = requireRunit();

describe.skipIf(runit.skip)(
  `a backup whose terminal goes away${runit.skip ? ` (skipped: ${runit.reason})` : ''}`,
  () => {
    let m: PracticeMachine;
    let work: string;
    let svc: ServiceControl;

    beforeAll(async () => {
      m = await startPracticeMachine();
      work = await fsp.mkdtemp(path.join(os.tmpdir(), 'hangup-backup-'));
      svc = serviceFor(m.profile.service, { pollMs: 50 });
    });

    afterAll(async () => {
      await m?.stop();
      if (work) await fsp.rm(work, { recursive: true, force: true });
    });

    for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
      it(`${signal} while the service is stopped for the backup: the service runs again when the process has ended`, async () => {
        // Each case starts with the product running (an earlier failure may have left it stopped).
        if ((await svc.status()).state !== 'running') {
          await svc.start();
          await svc.waitFor('running', 15_000);
        }
        const pauseFile = path.join(work, `pause-${signal}`);
        const child = spawn(
          process.execPath,
          [
            ...cliCommand(),
            'backup',
            '--profile',
            m.profilePath,
            '--root',
            m.root,
            '--to',
            path.join(work, `stick-${signal}`),
            '--device-id',
            'hangup-box',
            '--state-dir',
            path.join(work, `state-${signal}`),
            '--yes',
          ],
          {
            env: { ...process.env, EDGE_RECOVERY_PAUSE_AT: 'backup:stopped', EDGE_RECOVERY_PAUSE_FILE: pauseFile },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout.resume();
        const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.on('close', (code, sig) => resolve({ code, signal: sig })),
        );
        // Held right after the service stopped (the pause blocks the job until the file is gone).
        const until = Date.now() + 60_000;
        while (!existsSync(pauseFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        expect(existsSync(pauseFile), stderr).toBe(true);
        expect((await svc.status()).state).toBe('stopped');
        child.kill(signal);
        await new Promise((r) => setTimeout(r, 200));
        await fsp.rm(pauseFile, { force: true });
        const end = await ended;
        // No other edge-recovery command has run since: the product runs because the backup itself started it.
        expect((await svc.status()).state, `${JSON.stringify(end)}\n${stderr}`).toBe('running');
        expect(end.signal, stderr).toBeNull();
        expect(end.code, stderr).toBe(5);
      });
    }

    it.skipIf(tmuxSkipReason() !== null)(
      'the terminal closed while a question waits (before the stop): the process ends, the service runs',
      async () => {
        if ((await svc.status()).state !== 'running') {
          await svc.start();
          await svc.waitFor('running', 15_000);
        }
        const t = new Terminal([
          process.execPath,
          ...cliCommand(),
          'backup',
          '--profile',
          m.profilePath,
          '--root',
          m.root,
          '--to',
          path.join(work, 'stick-prompt'),
          '--device-id',
          'hangup-box',
          '--state-dir',
          path.join(work, 'state-prompt'),
          '--ticket',
          '1',
          '--site',
          's',
          '--technician',
          't',
        ]);
        try {
          await t.waitFor(/Type "yes"/, 1, 60_000);
          const pane = execFileSync('tmux', ['list-panes', '-t', t['name'] as string, '-F', '#{pane_pid}'], {
            encoding: 'utf8',
          }).trim();
          const pid = Number(execFileSync('pgrep', ['-P', pane], { encoding: 'utf8' }).trim().split('\n')[0]);
          expect(pid).toBeGreaterThan(0);
          // The SSH session goes away: the terminal closes and the job gets SIGHUP while it waits for an answer.
          t.close();
          const alive = (): boolean => {
            try {
              process.kill(pid, 0);
              return true;
            } catch {
              return false;
            }
          };
          const until = Date.now() + 20_000;
          while (alive() && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
          // A question nobody can answer any more must not keep the process (and the job lock) for ever.
          expect(alive(), 'the backup still runs with nobody to answer it').toBe(false);
          expect((await svc.status()).state).toBe('running');
        } finally {
          t.close();
        }
      },
    );
  },
);
