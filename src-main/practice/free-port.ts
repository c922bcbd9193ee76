import { promises as fsp } from 'node:fs';
import net from 'node:net';
import { loopbackListeners } from '../engine/appliance/listener-owner.js';

/** A free port on 127.0.0.1 (closed again at once; the appliance binds it a moment later). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `n` different free ports on 127.0.0.1: each is held until all are chosen, so two machines of one sandbox never get
 * the same port (the kernel may hand a port just closed to the next `listen(0)`).
 */
export async function freePorts(n: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      held.push(s);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => {
            const a = s.address();
            resolve(typeof a === 'object' && a ? a.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(
      held.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
    );
  }
}

/** The inodes of the sockets `pid` holds (Linux). */
async function socketsOf(pid: number): Promise<Set<number>> {
  const out = new Set<number>();
  const fds = await fsp.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const m = /^socket:\[(\d+)\]$/.exec(await fsp.readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/**
 * Who else listens on the loopback `port` than the process `pid` (Linux; null elsewhere, or when only `pid` does).
 * A port chosen free may be bound by another program before the one started for it: that one then ends at once
 * (EADDRINUSE), and the other's answer must not be taken for its own.
 */
export async function portHeldByOther(port: number, pid: number): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  const ours = await socketsOf(pid);
  const other = loopbackListeners(port).find((l) => !ours.has(l.inode));
  return other === undefined ? null : `listening on ${other.address}:${port}, not pid ${pid}`;
}
