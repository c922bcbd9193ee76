import { spawn, type ChildProcess } from 'node:child_process';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';

/**
 * A program of a real unprivileged account listening on a loopback port, as any local account may on the product's
 * API port while the product does not hold it: it logs every request (method, URL, body) to `log`, a file that
 * account can write, and answers 200 with a credential entry's JSON.
 */
const SQUATTER = `
const http = require('node:http');
const fs = require('node:fs');
const [log, port] = process.argv.slice(1);
const srv = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    fs.appendFileSync(log, req.method + ' ' + req.url + ' ' + body + '\\n');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ Id: 'e1', ClientId: 'client', ClientSecret: null }));
  });
});
srv.listen(Number(port ?? 0), '127.0.0.1', () => process.stdout.write(String(srv.address().port) + '\\n'));
`;

/**
 * The squatter as a runit service's run script (`exec`, so the service's pid is the listener's), as `user`, on `port`:
 * a product's own listener, run by its service as the product's account.
 */
export function squatterRunScript(user: string, log: string, port: number): string {
  const q = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\nexec setpriv --reuid=${uidForUser(user)!} --regid=${gidForGroup(user)!} --clear-groups ${q(process.execPath)} -e ${q(SQUATTER)} ${q(log)} ${port}\n`;
}

/** Starts the squatter as `user` (setpriv, no groups) on `port` (any free one by default); resolves once it listens. The caller kills `child`. */
export async function startSquatter(
  user: string,
  log: string,
  port = 0,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    'setpriv',
    [
      `--reuid=${uidForUser(user)!}`,
      `--regid=${gidForGroup(user)!}`,
      '--clear-groups',
      process.execPath,
      '-e',
      SQUATTER,
      log,
      String(port),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const listening = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', (c) => reject(new Error(`the squatter ended (${c})`)));
  });
  return { child, port: listening };
}
