import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountArgs } from '../helpers/as-account.js';
import { builtFile, cliCommand, runCli } from '../helpers/cli.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';

/**
 * `serve --port` listens on 127.0.0.1, which every account of the box can reach. Without a session it answers
 * nothing, but each connection it accepts holds one of root's file descriptors for as long as the other side keeps
 * it open: an unprivileged account that opens as many connections as serve may have descriptors leaves the process
 * none, and the job it runs (a restore, a backup) fails on its next open (EMFILE), as does the control socket's
 * `serve --new-link`. Shown with a real unprivileged account and serve started with 600 descriptors (the box's
 * limit is larger; so is the number of connections an account can open).
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const USER = 'er-attack2';
const LIMIT = 600;
const why = restoreTestsBlocked() ?? (existsSync('/usr/bin/prlimit') ? undefined : 'prlimit (util-linux) is missing');

/** The account's connections: opened all at once, then held without a byte sent until stdin closes. */
const FLOOD = `
import socket, sys
socks = []
for i in range(int(sys.argv[2])):
    try:
        socks.append(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5))
    except OSError as e:
        print('refused at', i, e, flush=True)
        break
print('held', len(socks), flush=True)
sys.stdin.read()
`;

let base: string;
let serve: ChildProcess | undefined;
let flood: ChildProcess | undefined;
let serve2: ChildProcess | undefined;
let flood2: ChildProcess | undefined;
let serve3: ChildProcess | undefined;

beforeAll(async () => {
  if (why) return;
  if (!existsSync(builtFile('renderer/index.html'))) {
    throw new Error(`${builtFile('renderer')} is missing: run "npm run build" first (npm test does)`);
  }
  ensureTestOwner(USER);
  base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-flood-'));
});
afterAll(async () => {
  for (const c of [flood, serve, flood2, serve2, serve3]) {
    if (c && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  }
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

function signIn(port: number, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: `/?token=${token}`, headers: { Host: `127.0.0.1:${port}` }, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(why !== undefined)(
  `serve on a loopback port, flooded by another account${why ? ` (${why})` : ''}`,
  () => {
    it('keeps descriptors for its own work: the control socket still answers, and a link works once the account lets go', async () => {
      const stateDir = path.join(base, 'state');
      serve = spawn(
        'prlimit',
        [`--nofile=${LIMIT}:${LIMIT}`, process.execPath, ...cliCommand(), 'serve', '--state-dir', stateDir],
        {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, EDGE_RECOVERY_PDF: 'off' },
        },
      );
      let out = '';
      serve.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      serve.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      for (const until = Date.now() + 60_000; !/token=/.test(out); ) {
        if (serve.exitCode !== null || Date.now() > until) throw new Error(`serve did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);

      flood = spawn(
        'setpriv',
        asAccountArgs(USER, '/usr/bin/python3', '-c', FLOOD, String(port), String(LIMIT + 100)),
        {
          cwd: '/',
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      let said = '';
      flood.stdout!.on('data', (d: Buffer) => (said += d.toString()));
      for (const until = Date.now() + 60_000; !/held \d+/.test(said); ) {
        if (flood.exitCode !== null || Date.now() > until) throw new Error(`the account's connections: ${said}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Every connection the account asked for was made (the kernel completes them before serve accepts).
      expect(said).toMatch(new RegExp(`held ${LIMIT + 100}`));
      await new Promise((r) => setTimeout(r, 1000));

      // Root's serve still has descriptors of its own: far fewer are open than its limit, and it answers its control
      // socket (before: every descriptor held by the account's connections; --new-link got no answer).
      const link = await runCli(['serve', '--new-link', '--state-dir', stateDir]);
      expect(link.code, link.stderr + link.stdout).toBe(0);
      expect((await fsp.readdir(`/proc/${serve.pid}/fd`)).length).toBeLessThan(LIMIT / 2);
      const token = /token=([\w-]+)/.exec(link.stdout)![1]!;

      // The account lets go: the technician signs in with the fresh link.
      flood.stdin!.end();
      await new Promise((r) => flood!.once('exit', r));
      await new Promise((r) => setTimeout(r, 500));
      expect(await signIn(port, token)).toBe(303);
    });

    it("lets the technician sign in while the account holds its connections: the account's own are closed first", async () => {
      serve2 = spawn(process.execPath, [...cliCommand(), 'serve', '--state-dir', path.join(base, 'state2')], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, EDGE_RECOVERY_PDF: 'off' },
      });
      let out = '';
      serve2.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      serve2.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      for (const until = Date.now() + 60_000; !/token=/.test(out); ) {
        if (serve2.exitCode !== null || Date.now() > until) throw new Error(`serve did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
      const token = /token=([\w-]+)/.exec(out)![1]!;
      flood2 = spawn('setpriv', asAccountArgs(USER, '/usr/bin/python3', '-c', FLOOD, String(port), '300'), {
        cwd: '/',
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let said = '';
      flood2.stdout!.on('data', (d: Buffer) => (said += d.toString()));
      for (const until = Date.now() + 60_000; !/held \d+/.test(said); ) {
        if (flood2.exitCode !== null || Date.now() > until) throw new Error(`the account's connections: ${said}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1000));
      // The account still holds every connection it opened (none was refused by the kernel); serve holds at most 64.
      expect(said).toMatch(/held 300/);
      expect((await fsp.readdir(`/proc/${serve2.pid}/fd`)).length).toBeLessThan(120);
      // Before: the technician's connection was closed as soon as it was accepted (serve was full of the account's).
      expect(await signIn(port, token)).toBe(303);
      expect(flood2.exitCode).toBeNull();
    });

    it('refuses the one-time link to another account that read it first, without spending it', async () => {
      serve3 = spawn(process.execPath, [...cliCommand(), 'serve', '--state-dir', path.join(base, 'state3')], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, EDGE_RECOVERY_PDF: 'off' },
      });
      let out = '';
      serve3.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      serve3.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      for (const until = Date.now() + 60_000; !/token=/.test(out); ) {
        if (serve3.exitCode !== null || Date.now() > until) throw new Error(`serve did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
      const token = /token=([\w-]+)/.exec(out)![1]!;
      // The account (which read the link from a browser's command line, say) asks first, as a browser would.
      const GET = `
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)
c.request('GET', '/?token=' + sys.argv[2], headers={'Host': '127.0.0.1:' + sys.argv[1]})
r = c.getresponse()
print(r.status, r.getheader('Set-Cookie') or '', r.read().decode())
`;
      const said = execFileSync('setpriv', asAccountArgs(USER, '/usr/bin/python3', '-c', GET, String(port), token), {
        cwd: '/',
        encoding: 'utf8',
      });
      // Before: "303 erw_session_…" (the account held a session of root's wizard; the technician's link was spent).
      expect(said).toMatch(/^403 {2}Refused: the sign-in link was opened by another account of this machine/);
      expect(await signIn(port, token)).toBe(303);
    });
  },
);
