import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtFile, cliCommand, runCli } from '../helpers/cli.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function request(
  where: { port: number } | { socketPath: string },
  p: string,
  host: string,
): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { ...('port' in where ? { host: '127.0.0.1', port: where.port } : where), path: p, headers: { Host: host } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Starts `edge-recovery serve …` as a real process and waits for the address it prints. */
async function startServe(args: string[]): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [...cliCommand(), 'serve', ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 60_000;
  while (!/token=/.test(out)) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, out: () => out };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

describe('edge-recovery serve from the command line', () => {
  let base: string;
  let serve: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(builtFile('renderer/index.html'))) {
      throw new Error(`${builtFile('renderer')} is missing: run "npm run build" first (npm test does)`);
    }
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-cli-'));
  });
  afterAll(async () => {
    await stop(serve);
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('serve --new-link prints a working fresh link from the running serve; the spent one stays spent', async () => {
    const stateDir = path.join(base, 'state');
    const s = await startServe(['--state-dir', stateDir]);
    serve = s.child;
    const url = new URL(/http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(s.out())![0]);
    expect(s.out()).toMatch(/Closed the tab\? Run "edge-recovery serve --new-link --state-dir .*" for a new link/);
    const port = Number(url.port);
    const host = `127.0.0.1:${port}`;
    expect((await request({ port }, url.pathname + url.search, host)).status).toBe(303);
    expect((await request({ port }, url.pathname + url.search, host)).status).toBe(401);

    const r = await runCli(['serve', '--new-link', '--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(0);
    const fresh = new URL(/http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(r.stdout)![0]);
    expect(fresh.port).toBe(url.port);
    expect(fresh.searchParams.get('token')).not.toBe(url.searchParams.get('token'));
    const signIn = await request({ port }, fresh.pathname + fresh.search, host);
    expect(signIn.status).toBe(303);
    expect(signIn.location).toMatch(/^\/#s=/);
    expect((await request({ port }, fresh.pathname + fresh.search, host)).status).toBe(401);
    expect((await request({ port }, url.pathname + url.search, host)).status).toBe(401);
    await stop(serve);

    const none = await runCli(['serve', '--new-link', '--state-dir', stateDir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/No running "edge-recovery serve" answers at .*control\.sock/);
  });

  it('serve --socket listens on a 0600 Unix socket and prints how to tunnel to it', async () => {
    const sock = path.join(base, 'run', 'serve.sock');
    const s = await startServe(['--socket', sock, '--state-dir', path.join(base, 'state2')]);
    serve = s.child;
    expect(s.out()).toContain(`ssh -N -L 8080:${sock}`);
    const link = /http:\/\/localhost:8080(\/\?token=[\w-]+)/.exec(s.out())![1]!;
    expect((await fsp.stat(sock)).mode & 0o777).toBe(0o600);
    expect((await request({ socketPath: sock }, link, 'localhost:8080')).status).toBe(303);
    const r = await runCli(['serve', '--new-link', '--state-dir', path.join(base, 'state2')]);
    expect(r.stdout).toMatch(/http:\/\/localhost:8080\/\?token=[\w-]+/);
    expect(r.stdout).toContain(`ssh -L 8080:${sock}`);
    await stop(serve);
  });
});
