import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';

/**
 * A small, strict zip reader (PKWARE APPNOTE 6.3): the central directory (with zip64), stored and deflate
 * entries streamed through zlib's raw inflate, every entry's CRC-32 and size checked. Only what a hand-made
 * backup needs (Explorer's "Send to → Compressed folder", Info-ZIP `zip`, Python's zipfile, 7-Zip): no
 * encryption, no multi-disk archives, no other compression methods — those are refused with their reason.
 * Our own rather than yauzl: the restore must judge every name and every Unix mode before a byte is
 * written, check CRC-32 on every entry, and stay within bounded memory in a worker; that is ~400 lines
 * against a runtime dependency in a program that runs as root.
 */
export class ZipFormatError extends Error {}

export interface ZipEntry {
  /** The name as stored (separators not yet normalised). */
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  /** Host system from "version made by": 0 = MS-DOS/Windows, 3 = Unix. */
  host: number;
  externalAttrs: number;
  flags: number;
  /** Seconds since the epoch (from the DOS time, taken as UTC). */
  mtime: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
/** No central directory is this big for the folders we restore; beyond it is an attack on memory. */
const MAX_CENTRAL_DIR = 256 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

// IBM code page 437, upper half: names without the UTF-8 flag from MS-DOS/Windows hosts (Explorer before UTF-8).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function cp437(b: Buffer): string {
  let s = '';
  for (const c of b) s += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80]!;
  return s;
}

/** Unix zips (Info-ZIP) store the file system's bytes without the UTF-8 flag; unzip takes them as they are. */
function utf8OrNull(b: Buffer): string | null {
  return isUtf8(b) ? b.toString('utf8') : null;
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let off = 0;
  while (off < len) {
    const n = readSync(fd, b, off, len - off, pos + off);
    if (n === 0) throw new ZipFormatError('the file ends early (truncated?)');
    off += n;
  }
  return b;
}

function dosTime(date: number, time: number): number {
  const y = 1980 + (date >> 9);
  const mo = ((date >> 5) & 0xf) - 1;
  const d = date & 0x1f;
  const t = Date.UTC(y, mo, d || 1, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2);
  return Number.isFinite(t) ? Math.max(0, Math.floor(t / 1000)) : 0;
}

/** Extra fields as id → data. */
function extras(b: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= b.length) {
    const id = b.readUInt16LE(off);
    const len = b.readUInt16LE(off + 2);
    if (off + 4 + len > b.length) throw new ZipFormatError('an extra field runs past its entry');
    m.set(id, b.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return m;
}

/** Grows a Float64Array by doubling (a table of offsets: 8 bytes per entry, never an object per entry). */
function grown(a: Float64Array, n: number): Float64Array {
  if (n < a.length) return a;
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

function overlapping(next: ZipEntry | undefined, holder: ZipEntry | undefined): ZipFormatError {
  return new ZipFormatError(
    `${next?.name ?? 'an entry'} lies inside the bytes of ${holder?.name ?? 'another entry'} (entries that overlap: one stream read as several files, a zip bomb)`,
  );
}

export class ZipFile {
  readonly size: number;
  private constructor(
    readonly fd: number,
    size: number,
  ) {
    this.size = size;
  }

  static open(file: string): ZipFile {
    const fd = openSync(file, 'r');
    return new ZipFile(fd, fstatSync(fd).size);
  }

  /** A zip on a descriptor the caller opened (and closes: `close` leaves it open). */
  static onDescriptor(fd: number): ZipFile {
    const z = new ZipFile(fd, fstatSync(fd).size);
    z.owned = false;
    return z;
  }

  private owned = true;

  close(): void {
    if (this.owned) closeSync(this.fd);
  }

  /** Where the central directory is, from the end records (zip64 when they say so). */
  private directory(): { count: number; size: number; offset: number } {
    const tailLen = Math.min(this.size, 22 + 0xffff);
    if (tailLen < 22) throw new ZipFormatError('too short to be a zip file');
    const tail = readAt(this.fd, this.size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) === tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipFormatError('no end of central directory (not a zip, or truncated)');
    const eocdPos = this.size - tailLen + eocd;
    if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) {
      throw new ZipFormatError('a multi-part (spanned) zip: join the parts first');
    }
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      if (eocdPos < 20) throw new ZipFormatError('zip64 locator missing');
      const loc = readAt(this.fd, eocdPos - 20, 20);
      if (loc.readUInt32LE(0) !== SIG_EOCD64_LOCATOR) throw new ZipFormatError('zip64 locator missing');
      const pos64 = Number(loc.readBigUInt64LE(8));
      if (pos64 + 56 > this.size) throw new ZipFormatError('zip64 end record out of range');
      const e64 = readAt(this.fd, pos64, 56);
      if (e64.readUInt32LE(0) !== SIG_EOCD64) throw new ZipFormatError('zip64 end record missing');
      count = Number(e64.readBigUInt64LE(32));
      cdSize = Number(e64.readBigUInt64LE(40));
      cdOffset = Number(e64.readBigUInt64LE(48));
    }
    if (cdSize > MAX_CENTRAL_DIR || cdOffset + cdSize > this.size) {
      throw new ZipFormatError('the central directory is out of range');
    }
    return { count, size: cdSize, offset: cdOffset };
  }

  /**
   * The central directory's entries one at a time, in stored order, read a window (1 MiB) at a time: nothing per
   * entry is kept here, so a directory of millions of entries (up to 256 MiB) costs the caller only what it keeps.
   * `digest` gets the sha256 of the directory's bytes once they were all read (to tell whether a second pass read
   * the same directory).
   */
  *scan(digest?: (hex: string) => void): Generator<ZipEntry> {
    const { count, size, offset } = this.directory();
    const hash = createHash('sha256');
    const end = offset + size;
    let win: Buffer = Buffer.alloc(0);
    let winPos = offset;
    let pos = offset;
    /** `n` bytes of the directory from `pos` (a view of the window, re-read from `pos` when it runs out). */
    const bytes = (at: number, n: number): Buffer => {
      if (at + n > end) return Buffer.alloc(0);
      if (at < winPos || at + n > winPos + win.length) {
        win = readAt(this.fd, at, Math.min(end - at, Math.max(n, READ_CHUNK)));
        winPos = at;
      }
      return win.subarray(at - winPos, at - winPos + n);
    };
    for (let i = 0; i < count; i++) {
      const head = bytes(pos, 46);
      if (head.length < 46 || head.readUInt32LE(0) !== SIG_CENTRAL) {
        throw new ZipFormatError(`central directory entry ${i + 1} is damaged`);
      }
      const len = 46 + head.readUInt16LE(28) + head.readUInt16LE(30) + head.readUInt16LE(32);
      const rec = bytes(pos, len);
      if (rec.length < len) throw new ZipFormatError(`central directory entry ${i + 1} runs past the directory`);
      hash.update(rec);
      pos += len;
      yield this.parseCentral(rec);
    }
    digest?.(hash.digest('hex'));
  }

  /** One central directory record (`rec` holds exactly its bytes). */
  private parseCentral(rec: Buffer): ZipEntry {
    const madeBy = rec.readUInt16LE(4);
    const flags = rec.readUInt16LE(8);
    const method = rec.readUInt16LE(10);
    const time = rec.readUInt16LE(12);
    const date = rec.readUInt16LE(14);
    const crc = rec.readUInt32LE(16);
    let csize = rec.readUInt32LE(20);
    let usize = rec.readUInt32LE(24);
    const nameLen = rec.readUInt16LE(28);
    const extraLen = rec.readUInt16LE(30);
    const ext = rec.readUInt32LE(38);
    let local = rec.readUInt32LE(42);
    const rawName = rec.subarray(46, 46 + nameLen);
    const ex = extras(rec.subarray(46 + nameLen, 46 + nameLen + extraLen));
    const z64 = ex.get(0x0001);
    if (z64) {
      let p = 0;
      const next = (): number => {
        if (p + 8 > z64.length) throw new ZipFormatError('a zip64 extra field is too short');
        const v = Number(z64.readBigUInt64LE(p));
        p += 8;
        return v;
      };
      if (usize === 0xffffffff) usize = next();
      if (csize === 0xffffffff) csize = next();
      if (local === 0xffffffff) local = next();
    }
    let name: string;
    const unicodePath = ex.get(0x7075);
    // A name marked UTF-8 (flag or Info-ZIP's Unicode path field) whose bytes are not is refused, never read with
    // replacement characters: that would restore the file under another name (see tar-header.ts utf8Name).
    const marked =
      flags & 0x800
        ? rawName
        : unicodePath && unicodePath.length > 5 && unicodePath[0] === 1
          ? unicodePath.subarray(5)
          : null;
    if (marked !== null) {
      name = utf8OrNull(marked) ?? '';
      if (name === '' && marked.length > 0) {
        throw new ZipFormatError(
          `the name ${JSON.stringify(cp437(rawName))} is marked UTF-8 but is not, so it cannot be restored under its own name`,
        );
      }
    } else name = madeBy >> 8 === 0 ? cp437(rawName) : (utf8OrNull(rawName) ?? cp437(rawName));
    if (flags & 0x1) throw new ZipFormatError(`${name} is encrypted (zip passwords are not supported)`);
    if (!Number.isSafeInteger(csize) || !Number.isSafeInteger(usize) || local + 30 > this.size) {
      throw new ZipFormatError(`${name}: sizes or offset out of range`);
    }
    return {
      name,
      method,
      compressedSize: csize,
      size: usize,
      crc32: crc,
      localHeaderOffset: local,
      host: madeBy >> 8,
      externalAttrs: ext,
      flags,
      mtime: dosTime(date, time),
    };
  }

  /**
   * Reads the whole central directory once and judges its layout (see below), calling `each` for every entry;
   * returns the sha256 of the directory's bytes. Keeps nothing per entry for a directory in the order of the data
   * (16 bytes per entry while it runs otherwise, nothing after).
   *
   * Every entry owns its own bytes: its local header (30 bytes at least) and its compressed data, before the
   * central directory and before the next entry's header. A zip whose directory points several entries at one
   * stream, or whose data holds the next entry's header (David Fifield's overlapping zip bombs: 6 MB that read as
   * 256 TiB), is refused before a byte is inflated, as Info-ZIP's `unzip -t` refuses it ("overlapped components").
   * In another order: intervals [start, end) overlap exactly when, with starts and ends each sorted, some i-th end
   * lies past the (i+1)-th start: two sorted tables of numbers do, without an object per entry.
   */
  checkLayout(each: (e: ZipEntry) => void = () => undefined): string {
    const cdOffset = this.directory().offset;
    let digest = '';
    // The usual zip lists its entries in the order of their data (every tool we know writes it so): then each entry
    // need only start at or after the end of the one before, and nothing is kept per entry at all.
    let inOrder = true;
    let lastStart = -1;
    let lastEnd = 0;
    let last: ZipEntry | undefined;
    for (const e of this.scan((d) => (digest = d))) {
      each(e);
      // At least: the fixed part of its local header, then its data (the names and extras only add to it).
      const end = e.localHeaderOffset + 30 + e.compressedSize;
      if (end > cdOffset) throw new ZipFormatError(`${e.name}: its data runs into the central directory`);
      if (!inOrder || e.localHeaderOffset <= lastStart) {
        inOrder = false;
        continue;
      }
      if (e.localHeaderOffset < lastEnd) throw overlapping(e, last!);
      lastStart = e.localHeaderOffset;
      lastEnd = end;
      last = e;
    }
    if (!inOrder) this.checkUnordered(digest);
    return digest;
  }

  /** The layout check of a directory listed in another order than its data: two sorted tables of numbers. */
  private checkUnordered(judged: string): void {
    let starts: Float64Array = new Float64Array(1024);
    let ends: Float64Array = new Float64Array(1024);
    let n = 0;
    let digest = '';
    for (const e of this.scan((d) => (digest = d))) {
      starts = grown(starts, n);
      ends = grown(ends, n);
      starts[n] = e.localHeaderOffset;
      ends[n] = e.localHeaderOffset + 30 + e.compressedSize;
      n++;
    }
    if (digest !== judged) throw new ZipFormatError('the central directory changed while the archive was read');
    const s = starts.subarray(0, n).sort();
    const t = ends.subarray(0, n).sort();
    for (let i = 0; i + 1 < n; i++) {
      if (t[i]! <= s[i + 1]!) continue;
      // Named as before (one more pass, only for a zip that is refused): the entry that starts inside another's bytes.
      const inside = s[i + 1]!;
      let next: ZipEntry | undefined;
      let holder: ZipEntry | undefined;
      for (const e of this.scan()) {
        if (next === undefined && e.localHeaderOffset === inside) next = e;
        else if (
          holder === undefined &&
          e.localHeaderOffset <= inside &&
          inside < e.localHeaderOffset + 30 + e.compressedSize
        )
          holder = e;
        if (next !== undefined && holder !== undefined) break;
      }
      throw overlapping(next, holder);
    }
  }

  /** The central directory as a list, in stored order, its layout checked (small archives and tests). */
  entries(): ZipEntry[] {
    this.checkLayout();
    return [...this.scan()];
  }

  /** Where an entry's data starts (after its local header). */
  private dataStart(e: ZipEntry): number {
    const h = readAt(this.fd, e.localHeaderOffset, 30);
    if (h.readUInt32LE(0) !== SIG_LOCAL) throw new ZipFormatError(`${e.name}: its local header is missing`);
    const start = e.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (start + e.compressedSize > this.size) throw new ZipFormatError(`${e.name}: its data runs past the file`);
    return start;
  }

  /**
   * The entry's uncompressed bytes, in chunks; `onRaw` gets the count of compressed bytes read (progress).
   * Throws ZipFormatError when the data inflates to more or less than recorded or the CRC-32 differs.
   */
  async *read(e: ZipEntry, onRaw: (n: number) => void = () => undefined): AsyncGenerator<Buffer> {
    if (e.method !== 0 && e.method !== 8) {
      throw new ZipFormatError(`${e.name} uses compression method ${e.method}; only stored and deflate are read`);
    }
    const start = this.dataStart(e);
    const fd = this.fd;
    function* raw(): Generator<Buffer> {
      let left = e.compressedSize;
      let pos = start;
      while (left > 0) {
        const b = Buffer.allocUnsafe(Math.min(READ_CHUNK, left));
        const n = readSync(fd, b, 0, b.length, pos);
        if (n === 0) throw new ZipFormatError(`${e.name}: the file ends early`);
        left -= n;
        pos += n;
        onRaw(n);
        yield b.subarray(0, n);
      }
    }
    const src = Readable.from(raw(), { objectMode: false });
    const stream = e.method === 0 ? src : src.pipe(createInflateRaw({ chunkSize: 256 * 1024 }));
    if (e.method !== 0) src.on('error', (err) => stream.destroy(err));
    let crc = 0;
    let n = 0;
    try {
      for await (const c of stream as AsyncIterable<Buffer>) {
        n += c.length;
        // A decompression bomb is stopped at the recorded size, not at the end of the disk.
        if (n > e.size) throw new ZipFormatError(`${e.name} inflates to more than its recorded ${e.size} bytes`);
        crc = crc32(c, crc);
        yield c;
      }
    } catch (err) {
      if (err instanceof ZipFormatError) throw err;
      throw new ZipFormatError(`${e.name}: the compressed data is invalid (${(err as Error).message})`);
    } finally {
      stream.destroy();
    }
    if (n !== e.size) throw new ZipFormatError(`${e.name} holds ${n} bytes, its record says ${e.size}`);
    if (crc >>> 0 !== e.crc32 >>> 0) throw new ZipFormatError(`${e.name} does not match its CRC-32`);
  }
}
