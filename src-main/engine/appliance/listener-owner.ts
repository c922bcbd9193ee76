import { readFileSync } from 'node:fs';

/**
 * Who listens on a loopback port (Linux, from /proc/net/tcp and tcp6). The product's API lives on an unprivileged
 * port (EDS 5590): while the product is stopped (the restore stops it), or on the address family it does not hold,
 * any local account can listen there and would be sent what the tool sends the product. Before a secret goes out,
 * every listener a connection to that port on this machine could reach must belong to an account the tool trusts.
 */
export interface Listener {
  address: string;
  port: number;
  uid: number;
  /** The socket's inode: a process holds it when one of its /proc/<pid>/fd links reads `socket:[inode]`. */
  inode: number;
}

const LISTEN = '0A';

/** "0100007F" (host byte order, little-endian here) → 127.0.0.1. */
function ipv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

/** Four 32-bit words in host byte order → the 16 bytes of the address. */
function ipv6Bytes(hex: string): number[] {
  const out: number[] = [];
  for (let w = 0; w < 4; w++) {
    const n = Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
  }
  return out;
}

/** A listener on this address takes connections to localhost: loopback, or any address (wildcard). */
function reachableFromLoopback(family: 4 | 6, hex: string): string | null {
  if (family === 4) {
    const a = ipv4(hex);
    return a === '0.0.0.0' || a.startsWith('127.') ? a : null;
  }
  const b = ipv6Bytes(hex);
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 16)) return '::';
  if (zeros(0, 15) && b[15] === 1) return '::1';
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff && (b[12] === 127 || (b[12] === 0 && zeros(12, 16)))) {
    return `::ffff:${b.slice(12).join('.')}`;
  }
  return null;
}

type ReadFile = (p: string) => string;
const readText: ReadFile = (p) => readFileSync(p, 'utf8');

/** Each socket line of the kernel's TCP tables (IPv4, then IPv6 where there is one), split into its fields. */
function* tcpTableRows(read: ReadFile): Generator<{ family: 4 | 6; f: string[] }> {
  for (const [file, family] of [
    ['/proc/net/tcp', 4],
    ['/proc/net/tcp6', 6],
  ] as const) {
    let text: string;
    try {
      text = read(file);
    } catch {
      continue; // no IPv6 here
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 8) yield { family, f };
    }
  }
}

/** The listening TCP sockets on `port` that a connection to a loopback address of this machine can reach. */
export function loopbackListeners(port: number, read: ReadFile = readText): Listener[] {
  const out: Listener[] = [];
  for (const { family, f } of tcpTableRows(read)) {
    if (f[3] !== LISTEN) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    if (addrHex === undefined || portHex === undefined || Number.parseInt(portHex, 16) !== port) continue;
    const address = reachableFromLoopback(family, addrHex);
    if (address === null) continue;
    out.push({ address, port, uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

/** A table address as node writes an IPv4 one ("127.0.0.1"), also when an IPv6 socket holds it (::ffff:a.b.c.d). */
function ipv4Of(family: 4 | 6, hex: string): string | null {
  if (family === 4) return ipv4(hex);
  const b = ipv6Bytes(hex);
  return b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff ? b.slice(12).join('.') : null;
}

/**
 * The account (uid) whose socket is the other end of this machine's IPv4 TCP connection from `peer` to `ours` (the
 * peer's socket: local address and port `peer`, remote `ours`), or -1 when the kernel's table has none. Matched by
 * address and port on both sides: by the ports alone, a socket of root's from 127.0.0.2:X to port P anywhere passed
 * for an account's own connection from 127.0.0.1:X to 127.0.0.1:P (any account may bind X on another loopback address).
 */
export function connectionOwner(
  peer: { address: string; port: number },
  ours: { address: string; port: number },
  read: ReadFile = readText,
): number {
  const plain = (a: string): string => a.replace(/^::ffff:/i, '');
  for (const { family, f } of tcpTableRows(read)) {
    const [la, lp] = f[1]!.split(':');
    const [ra, rp] = f[2]!.split(':');
    if (la === undefined || lp === undefined || ra === undefined || rp === undefined) continue;
    if (Number.parseInt(lp, 16) !== peer.port || Number.parseInt(rp, 16) !== ours.port) continue;
    if (ipv4Of(family, la) !== plain(peer.address) || ipv4Of(family, ra) !== plain(ours.address)) continue;
    return Number(f[7]);
  }
  return -1;
}

/** The first listener on the URL's loopback port that belongs to none of `trusted`, or null (none, or not Linux). */
export function untrustedListener(url: string, trusted: ReadonlySet<number>): Listener | null {
  if (process.platform !== 'linux') return null;
  const u = new URL(url);
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return loopbackListeners(port).find((l) => !trusted.has(l.uid)) ?? null;
}
