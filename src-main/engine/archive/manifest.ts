import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Inner manifest: the last tar entry, one JSON line per entry in archive order. */
export const MANIFEST_PATH = '.edge-recovery/files.jsonl';
export const MANIFEST_FORMAT = 'edge-recovery-files';

export interface ManifestHead {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  items: { id: string }[];
}

export interface ManifestLine {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number;
  mtime: number;
  uname: string;
  gname: string;
  uid: number;
  gid: number;
  sha256?: string;
  target?: string;
}

/**
 * Same key order everywhere, so lines written at backup and recomputed at verify compare as text. Built as a string
 * (a line per file, 500,000 on a small-file backup, and again at its read-back and restore): the same text
 * `JSON.stringify` gives for these keys in this order, which `manifestLineObject` spells out and the tests compare.
 */
export function manifestLine(e: ManifestLine): string {
  if (
    typeof e.path !== 'string' ||
    typeof e.type !== 'string' ||
    typeof e.uname !== 'string' ||
    typeof e.gname !== 'string' ||
    !Number.isFinite(e.size) ||
    !Number.isFinite(e.mode) ||
    !Number.isFinite(e.mtime) ||
    !Number.isFinite(e.uid) ||
    !Number.isFinite(e.gid)
  )
    return JSON.stringify(manifestLineObject(e));
  let s =
    `{"path":${JSON.stringify(e.path)},"type":${typeText(e.type)},"size":${e.size},"mode":${e.mode},` +
    `"mtime":${e.mtime},"uname":${JSON.stringify(e.uname)},"gname":${JSON.stringify(e.gname)},` +
    `"uid":${e.uid},"gid":${e.gid}`;
  if (e.sha256 !== undefined) s += `,"sha256":${JSON.stringify(e.sha256)}`;
  if (e.target !== undefined) s += `,"target":${JSON.stringify(e.target)}`;
  return s + '}';
}

function typeText(t: string): string {
  return t === 'file' ? '"file"' : t === 'dir' ? '"dir"' : t === 'symlink' ? '"symlink"' : JSON.stringify(t);
}

/** The line's object, keys in their order (what manifestLine's text stands for). */
export function manifestLineObject(e: ManifestLine): ManifestLine {
  const o: ManifestLine = {
    path: e.path,
    type: e.type,
    size: e.size,
    mode: e.mode,
    mtime: e.mtime,
    uname: e.uname,
    gname: e.gname,
    uid: e.uid,
    gid: e.gid,
  };
  if (e.sha256 !== undefined) o.sha256 = e.sha256;
  if (e.target !== undefined) o.target = e.target;
  return o;
}

export function parseHead(line: string | null): ManifestHead | null {
  if (line === null) return null;
  try {
    const h = JSON.parse(line) as Partial<ManifestHead>;
    if (h.format !== MANIFEST_FORMAT || h.version !== 1 || !Array.isArray(h.items)) return null;
    return h as ManifestHead;
  } catch {
    return null;
  }
}

export function parseLine(line: string): ManifestLine | null {
  try {
    const l = JSON.parse(line) as ManifestLine;
    return typeof l.path === 'string' && typeof l.type === 'string' && typeof l.size === 'number' ? l : null;
  } catch {
    return null;
  }
}

/** Appends lines to a file through a small buffer: the manifest of 100k entries never sits in memory. */
export class LineSpool {
  private buf: string[] = [];
  private pending = 0;
  bytes = 0;

  constructor(private readonly fd: number) {}

  add(line: string): void {
    this.buf.push(line, '\n');
    this.pending += line.length + 1;
    if (this.pending > 64 * 1024) this.flush();
  }

  /** Lines already joined, each ending in a newline. */
  addText(text: string): void {
    this.buf.push(text);
    this.pending += text.length;
    if (this.pending > 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0) return;
    const b = Buffer.from(this.buf.join(''), 'utf8');
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.bytes += b.length;
    this.buf = [];
    this.pending = 0;
  }
}

/** Reads a file line by line with synchronous reads (inside the worker). */
export class LineReader {
  private readonly fd: number;
  private readonly chunk = Buffer.alloc(64 * 1024);
  private rest = '';
  private lines: string[] = [];
  private idx = 0;
  private eof = false;
  // A chunk boundary may cut a UTF-8 character in two.
  private readonly decoder = new StringDecoder('utf8');

  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }

  next(): string | null {
    for (;;) {
      if (this.idx < this.lines.length) return this.lines[this.idx++]!;
      if (this.eof) {
        if (this.rest !== '') {
          const last = this.rest;
          this.rest = '';
          return last;
        }
        return null;
      }
      const n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      if (n === 0) {
        this.eof = true;
        continue;
      }
      const parts = (this.rest + this.decoder.write(this.chunk.subarray(0, n))).split('\n');
      this.rest = parts.pop() ?? '';
      this.lines = parts;
      this.idx = 0;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
