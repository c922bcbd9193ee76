/**
 * POSIX (ustar + pax) tar headers, written and read by hand: node-tar omits gname and is ~0.5× GNU tar on
 * small files (MACHINE-FACTS.md), and the restore must see every header field before anything is written.
 * GNU tar reads what we write; the reader also understands GNU long names ('L'/'K') and base-256 numbers,
 * so archives made by GNU tar (e.g. hostile test archives) are parsed, then judged.
 */
import { isUtf8 } from 'node:buffer';

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
  /** Device numbers of a character or block device entry (listed, then refused by the entry screen). */
  devmajor?: number;
  devminor?: number;
}

const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

const FLAG_OF: Record<'file' | 'dir' | 'symlink', string> = { file: '0', dir: '5', symlink: '2' };

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** At most `max` characters, each printable ASCII (so as many bytes). */
function plainAscii(s: string, max: number): boolean {
  const n = s.length;
  if (n > max) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
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

/** The magic and version of a ustar header ("ustar\0" "00"), and the sum of their bytes. */
const MAGIC = Buffer.from('ustar\u000000', 'latin1');
const MAGIC_SUM = MAGIC.reduce((a, c) => a + c, 0);

/**
 * `n` as `len - 1` octal digits and a NUL at `off`, returning the sum of the bytes written (for the checksum).
 * Digits are written as bytes, not through a padded string: a header per file, 500,000 on a small-file backup.
 * A number that does not fit (never from encodeHeader, which caps them) is written as the string form writes it.
 */
function putOctal(b: Buffer, n: number, off: number, len: number): number {
  if (!(n >= 0 && n < 8 ** (len - 1) && Number.isInteger(n))) {
    b.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
    return sumOf(b, off, off + len);
  }
  let sum = 0;
  let v = n;
  let i = off + len - 2;
  for (; v > 0x7fffffff; i--) {
    const d = 0x30 + (v % 8);
    b[i] = d;
    sum += d;
    v = Math.floor(v / 8);
  }
  // Small integers in 32-bit arithmetic.
  let w = v | 0;
  for (; i >= off; i--) {
    const d = 0x30 + (w & 7);
    b[i] = d;
    sum += d;
    w >>>= 3;
  }
  b[off + len - 1] = 0;
  return sum;
}

/** `s` as UTF-8 into at most `len` bytes at `off` (no partial character), returning the sum of the bytes written. */
function putString(b: Buffer, s: string, off: number, len: number): number {
  const n = s.length;
  if (n <= len) {
    let sum = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[off + i] = c;
      sum += c;
    }
    if (i === n) return sum;
  }
  const w = b.write(s, off, len, 'utf8');
  return sumOf(b, off, off + w);
}

function sumOf(b: Buffer, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += b[i]!;
  return sum;
}

function ustarBlock(
  e: { path: string; flag: string; size: number; mode: number; mtime: number; uid: number; gid: number },
  names: { prefix: string; name: string; linkname: string; uname: string; gname: string },
  into?: Buffer,
): Buffer {
  const b = into ? into.fill(0, 0, BLOCK) : Buffer.alloc(BLOCK);
  // The checksum counts its own field as eight blanks; every byte not written is zero.
  let sum = 8 * 0x20;
  sum += putString(b, names.name, 0, 100);
  sum += putOctal(b, e.mode & 0o7777, 100, 8);
  sum += putOctal(b, e.uid, 108, 8);
  sum += putOctal(b, e.gid, 116, 8);
  sum += putOctal(b, e.size, 124, 12);
  sum += putOctal(b, e.mtime, 136, 12);
  sum += putString(b, e.flag, 156, 1);
  sum += putString(b, names.linkname, 157, 100);
  MAGIC.copy(b, 257);
  sum += MAGIC_SUM;
  sum += putString(b, names.uname, 265, 32);
  sum += putString(b, names.gname, 297, 32);
  sum += putString(b, names.prefix, 345, 155);
  putOctal(b, sum, 148, 7);
  b[155] = 0x20;
  return b;
}

function clip(s: string, bytes: number): string {
  let out = s;
  while (Buffer.byteLength(out) > bytes) out = out.slice(0, -1);
  return out;
}

/** What we write: a header as read back, for the three kinds of entry a backup holds. */
export type WritableHeader = Omit<TarEntryHeader, 'type' | 'flag'> & { type: 'file' | 'dir' | 'symlink' };

/**
 * Header block(s) for one entry: a pax 'x' header first when a field does not fit ustar (long or
 * non-ASCII names, big sizes/ids), then the ustar header. Directory paths end with '/'. With `scratch`
 * (512 bytes), a header without pax is written into it and it is returned (valid until the next call).
 */

export function encodeHeader(e: WritableHeader, scratch?: Buffer): Buffer {
  const p = e.type === 'dir' && !e.path.endsWith('/') ? e.path + '/' : e.path;
  const size = e.type === 'file' ? e.size : 0;
  const mtime = Math.max(0, Math.floor(e.mtime));
  const link = e.linkpath ?? '';
  // Nearly every entry: short printable ASCII names and numbers that fit, so one ustar block as they are (what the
  // general way below gives for them, without its tests and copies).
  if (
    size <= MAX_OCTAL_11 &&
    mtime <= MAX_OCTAL_11 &&
    e.uid <= MAX_OCTAL_7 &&
    e.gid <= MAX_OCTAL_7 &&
    plainAscii(p, 100) &&
    plainAscii(link, 100) &&
    plainAscii(e.uname, 31) &&
    plainAscii(e.gname, 31)
  ) {
    return ustarBlock(
      { path: p, flag: FLAG_OF[e.type], size, mode: e.mode, mtime, uid: e.uid, gid: e.gid },
      { prefix: '', name: p, linkname: link, uname: e.uname, gname: e.gname },
      scratch,
    );
  }
  const pax: string[] = [];
  const split = isAscii(p) ? splitUstar(p) : null;
  if (!split) pax.push(paxRecord('path', p));
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
    // A plain header (no pax) into the caller's reused block: no fresh buffer per entry.
    pax.length === 0 ? scratch : undefined,
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
//
// GNU tar 1.34 is the reference: RESTORE.txt tells technicians to extract with it, so what we judge must be
// exactly what it would write. Where GNU tar's behaviour is lenient or unclear, we refuse (TarFormatError)
// rather than guess: a refused archive is safe, a differently-read one is not.

export class TarFormatError extends Error {
  constructor(
    message: string,
    /** What the technician can do, where "use another copy" is not it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

function readString(b: Buffer, off: number, len: number): string {
  const ascii = asciiField(b, off, len);
  if (ascii !== null) return ascii;
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

/**
 * A field up to its first NUL when every byte before it is ASCII (nearly every name): decoded as latin1, the
 * same string UTF-8 gives for ASCII, without the UTF-8 check and decoder. null: a byte ≥ 0x80, the general way.
 */
function asciiField(b: Buffer, off: number, len: number): string | null {
  const stop = off + len;
  let i = off;
  for (; i < stop; i++) {
    const c = b[i]!;
    if (c === 0) break;
    if (c >= 0x80) return null;
  }
  return i === off ? '' : b.toString('latin1', off, i);
}

/**
 * A name (path or link target) as UTF-8, refused when its bytes are not: decoded with replacement it would be
 * restored under another name than the product had (`caf\uFFFD.json` for ISO-8859-1 `caf\xE9.json`), silently,
 * and two names differing only in their bad bytes would become one. GNU tar writes names as the bytes they are.
 */
export function utf8Name(b: Buffer, start = 0, end = b.length): string {
  const bytes = b.subarray(start, end);
  if (!isUtf8(bytes)) {
    let shown = '';
    for (const c of bytes)
      shown += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    throw new TarFormatError(
      `the name "${shown}" is not UTF-8, so it cannot be restored under its own name`,
      'The archive was made on a system with another character set (e.g. ISO-8859-1). Rename that file to a UTF-8 name on the old system, or convert the names (convmv), and make the archive again. Nothing was changed.',
    );
  }
  return bytes.toString('utf8');
}

function readName(b: Buffer, off: number, len: number): string {
  const ascii = asciiField(b, off, len);
  if (ascii !== null) return ascii;
  const end = b.indexOf(0, off);
  return utf8Name(b, off, end === -1 || end > off + len ? off + len : end);
}

/** A numeric field: octal (leading spaces, ending in NUL or space) or GNU base-256. Anything else is refused. */
function readNumber(b: Buffer, off: number, len: number, what: string): number {
  const first = b[off]!;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement; 0xff starts a negative number, which no field may hold.
    if (first === 0xff) throw new TarFormatError(`a negative ${what} in a tar header`);
    let n = first & 0x7f;
    for (let i = 1; i < len; i++) {
      n = n * 256 + b[off + i]!;
      if (n > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`a ${what} too large in a tar header`);
    }
    return n;
  }
  // The common case, as we and GNU tar write it: octal digits from the field's first byte, then a NUL, a blank
  // or the field's end. Read without a string or a regex; the same number the general rule below gives.
  if (first >= 0x30 && first <= 0x37) {
    const end = off + len;
    let n = 0;
    let i = off;
    for (; i < end; i++) {
      const c = b[i]!;
      if (c < 0x30 || c > 0x37) break;
      n = n * 8 + (c - 0x30);
    }
    if (i === end || b[i] === 0 || b[i] === 0x20) {
      if (!Number.isSafeInteger(n)) throw new TarFormatError(`a ${what} too large in a tar header`);
      return n;
    }
  }
  // As GNU tar's from_header: leading blanks, octal digits, then a NUL, a blank or the field's end.
  const s = b.toString('latin1', off, off + len);
  const m = /^ *([0-7]*)(?:[ \0]|$)/.exec(s);
  if (!m || (m[1] === '' && s.startsWith(' ') && /^ *$/.test(s))) {
    throw new TarFormatError(`a ${what} field that is not a number in a tar header`);
  }
  if (m[1] === '') return 0;
  const n = parseInt(m[1]!, 8);
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`a ${what} too large in a tar header`);
  return n;
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

export function checksumOk(b: Buffer): boolean {
  let want: number;
  try {
    want = readNumber(b, 148, 8, 'checksum');
  } catch {
    return false;
  }
  // The checksum field itself counts as eight blanks.
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < BLOCK; i++) sum += b[i]!;
  return sum === want;
}

/** The type flags GNU tar lists as these types; every other flag (sparse, volume, multi-volume, dumpdir…) is refused. */
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
  // Only POSIX ustar ("ustar\0") has a prefix field; in GNU headers ("ustar  \0") those bytes are times.
  const posix = b.toString('latin1', 257, 263) === 'ustar\0';
  let name = readName(b, 0, 100);
  if (posix) {
    const prefix = readName(b, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const type = typeOf(flag);
  const h: TarEntryHeader = {
    path: name,
    type,
    size: readNumber(b, 124, 12, 'size'),
    mode: readNumber(b, 100, 8, 'mode'),
    mtime: readNumber(b, 136, 12, 'mtime'),
    uid: readNumber(b, 108, 8, 'uid'),
    gid: readNumber(b, 116, 8, 'gid'),
    uname: readString(b, 265, 32),
    gname: readString(b, 297, 32),
    linkpath: readName(b, 157, 100),
    flag,
  };
  if (type === 'char' || type === 'block') {
    h.devmajor = readNumber(b, 329, 8, 'device major');
    h.devminor = readNumber(b, 337, 8, 'device minor');
  }
  return h;
}

/**
 * Parses a pax body into key/value pairs (records are "<len> key=value\n"; a later record wins, as in
 * GNU tar). A malformed record is refused, not skipped: GNU tar would stop there too.
 */
export function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < body.length) {
    // GNU tar ignores NUL padding after the last record.
    if (body[off] === 0 && body.subarray(off).every((c) => c === 0)) break;
    const sp = body.indexOf(0x20, off);
    const lenText = sp === -1 ? '' : body.toString('latin1', off, sp);
    if (!/^[1-9][0-9]{0,8}$/.test(lenText)) throw new TarFormatError('a malformed pax header (length)');
    const len = Number(lenText);
    if (off + len > body.length || body[off + len - 1] !== 0x0a || sp + 1 >= off + len) {
      throw new TarFormatError('a malformed pax header (record)');
    }
    const rec = body.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('a malformed pax header (no key)');
    const key = rec.toString('utf8', 0, eq);
    // Names are checked as names (pax values are UTF-8 by the standard; a name that is not must not be renamed).
    const value = key === 'path' || key === 'linkpath' ? utf8Name(rec, eq + 1) : rec.toString('utf8', eq + 1);
    if (value.includes('\0')) throw new TarFormatError('a pax value with a NUL byte');
    out.set(key, value);
    off += len;
  }
  return out;
}
