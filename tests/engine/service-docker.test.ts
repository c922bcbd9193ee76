import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applianceClientFor } from '../../src-main/engine/appliance/client.js';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { loadProfile, resolveItems } from '../../src-main/engine/profiles/load.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import type { ExecFn, ExecResult } from '../../src-main/engine/service/types.js';

/** A recorded `docker` answer; the test checks the adapter ran exactly the recorded command line. */
function fixture(name: string): ExecResult & { argv: string[] } {
  const raw = JSON.parse(
    readFileSync(new URL(`../fixtures/service/docker/${name}.json`, import.meta.url), 'utf8'),
  ) as ExecResult & { argv: string[] };
  return { argv: raw.argv, code: raw.code, stdout: raw.stdout, stderr: raw.stderr };
}

function replay(...answers: (ExecResult & { argv: string[] })[]): ExecFn & { calls: string[][] } {
  const calls: string[][] = [];
  const queue = [...answers];
  const fn = ((file: string, args: string[]) => {
    calls.push([file, ...args]);
    const a = queue.length > 1 ? queue.shift()! : queue[0]!;
    expect([file, ...args]).toEqual(a.argv);
    return Promise.resolve({ code: a.code, stdout: a.stdout, stderr: a.stderr });
  }) as ExecFn & { calls: string[][] };
  fn.calls = calls;
  return fn;
}

async function refusal(p: Promise<unknown>): Promise<RecoveryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RecoveryError) return e;
    throw e;
  }
  throw new Error('expected a RecoveryError');
}

describe('EDS in Docker: the container is the service (recorded docker outputs)', async () => {
  const profile = await loadProfile('eds-docker');
  const docker = (exec: ExecFn) => serviceFor(profile.service, { exec, pollMs: 5 });

  it('keeps the folders under the host volume and the service is the container', () => {
    expect(resolveItems(profile, { fromBackup: ['Certificates.OpcUa1'] }).map((i) => i.path)).toEqual([
      '/edgeds/EdgeDataStore/Configuration',
      '/edgeds/EdgeDataStore/Storage',
      '/edgeds/EdgeDataStore/Logs',
      '/edgeds/EdgeDataStore/OpcUa1/Certificates',
    ]);
    expect(profile.service).toMatchObject({ manager: 'docker', name: 'edgedatastore' });
    expect(docker(replay(fixture('inspect-running'))).label).toBe('Docker container edgedatastore');
  });

  it('reads running, exited and paused (not stopped: its files stay open) from docker inspect', async () => {
    expect(await docker(replay(fixture('inspect-running'))).status()).toEqual({
      state: 'running',
      pid: 24817,
      detail: 'container running',
    });
    expect(await docker(replay(fixture('inspect-exited'))).status()).toEqual({
      state: 'stopped',
      detail: 'container exited (exit code 143)',
    });
    expect((await docker(replay(fixture('inspect-paused'))).status()).state).toBe('unknown');
    expect((await docker(replay(fixture('inspect-not-found'))).status()).state).toBe('not-found');
  });

  it('stops with docker stop (the profile timeout) and waits until the container has exited, starts with docker start', async () => {
    const exec = replay(fixture('stop'), fixture('inspect-running'), fixture('inspect-exited'));
    const svc = docker(exec);
    await svc.stop();
    expect((await svc.waitFor('stopped', 5000)).state).toBe('stopped');
    const start = replay(fixture('start'));
    await docker(start).start();
    expect(start.calls).toEqual([['docker', 'start', 'edgedatastore']]);
  });

  it('says plainly when the Docker daemon is down or the container does not exist', async () => {
    const down = await refusal(docker(replay(fixture('no-daemon'))).status());
    expect(down.code).toBe('SERVICE_FAILED');
    expect(down.message).toMatch(/Docker daemon does not answer/);
    expect(down.hint).toMatch(/systemctl start docker/);
    const stop = await refusal(docker(replay(fixture('stop-no-daemon'))).stop());
    expect(stop.code).toBe('SERVICE_FAILED');
    const missing = { ...fixture('stop'), code: 1, stdout: '', stderr: fixture('inspect-not-found').stderr };
    expect((await refusal(docker(replay(missing)).stop())).code).toBe('SERVICE_NOT_FOUND');
  });

  it("takes the API port from the container's portnum variable (docker run -e portnum=6000)", async () => {
    const urls: string[] = [];
    const service = serviceFor(profile.service, { exec: replay(fixture('inspect-env')) });
    const api = applianceClientFor(profile, { service })!;
    // Only the URL matters here: the product answers its version on the container's port.
    (api as unknown as { fetchFn: typeof fetch }).fetchFn = async (url) => {
      urls.push(String(url));
      return new Response(JSON.stringify({ 'Product Name': 'Edge Data Store', 'Product Version': '1.1.1.46' }));
    };
    expect(await api.productVersion()).toBe('1.1.1.46');
    expect(urls).toEqual(['http://localhost:6000/api/v1/diagnostics/productinformation']);
  });
});
