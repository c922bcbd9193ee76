import { BLOCK, checksumOk, decodeHeader, isZeroBlock, parsePax, type TarEntryHeader } from './tar-header.js';

/** Receives entries in archive order; all calls are synchronous so a handler can use sync fs. */
export interface TarHandler {
  entry(h: TarEntryHeader): void;
  data(chunk: Buffer): void;
  end(): void;
}

export class TarFormatError extends Error {}

/** pax / GNU long-name bodies larger than this are not names, they are an attack on memory. */
const MAX_META = 1024 * 1024;

type Meta = { kind: string; parts: Buffer[]; size: number };

/**
 * A push parser: feed it decompressed bytes in any chunking, it calls the handler. It applies pax 'x'
 * and GNU 'L'/'K' records to the next header, ignores pax globals, and requires the end-of-archive
 * blocks, so a truncated tar is an error rather than a silent success.
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
    const bodySize = Math.ceil(h.size / BLOCK) * BLOCK;
    if (h.flag === 'x' || h.flag === 'g' || h.flag === 'L' || h.flag === 'K') {
      if (h.size > MAX_META) throw new TarFormatError(`a ${h.flag} header of ${h.size} bytes`);
      this.meta = { kind: h.flag, parts: [], size: h.size };
      this.startBody(h.size, bodySize - h.size);
      return;
    }
    this.applyPending(h);
    this.handler.entry(h);
    const hasBody = h.type === 'file' || h.type === 'other';
    if (hasBody) this.startBody(h.size, bodySize - h.size);
    else this.handler.end();
  }

  private startBody(size: number, pad: number): void {
    this.remaining = size;
    this.pad = pad;
    this.mode = 'body';
    if (size === 0 && pad === 0) this.finishBody();
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
  }

  private applyPending(h: TarEntryHeader): void {
    if (this.pendingName !== null) h.path = this.pendingName;
    if (this.pendingLink !== null) h.linkpath = this.pendingLink;
    const pax = this.pendingPax;
    if (pax) {
      const num = (k: string, cur: number): number => {
        const v = pax.get(k);
        if (v === undefined) return cur;
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new TarFormatError(`a pax header with a bad ${k}`);
        return n;
      };
      h.path = pax.get('path') ?? h.path;
      h.linkpath = pax.get('linkpath') ?? h.linkpath;
      h.size = num('size', h.size);
      h.mtime = Math.floor(num('mtime', h.mtime));
      h.uid = num('uid', h.uid);
      h.gid = num('gid', h.gid);
      h.uname = pax.get('uname') ?? h.uname;
      h.gname = pax.get('gname') ?? h.gname;
    }
    this.pendingName = null;
    this.pendingLink = null;
    this.pendingPax = null;
    if (h.type === 'dir' && h.path.endsWith('/')) h.path = h.path.replace(/\/+$/, '');
  }
}

function cString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z === -1 ? b.length : z);
}
