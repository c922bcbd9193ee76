import {
  BLOCK,
  checksumOk,
  decodeHeader,
  isZeroBlock,
  parsePax,
  utf8Name,
  TarFormatError,
  type TarEntryHeader,
} from './tar-header.js';

export { TarFormatError };

/** Receives entries in archive order; all calls are synchronous so a handler can use sync fs. */
export interface TarHandler {
  entry(h: TarEntryHeader): void;
  data(chunk: Buffer): void;
  end(): void;
}

/** pax / GNU long-name bodies larger than this are not names, they are an attack on memory. */
const MAX_META = 1024 * 1024;

type Meta = { kind: string; parts: Buffer[]; size: number };

/**
 * A push parser: feed it decompressed bytes in any chunking, it calls the handler. It reads an archive as
 * GNU tar 1.34 lists it (tests/engine/tar-differential.test.ts holds it to that), or refuses it:
 * - precedence pax 'x' > GNU 'L'/'K' > ustar fields, for path, linkpath, size, uid, gid, uname, gname,
 *   mtime; the body is framed by the size that wins (a pax size over the ustar one);
 * - refused: pax globals that set anything, two 'x' (or 'L', 'K') headers for one entry, a header left
 *   without its entry, sparse/volume/other types, any body on a non-file entry (GNU tar frames those
 *   differently per type), a file whose name ends in '/', malformed numbers or pax records;
 * - the end-of-archive blocks are required, so a truncated tar is an error rather than a silent success.
 */
export class TarReader {
  private readonly hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  private mode: 'header' | 'body' | 'done' = 'header';
  private remaining = 0;
  private pad = 0;
  private meta: Meta | null = null;
  private pendingPax: Map<string, string> | null = null;
  private pendingName: string | null = null;
  private pendingLink: string | null = null;
  private zeros = 0;

  constructor(private readonly handler: TarHandler) {}

  get done(): boolean {
    return this.mode === 'done';
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.mode === 'done') return; // trailing record padding
      if (this.mode === 'header') {
        const n = Math.min(BLOCK - this.hdrFill, chunk.length - off);
        chunk.copy(this.hdr, this.hdrFill, off, off + n);
        this.hdrFill += n;
        off += n;
        if (this.hdrFill === BLOCK) {
          this.hdrFill = 0;
          this.onHeader();
        }
        continue;
      }
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - off);
        const slice = chunk.subarray(off, off + n);
        if (this.meta) {
          this.meta.parts.push(Buffer.from(slice));
        } else {
          this.handler.data(slice);
        }
        this.remaining -= n;
        off += n;
      } else {
        const n = Math.min(this.pad, chunk.length - off);
        this.pad -= n;
        off += n;
      }
      if (this.remaining === 0 && this.pad === 0) this.finishBody();
    }
  }

  /** Call after the last byte: throws if the archive ended early. */
  finish(): void {
    if (this.mode !== 'done') throw new TarFormatError('the archive ends early (truncated?)');
    if (this.pendingPax !== null || this.pendingName !== null || this.pendingLink !== null) {
      throw new TarFormatError('an extended header without its entry at the end of the archive');
    }
  }

  private onHeader(): void {
    if (isZeroBlock(this.hdr)) {
      this.zeros++;
      if (this.zeros === 2) this.mode = 'done';
      return;
    }
    if (this.zeros > 0) throw new TarFormatError('a zero block in the middle of the archive');
    if (!checksumOk(this.hdr)) throw new TarFormatError('a tar header has a bad checksum');
    const h = decodeHeader(this.hdr);
    if (h.flag === 'x' || h.flag === 'g' || h.flag === 'L' || h.flag === 'K') {
      if (h.size > MAX_META) throw new TarFormatError(`a ${h.flag} header of ${h.size} bytes`);
      const pending =
        h.flag === 'x' ? this.pendingPax : h.flag === 'L' ? this.pendingName : h.flag === 'K' ? this.pendingLink : null;
      if (pending !== null) throw new TarFormatError(`two '${h.flag}' headers for one entry`);
      this.meta = { kind: h.flag, parts: [], size: h.size };
      this.startBody(h.size);
      return;
    }
    if (h.type === 'other') throw new TarFormatError(`an entry of unsupported type '${printable(h.flag)}'`);
    this.applyPending(h);
    if (h.type !== 'file' && h.size !== 0) {
      throw new TarFormatError(`a ${h.type} entry with ${h.size} bytes of data (${JSON.stringify(h.path)})`);
    }
    if (h.type === 'file' && h.path.endsWith('/')) {
      throw new TarFormatError(`a file entry named like a folder (${JSON.stringify(h.path)})`);
    }
    this.handler.entry(h);
    if (h.type === 'file') this.startBody(h.size);
    else this.handler.end();
  }

  /** Frames a body of `size` bytes (the size that won), padded to whole blocks: never a negative count. */
  private startBody(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`a body of ${size} bytes`);
    this.remaining = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.mode = 'body';
    if (size === 0) this.finishBody();
  }

  private finishBody(): void {
    this.mode = 'header';
    const meta = this.meta;
    if (!meta) {
      this.handler.end();
      return;
    }
    this.meta = null;
    const body = Buffer.concat(meta.parts);
    if (meta.kind === 'x') this.pendingPax = parsePax(body);
    else if (meta.kind === 'L') this.pendingName = cString(body);
    else if (meta.kind === 'K') this.pendingLink = cString(body);
    else {
      // A pax global header changes every later entry in GNU tar; ours never write one. Comments only.
      const g = parsePax(body);
      for (const k of g.keys()) if (k !== 'comment') throw new TarFormatError(`a pax global header setting ${k}`);
    }
  }

  private applyPending(h: TarEntryHeader): void {
    if (this.pendingName !== null) h.path = this.pendingName;
    if (this.pendingLink !== null) h.linkpath = this.pendingLink;
    const pax = this.pendingPax;
    if (pax) {
      const int = (k: string, cur: number): number => {
        const v = pax.get(k);
        if (v === undefined) return cur;
        if (!/^[0-9]{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
          throw new TarFormatError(`a pax header with a bad ${k}`);
        }
        return Number(v);
      };
      for (const k of pax.keys()) {
        // Sparse files are framed by a map GNU tar reads and we do not: refused.
        if (k.startsWith('GNU.sparse.')) throw new TarFormatError('a sparse file (GNU.sparse pax keys)');
      }
      h.path = pax.get('path') ?? h.path;
      h.linkpath = pax.get('linkpath') ?? h.linkpath;
      h.size = int('size', h.size);
      const mt = pax.get('mtime');
      if (mt !== undefined) {
        if (!/^-?[0-9]{1,16}(\.[0-9]*)?$/.test(mt)) throw new TarFormatError('a pax header with a bad mtime');
        h.mtime = Math.floor(Number(mt));
      }
      h.uid = int('uid', h.uid);
      h.gid = int('gid', h.gid);
      h.uname = pax.get('uname') ?? h.uname;
      h.gname = pax.get('gname') ?? h.gname;
    }
    if (h.path === '') throw new TarFormatError('an entry with an empty name');
    this.pendingName = null;
    this.pendingLink = null;
    this.pendingPax = null;
    if (h.type === 'dir' && h.path.endsWith('/')) h.path = h.path.replace(/\/+$/, '');
  }
}

function printable(flag: string): string {
  return /^[\x21-\x7e]$/.test(flag) ? flag : `\\x${flag.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** A GNU long name or link target (its own record): a name, so refused if it is not UTF-8 (see utf8Name). */
function cString(b: Buffer): string {
  const z = b.indexOf(0);
  return utf8Name(b, 0, z === -1 ? b.length : z);
}
