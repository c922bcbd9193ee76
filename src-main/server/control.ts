import { promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RecoveryError } from '../engine/errors.js';
import { listenPrivateSocket } from './unix-socket.js';

/**
 * The running `serve`'s control socket, `<state dir>/serve/control.sock` (0600 in a 0700 folder): only the account
 * that runs `serve` (root) can ask it for a fresh one-time link, e.g. after the technician closed the tab.
 * One JSON line each way.
 */
export interface NewLink {
  /** Path and query to open on the served address: "/?token=…". */
  path: string;
  /** The full address when serve listens on a TCP port; null on a Unix socket (the browser's port is the tunnel's). */
  url: string | null;
  /** Where serve listens: "http://127.0.0.1:<port>" or the socket path. */
  listening: string;
}

export function controlSocketPath(stateDir: string): string {
  return path.join(stateDir, 'serve', 'control.sock');
}

export async function startControl(stateDir: string, newLink: () => NewLink): Promise<() => Promise<void>> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const server = net.createServer((c) => {
    let buf = '';
    c.setEncoding('utf8');
    c.setTimeout(5000, () => c.destroy());
    c.on('data', (d: string) => {
      buf += d;
      if (buf.length > 4096) return void c.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let op: unknown;
      try {
        op = (JSON.parse(buf.slice(0, nl)) as { op?: unknown }).op;
      } catch {
        op = undefined;
      }
      const reply = op === 'new-link' ? { ok: true, link: newLink() } : { ok: false, error: 'unknown request' };
      c.end(JSON.stringify(reply) + '\n');
    });
    c.on('error', () => undefined);
  });
  const unlink = await listenPrivateSocket(server, controlSocketPath(stateDir));
  return async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await unlink();
  };
}

/** `serve --new-link`: asks the serve running with `stateDir` for a fresh one-time link. */
export function requestNewLink(stateDir: string, timeoutMs = 5000): Promise<NewLink> {
  const sock = controlSocketPath(stateDir);
  const notRunning = (why: string): RecoveryError =>
    new RecoveryError('BAD_INPUT', `No running "edge-recovery serve" answers at ${sock} (${why}).`, {
      hint: 'Start it with "edge-recovery serve", or pass the same --state-dir it was started with; run this as the same account (root).',
    });
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    c.setEncoding('utf8');
    c.setTimeout(timeoutMs, () => {
      c.destroy();
      reject(notRunning('no answer'));
    });
    c.once('connect', () => c.write(JSON.stringify({ op: 'new-link' }) + '\n'));
    c.on('data', (d: string) => (buf += d));
    c.once('error', (e: NodeJS.ErrnoException) => reject(notRunning(e.code ?? e.message)));
    c.once('end', () => {
      try {
        const r = JSON.parse(buf) as { ok: boolean; link?: NewLink; error?: string };
        if (r.ok && r.link) resolve(r.link);
        else reject(new RecoveryError('INTERNAL', `serve refused: ${r.error ?? 'no link'}`));
      } catch {
        reject(notRunning('an answer that is not JSON'));
      }
    });
  });
}
