import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { peerUid } from '../../src-main/server/serve.js';
import { uidForUser } from '../../src-main/engine/util/system-users.js';
import { asAccountArgs } from '../helpers/as-account.js';
import { ensureTestOwner, restoreTestsBlocked } from '../helpers/restore-driver.js';

/**
 * serve lets a browser sign in only from the accounts it trusts (root, the technician's), telling the account at the
 * other end of a connection from the kernel's table. It matched the table's lines by the two ports alone: a socket
 * of root's from 127.0.0.2:X to another service's port P on 127.0.0.2 and an account's own connection from
 * 127.0.0.1:X to serve's 127.0.0.1:P have the same ports (any account may bind port X on another loopback address),
 * and whichever line the kernel listed first was taken, root's about half of the time: the account passed for root.
 * Shown with a real unprivileged account and root's sockets of the same ports; the addresses are compared now.
 */
const USER = 'er-attack2';
const why = restoreTestsBlocked();

/** The account's connections: one to 127.0.0.1:<port> from each 127.0.0.1:<source port>, held until stdin closes. */
const CONNECT = `
import socket, sys
port = int(sys.argv[1])
socks = [socket.create_connection(('127.0.0.1', port), source_address=('127.0.0.1', int(p))) for p in sys.argv[2:]]
print('held', len(socks), flush=True)
sys.stdin.read()
`;

let account: ChildProcess | undefined;
const closers: Array<() => void> = [];
afterAll(() => {
  account?.kill('SIGKILL');
  for (const c of closers) c();
});

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

describe.skipIf(why !== undefined)(`serve's peerUid${why ? ` (skipped: ${why})` : ''}`, () => {
  it("names the account that holds the connection, not root's socket of the same ports on another address", async () => {
    ensureTestOwner(USER);
    const uid = uidForUser(USER)!;
    // serve's listener, and another service of root's on the same port of another loopback address.
    const accepted: net.Socket[] = [];
    const serve = net.createServer((s) => accepted.push(s));
    const port = await listen(serve, 0, '127.0.0.1');
    const other = net.createServer(() => undefined);
    await listen(other, port, '127.0.0.2');
    closers.push(
      () => serve.close(),
      () => other.close(),
    );
    // Root's own connections to that service: each from 127.0.0.2:X.
    const sources: number[] = [];
    for (let i = 0; i < 16; i++) {
      const c = net.connect({ host: '127.0.0.2', port, localAddress: '127.0.0.2' });
      await new Promise<void>((r, j) => c.once('connect', () => r()).once('error', j));
      closers.push(() => c.destroy());
      sources.push(c.localPort!);
    }
    // The account's connections to serve, each from 127.0.0.1:X, the same source port as one of root's.
    account = spawn(
      'setpriv',
      asAccountArgs(USER, '/usr/bin/python3', '-c', CONNECT, String(port), ...sources.map(String)),
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      account!.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('held')) resolve();
      });
      account!.once('exit', (code) => reject(new Error(`the account's connections failed (exit ${code})`)));
    });
    for (const until = Date.now() + 5000; accepted.length < sources.length && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(accepted.length).toBe(sources.length);
    // Every one is the account's (before: root's, uid 0, for about half of them).
    expect(accepted.map((s) => peerUid(s))).toEqual(accepted.map(() => uid));
  });
});
