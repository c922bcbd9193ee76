import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceClient, applianceClientFor } from '../../src-main/engine/appliance/client.js';
import { loopbackListeners } from '../../src-main/engine/appliance/listener-owner.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import type { CredentialEntry } from '../../src-main/engine/runbook/types.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { startSquatter } from '../helpers/port-squatter.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * The product's API is on an unprivileged loopback port (EDS 5590). While the restore has the product stopped (or
 * whenever the product does not hold that port), any local account can listen there; the credentials the technician
 * types after the restore were sent to whatever answered. The squatter here is a real unprivileged account's
 * program; the tool must refuse to send it a secret, and still send it to a listener of root (the product's, here).
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (a second, unprivileged account)' : undefined;
const USER = 'er-squat';
const SECRET = 'client-secret-typed-by-the-technician';

async function entryAndResource() {
  const profile = await loadProfile('eds-linux');
  const resource = profile.credentials.find((r) => r.id === 'egress-endpoints')!;
  const entry: CredentialEntry = {
    key: 'egress-endpoints/e1',
    resourceId: 'egress-endpoints',
    resourceTitle: 'Egress endpoints',
    entryId: 'e1',
    entryName: 'e1',
    fields: [
      { name: 'ClientId', label: 'Client id', secret: false, value: 'client' },
      { name: 'ClientSecret', label: 'Client secret', secret: true },
    ],
  };
  const api = { ...profile.api!, baseUrl: 'http://localhost:1' };
  delete (api as { portFile?: unknown }).portFile;
  return { api, resource, entry };
}

describe.skipIf(blocked !== undefined)(
  `credentials and the product's API port${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    let squatter: ChildProcess | undefined;
    beforeAll(async () => {
      ensureTestOwner(USER);
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'port-squat-'));
      await fsp.chmod(dir, 0o755);
    });
    afterEach(() => {
      squatter?.kill('SIGKILL');
      squatter = undefined;
    });
    afterAll(async () => {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('does not send a credential to a program of another account listening on the API port', async () => {
      const logDir = path.join(dir, 'squatter');
      await fsp.mkdir(logDir);
      await fsp.chown(logDir, uidForUser(USER)!, gidForGroup(USER)!);
      const log = path.join(logDir, 'requests.log');
      const s = await startSquatter(USER, log);
      squatter = s.child;
      const port = s.port;
      const { api, resource, entry } = await entryAndResource();
      const client = new ApplianceClient({ ...api, baseUrl: `http://localhost:${port}` });
      const error = await client.applyCredentials(resource, entry, { ClientSecret: SECRET }).then(
        () => null,
        (e: Error) => e.message,
      );
      const seen = existsSync(log) ? readFileSync(log, 'utf8') : '';
      expect(seen).not.toContain(SECRET);
      expect(error).toMatch(new RegExp(`uid ${uidForUser(USER)!}.*${USER}.*not sent`));
    });

    it("takes no health answer from it for the product's, when the profile names the product's account", async () => {
      const log = path.join(dir, 'squatter-health.log');
      await fsp.writeFile(log, '');
      await fsp.chown(log, uidForUser(USER)!, gidForGroup(USER)!);
      const s = await startSquatter(USER, log);
      squatter = s.child;
      const port = s.port;
      const profile = await loadProfile('eds-linux');
      expect(profile.ownership?.user).toBe('edgedatastore');
      const { api } = await entryAndResource();
      const client = applianceClientFor({ ...profile, api: { ...api, baseUrl: `http://localhost:${port}` } })!;
      const h = await client.health();
      expect(h.ok).toBe(false);
      expect(h.detail).toMatch(new RegExp(`uid ${uidForUser(USER)!}`));
      expect(readFileSync(log, 'utf8')).toBe('');
    });

    it("sends it to the product's own listener (root here)", async () => {
      const received: string[] = [];
      const srv = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          received.push(`${req.method} ${body}`);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Id: 'e1', ClientId: 'client' }));
        });
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      try {
        const { api, resource, entry } = await entryAndResource();
        const port = (srv.address() as AddressInfo).port;
        const client = new ApplianceClient({ ...api, baseUrl: `http://localhost:${port}` });
        await client.applyCredentials(resource, entry, { ClientSecret: SECRET });
        expect(received.some((r) => r.startsWith('PATCH') && r.includes(SECRET))).toBe(true);
      } finally {
        await new Promise<void>((r) => srv.close(() => r()));
      }
    });
  },
);

describe('who listens on a loopback port (/proc/net/tcp, tcp6)', () => {
  // Recorded lines (Linux 6.x, x86_64): the product on 0.0.0.0:5590 as uid 998, a squatter on [::1]:5590 as uid 1000,
  // one on [::ffff:127.0.0.1]:5590 as uid 1001, a listener on another address and port, a connected socket.
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:15D6 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 11111 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:15D6 0100007F:A000 01 00000000:00000000 00:00000000 00000000  1002        0 22222 1 0000000000000000 20 4 30 10 -1',
    '   2: 0A00020F:15D6 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1003        0 33333 1 0000000000000000 100 0 0 10 0',
    '   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1004        0 44444 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  const tcp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:15D6 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0000000000000000 100 0 0 10 0',
    '   1: 0000000000000000FFFF00000100007F:15D6 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 66666 1 0000000000000000 100 0 0 10 0',
    '   2: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77777 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  const read = (p: string): string => (p.endsWith('tcp6') ? tcp6 : tcp);

  it('lists the listeners a connection to localhost can reach, with their accounts and sockets, and nothing else', () => {
    expect(loopbackListeners(5590, read)).toEqual([
      { address: '0.0.0.0', port: 5590, uid: 998, inode: 11111 },
      { address: '::1', port: 5590, uid: 1000, inode: 55555 },
      { address: '::ffff:127.0.0.1', port: 5590, uid: 1001, inode: 66666 },
    ]);
    expect(loopbackListeners(8080, read)).toEqual([
      { address: '127.0.0.1', port: 8080, uid: 1004, inode: 44444 },
      { address: '::', port: 8080, uid: 0, inode: 77777 },
    ]);
    expect(loopbackListeners(5590, (p) => (p.endsWith('tcp6') ? '' : tcp)).map((l) => l.uid)).toEqual([998]);
  });
});
