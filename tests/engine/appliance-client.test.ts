import { cp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceClient } from '../../src-main/engine/appliance/client.js';
import type { RecoveryError } from '../../src-main/engine/errors.js';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { ApiSchema, CredentialResourceSchema } from '../../src-main/engine/profiles/schema.js';
import { serviceFor } from '../../src-main/engine/service/index.js';
import { freePort, startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { requireRunit } from '../helpers/runit.js';
import { rejection } from '../helpers/rejection.js';

const runit = requireRunit();

/** Everything an error could leak through: message, hint, details, stack, cause. */
function everything(e: RecoveryError): string {
  return [e.message, e.hint, JSON.stringify(e.toJSON()), e.stack, String(e.cause), JSON.stringify(e.details)].join(
    '\n',
  );
}

const resource = CredentialResourceSchema.parse({
  id: 'egress',
  title: 'Periodic egress endpoints',
  path: '/api/v1/configuration/storage/periodicegressendpoints',
  nameField: 'Id',
  fieldSets: [
    { identity: 'ClientId', secret: 'ClientSecret' },
    { identity: 'Username', secret: 'Password' },
  ],
});

describe('ApplianceClient errors', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    // A product that echoes the request body in its error answer: the client must not pass that on.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.method === 'GET' && req.url?.endsWith('/bad')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Id: 'bad', Username: 'u', Password: '********' }));
          return;
        }
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify([{ Id: 'bad', Username: 'u', Password: '********' }]));
          return;
        }
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Message: `could not save ${body}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reports a refused connection as unreachable, with the URL and a hint', async () => {
    const dead = await freePort();
    const api = ApiSchema.parse({ baseUrl: `http://127.0.0.1:${dead}`, versionEndpoint: '/v', timeoutMs: 2000 });
    const e = await rejection(new ApplianceClient(api).productVersion());
    expect(e.code).toBe('APPLIANCE_UNREACHABLE');
    expect(e.message).toContain(`http://127.0.0.1:${dead}/v`);
    expect(e.hint).toMatch(/service running/);
    expect(await new ApplianceClient(api).health()).toMatchObject({ ok: false });
  });

  it('reports a server that does not answer in time as unreachable', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const a = silent.address();
    const p = typeof a === 'object' && a ? a.port : 0;
    try {
      const api = ApiSchema.parse({ baseUrl: `http://127.0.0.1:${p}`, versionEndpoint: '/v', timeoutMs: 300 });
      const e = await rejection(new ApplianceClient(api).productVersion());
      expect(e.code).toBe('APPLIANCE_UNREACHABLE');
      expect(e.message).toMatch(/did not answer within 300 ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('never puts a secret into an API error, even when the product echoes it', async () => {
    const secret = 'S3cr3t-Hunter2-unique';
    const client = new ApplianceClient(ApiSchema.parse({ baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v' }));
    const [entry] = await client.credentialEntries(resource);
    const e = await rejection(client.applyCredentials(resource, entry!, { Password: secret }));
    expect(e.code).toBe('API_ERROR');
    expect(e.message).toMatch(/500/);
    expect(e.message).toContain('[secret]');
    expect(everything(e)).not.toContain(secret);
  });

  it('never puts a secret into an unreachable error', async () => {
    const secret = 'An0ther-S3cret-value';
    const dead = await freePort();
    const client = new ApplianceClient(
      ApiSchema.parse({ baseUrl: `http://127.0.0.1:${dead}`, versionEndpoint: '/v' }),
      {
        fetch: (input, init) =>
          init?.method === 'GET' ? fetch(`http://127.0.0.1:${port}/x/bad`, init) : fetch(input, init),
      },
    );
    const entry = {
      key: 'egress/bad',
      resourceId: 'egress',
      resourceTitle: 't',
      entryId: 'bad',
      entryName: 'bad',
      fields: [
        { name: 'Username', label: 'Username', secret: false, value: 'u' },
        { name: 'Password', label: 'Password', secret: true },
      ],
    };
    const e = await rejection(client.applyCredentials(resource, entry, { Password: secret }));
    expect(e.code).toBe('APPLIANCE_UNREACHABLE');
    expect(everything(e)).not.toContain(secret);
  });

  it('refuses a value for a field the entry does not have, naming only the field', async () => {
    const client = new ApplianceClient(ApiSchema.parse({ baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v' }));
    const [entry] = await client.credentialEntries(resource);
    const e = await rejection(client.applyCredentials(resource, entry!, { Password: 'x', Token: 'y' }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain('"Token"');
  });
});

describe.skipIf(runit.skip)(`ApplianceClient against practice appliances ${runit.reason}`, () => {
  let a: PracticeMachine;
  let b: PracticeMachine;
  beforeAll(async () => {
    [a, b] = await Promise.all([startPracticeMachine(), startPracticeMachine()]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('passes the "no running transactions" precheck at 0 and fails it at 2', async () => {
    const check = a.profile.prechecks[0]!;
    expect(await a.api.runPrecheck(check)).toMatchObject({ ok: true });
    const put = await fetch(`${a.profile.api!.baseUrl}/api/v1/practice/transactions`, {
      method: 'PUT',
      body: JSON.stringify({ Running: 2 }),
    });
    expect(put.status).toBe(200);
    const r = await a.api.runPrecheck(check);
    expect(r.ok).toBe(false);
    expect(r.message).toContain(check.failMessage);
    expect(r.message).toContain('/Running is 2, expected 0');
    await fetch(`${a.profile.api!.baseUrl}/api/v1/practice/transactions`, {
      method: 'PUT',
      body: JSON.stringify({ Running: 0 }),
    });
  });

  it('lists nothing to re-enter on the machine whose key encrypted the secrets', async () => {
    expect(await a.api.credentialEntries(a.profile.credentials[0]!)).toEqual([]);
  });

  it('without a status field, lists every entry that has a secret, showing the account but not the secret', async () => {
    const entries = await a.api.credentialEntries(resource);
    expect(entries.map((e) => e.key)).toEqual(['egress/ToAdh', 'egress/ToPiWebApi']);
    expect(entries[0]!.fields).toEqual([
      { name: 'ClientId', label: 'ClientId', secret: false, value: 'practice-client-7f3a' },
      { name: 'ClientSecret', label: 'ClientSecret', secret: true },
    ]);
    expect(entries[1]!.fields.map((f) => f.name)).toEqual(['Username', 'Password']);
  });

  it('secrets copied to another machine are undecryptable there until re-entered', async () => {
    const res = b.profile.credentials[0]!;
    const svcB = serviceFor(b.profile.service);
    await svcB.stop();
    await svcB.waitFor('stopped', 10_000);
    const [configA] = resolveItems(a.profile, { root: a.root });
    const [configB] = resolveItems(b.profile, { root: b.root });
    await cp(configA!.path, configB!.path, { recursive: true, force: true });
    await svcB.start();
    await svcB.waitFor('running', 10_000);
    await expect.poll(async () => (await b.api.health()).ok, { timeout: 20_000 }).toBe(true);

    const todo = await b.api.credentialEntries(res);
    expect(todo.map((e) => e.entryName)).toEqual(['ToAdh', 'ToPiWebApi']);

    const secrets = {
      'egress/ToAdh': { ClientSecret: 'new-adh-secret' },
      'egress/ToPiWebApi': { Password: 'new-pi-password' },
    };
    for (const entry of todo) await b.api.applyCredentials(res, entry, secrets[entry.key as keyof typeof secrets]);

    expect(await b.api.credentialEntries(res)).toEqual([]);
    const listed = (await (await fetch(`${b.profile.api!.baseUrl}${res.path}`)).json()) as Record<string, unknown>[];
    expect(listed.map((e) => e.SecretStatus)).toEqual(['ok', 'ok']);
    // The identities were kept; the entries were updated, not replaced.
    expect(listed[0]).toMatchObject({ Id: 'ToAdh', ClientId: 'practice-client-7f3a', ClientSecret: '********' });
    // Machine A's key cannot open what B now holds: they really are different machines.
    const [configAfter] = resolveItems(b.profile, { root: b.root });
    const fileB = await (
      await import('node:fs/promises')
    ).readFile(`${configAfter!.path}/Storage_PeriodicEgressEndpoints.json`, 'utf8');
    expect(fileB).not.toContain('new-adh-secret');
  });

  it('rejects an update that leaves the secret missing before sending anything', async () => {
    const res = a.profile.credentials[0]!;
    const entry = (await a.api.credentialEntries(resource))[0]!;
    const e = await rejection(a.api.applyCredentials(res, entry, { ClientId: 'x' }));
    expect(e.code).toBe('BAD_INPUT');
  });
});
