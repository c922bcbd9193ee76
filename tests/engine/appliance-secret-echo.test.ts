import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceClient } from '../../src-main/engine/appliance/client.js';
import type { RecoveryError } from '../../src-main/engine/errors.js';
import { ApiSchema, CredentialResourceSchema } from '../../src-main/engine/profiles/schema.js';
import { rejection } from '../helpers/rejection.js';

/**
 * A product whose error answer echoes what it was sent: the secret must not reach the error, whatever form the
 * echo takes. Two ways it got through: the answer was cut to 300 characters *before* the secrets were replaced,
 * so a secret across the cut kept its first characters; and a product on .NET (System.Text.Json's default encoder)
 * writes `&`, `+`, `<`, `>`, `'`, `"` and every non-ASCII character as \uXXXX, which the plain replacement missed.
 */
const resource = CredentialResourceSchema.parse({
  id: 'egress',
  title: 'Periodic egress endpoints',
  path: '/api/v1/configuration/storage/periodicegressendpoints',
  nameField: 'Id',
  fieldSets: [{ identity: 'Username', secret: 'Password' }],
});

/** What System.Text.Json's default (JavaScriptEncoder.Default) makes of a string: HTML-sensitive and non-ASCII as \uXXXX. */
function dotnetJson(v: unknown): string {
  return JSON.stringify(v).replace(
    /[&+<>'`\u0080-\uffff]|\\"/g,
    (c) => `\\u${(c === '\\"' ? 0x22 : c.charCodeAt(0)).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

function everything(e: RecoveryError): string {
  return [e.message, e.hint, JSON.stringify(e.toJSON()), e.stack, String(e.cause), JSON.stringify(e.details)].join(
    '\n',
  );
}

/** Any six characters in a row of the secret (letters and digits only, so escapes between them do not hide it). */
function pieces(secret: string): string[] {
  const out: string[] = [];
  for (const run of secret.split(/[^A-Za-z0-9]+/))
    for (let i = 0; i + 6 <= run.length; i++) out.push(run.slice(i, i + 6));
  return out;
}

describe('ApplianceClient: a secret echoed by the product never reaches an error', () => {
  let server: Server;
  let port: number;
  let answer: (body: string) => string = () => '';
  /** When set: the update is taken (200) and the check that reads the entry back fails, echoing what was stored. */
  let storedEcho: ((stored: string) => string) | null = null;
  let stored = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (storedEcho !== null && req.method === 'PUT') {
          stored = body;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
          return;
        }
        if (storedEcho !== null && req.method === 'GET' && req.url?.endsWith('/ToAdh') && stored !== '') {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(storedEcho(stored));
          return;
        }
        if (req.method === 'GET' && req.url?.endsWith('/ToAdh')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Id: 'ToAdh', Username: 'u', Password: '********' }));
          return;
        }
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify([{ Id: 'ToAdh', Username: 'u', Password: '********' }]));
          return;
        }
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(answer(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function failWith(secret: string): Promise<RecoveryError> {
    const client = new ApplianceClient(ApiSchema.parse({ baseUrl: `http://127.0.0.1:${port}`, versionEndpoint: '/v' }));
    const [entry] = await client.credentialEntries(resource);
    const e = await rejection(client.applyCredentials(resource, entry!, { Password: secret }));
    expect(e.code).toBe('API_ERROR');
    return e;
  }

  it('when the echo crosses the 300-character cut of the answer', async () => {
    const secret = 'Straddle1hiddenValue9Zq';
    // 290 characters of the product's own words, then the secret: the cut at 300 falls inside it.
    answer = (body) => `${'E'.repeat(290)}${(JSON.parse(body) as { Password: string }).Password}`;
    const e = await failWith(secret);
    for (const p of pieces(secret)) expect(everything(e)).not.toContain(p);
  });

  it('when a .NET product echoes it JSON-escaped (\\u0026, \\u002B, \\u0022, non-ASCII)', async () => {
    const secret = 'Tr0ub4dor&3+horse"staple€Battery';
    answer = (body) =>
      dotnetJson({
        errors: { Password: [`The value ${(JSON.parse(body) as { Password: string }).Password} is not accepted.`] },
      });
    expect(answer(JSON.stringify({ Password: secret }))).toContain(
      'Tr0ub4dor\\u00263\\u002Bhorse\\u0022staple\\u20ACBattery',
    );
    const e = await failWith(secret);
    for (const p of pieces(secret)) expect(everything(e)).not.toContain(p);
  });

  it('when it echoes the whole request body as a string (escaped twice)', async () => {
    const secret = 'Back\\slash"Quote-Hidden42';
    answer = (body) => JSON.stringify({ Message: `could not save ${body}` });
    const e = await failWith(secret);
    for (const p of pieces(secret)) expect(everything(e)).not.toContain(p);
    expect(e.message).toContain('[secret]');
  });

  it('when the read-back after the update fails and its answer echoes the entry as stored', async () => {
    const secret = 'ReadBack7SecretValueXq';
    storedEcho = (entry) => JSON.stringify({ Message: 'The entry could not be read back.', Entry: JSON.parse(entry) });
    stored = '';
    try {
      const e = await failWith(secret);
      expect(e.message).toMatch(/500/);
      for (const p of pieces(secret)) expect(everything(e)).not.toContain(p);
      expect(e.message).toContain('[secret]');
    } finally {
      storedEcho = null;
    }
  });
});
