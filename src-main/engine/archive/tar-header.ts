/**
 * POSIX (ustar + pax) tar headers, written and read by hand: node-tar omits gname and is ~0.5× GNU tar on
 * small files (MACHINE-FACTS.md), and the restore must see every header field before anything is written.
 * GNU tar reads what we write; the reader also understands GNU long names ('L'/'K') and base-256 numbers,
 * so archives made by GNU tar (e.g. hostile test archives) are parsed, then judged.
 */
export const BLOCK = 512;
/** GNU tar's default record: the archive ends padded to a multiple of it. */
export const RECORD = 10240;

export type TarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'other';

export interface TarEntryHeader {
  path: string;
  type: TarType;
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkpath?: string;
  /** The raw type flag, for messages about odd entries. */
  flag: string;
}

const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

const FLAG_OF: Record<'file' | 'dir' | 'symlink', string> = { file: '0', dir: '5', symlink: '2' };

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function writeString(buf: Buffer, s: string, off: number, len: number): void {
  buf.write(s, off, len, 'utf8');
}

function writeOctal(buf: Buffer, n: number, off: number, len: number): void {
  buf.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

/** Splits a long path into ustar prefix/name at a slash, if it fits. */
function splitUstar(p: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(p) <= 100) return { prefix: '', name: p };
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== '/') continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
    if (Buffer.byteLength(name) > 100) return null;
  }
  return null;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function ustarBlock(
  e: { path: string; flag: string; size: number; mode: number; mtime: number; uid: number; gid: number },
  names: { prefix: string; name: string; linkname: string; uname: string; gname: string },
): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, names.name, 0, 100);
  writeOctal(b, e.mode & 0o7777, 100, 8);
  writeOctal(b, e.uid, 108, 8);
  writeOctal(b, e.gid, 116, 8);
  writeOctal(b, e.size, 124, 12);
  writeOctal(b, e.mtime, 136, 12);
  b.fill(0x20, 148, 156);
  b.write(e.flag, 156, 1, 'ascii');
  writeString(b, names.linkname, 157, 100);
  b.write('ustar\u000000', 257, 8, 'ascii');
  writeString(b, names.uname, 265, 32);
  writeString(b, names.gname, 297, 32);
  writeString(b, names.prefix, 345, 155);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'ascii');
  return b;
}

function clip(s: string, bytes: number): string {
  let out = s;
  while (Buffer.byteLength(out) > bytes) out = out.slice(0, -1);
  return out;
}

/**
 * Header block(s) for one entry: a pax 'x' header first when a field does not fit ustar (long or
 * non-ASCII names, big sizes/ids), then the ustar header. Directory paths end with '/'.
 */
/** What we write: a header as read back, for the three kinds of entry a backup holds. */
export type WritableHeader = Omit<TarEntryHeader, 'type' | 'flag'> & { type: 'file' | 'dir' | 'symlink' };

export function encodeHeader(e: WritableHeader): Buffer {
  const p = e.type === 'dir' && !e.path.endsWith('/') ? e.path + '/' : e.path;
  const size = e.type === 'file' ? e.size : 0;
  const mtime = Math.max(0, Math.floor(e.mtime));
  const pax: string[] = [];
  const split = isAscii(p) ? splitUstar(p) : null;
  if (!split) pax.push(paxRecord('path', p));
  const link = e.linkpath ?? '';
  if (!isAscii(link) || Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
  if (size > MAX_OCTAL_11) pax.push(paxRecord('size', String(size)));
  if (mtime > MAX_OCTAL_11) pax.push(paxRecord('mtime', String(mtime)));
  if (e.uid > MAX_OCTAL_7) pax.push(paxRecord('uid', String(e.uid)));
  if (e.gid > MAX_OCTAL_7) pax.push(paxRecord('gid', String(e.gid)));
  if (!isAscii(e.uname) || Buffer.byteLength(e.uname) > 32) pax.push(paxRecord('uname', e.uname));
  if (!isAscii(e.gname) || Buffer.byteLength(e.gname) > 32) pax.push(paxRecord('gname', e.gname));

  const names = {
    prefix: split?.prefix ?? '',
    name: split?.name ?? clip(p.replace(/[^\x20-\x7e]/g, '_'), 100),
    linkname: clip(link, 100),
    uname: clip(e.uname, 31),
    gname: clip(e.gname, 31),
  };
  const main = ustarBlock(
    {
      path: p,
      flag: FLAG_OF[e.type],
      size: Math.min(size, MAX_OCTAL_11),
      mode: e.mode,
      mtime: Math.min(mtime, MAX_OCTAL_11),
      uid: Math.min(e.uid, MAX_OCTAL_7),
      gid: Math.min(e.gid, MAX_OCTAL_7),
    },
    names,
  );
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.join(''), 'utf8');
  const paxHead = ustarBlock(
    { path: '', flag: 'x', size: body.length, mode: 0o644, mtime, uid: 0, gid: 0 },
    { prefix: '', name: clip(`PaxHeaders/${names.name}`, 100), linkname: '', uname: '', gname: '' },
  );
  const padded = Buffer.alloc(Math.ceil(body.length / BLOCK) * BLOCK);
  body.copy(padded);
  return Buffer.concat([paxHead, padded, main]);
}

// ---- reading ----

function readString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function readNumber(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256: big-endian, first byte's top bit set. Negative values are refused by callers.
    let n = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    return n;
  }
  const s = b
    .toString('ascii', off, off + len)
    .replace(/[\0 ]+$/g, '')
    .trim();
  return s === '' ? 0 : parseInt(s, 8);
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

export function checksumOk(b: Buffer): boolean {
  const want = readNumber(b, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum === want;
}

function typeOf(flag: string): TarType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '5':
      return 'dir';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Decodes one header block (no pax applied). The caller checks `checksumOk` first. */
export function decodeHeader(b: Buffer): TarEntryHeader {
  const flag = String.fromCharCode(b[156]!);
  const magic = b.toString('ascii', 257, 262);
  let name = readString(b, 0, 100);
  if (magic === 'ustar') {
    const prefix = readString(b, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  return {
    path: name,
    type: typeOf(flag),
    size: readNumber(b, 124, 12),
    mode: readNumber(b, 100, 8),
    mtime: readNumber(b, 136, 12),
    uid: readNumber(b, 108, 8),
    gid: readNumber(b, 116, 8),
    uname: readString(b, 265, 32),
    gname: readString(b, 297, 32),
    linkpath: readString(b, 157, 100),
    flag,
  };
}

/** Parses a pax body into key/value pairs (records are "<len> key=value\n"). */
export function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(body.toString('ascii', off, sp), 10);
    if (!Number.isInteger(len) || len <= 0 || off + len > body.length) break;
    const rec = body.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    off += len;
  }
  return out;
}
