import { hash as hashOnce } from 'node:crypto';
import {
  closeSync,
  constants as fsc,
  type Dirent,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  type Stats,
} from 'node:fs';
import { parentPort, type Worker } from 'node:worker_threads';
import { procFdPath } from '../util/atomic-fs.js';
import { groupNameForGid, userNameForUid } from '../util/system-users.js';
import { startWorker } from '../util/worker.js';
import { manifestLine, type ManifestLine } from './manifest.js';
import { BLOCK, encodeHeader } from './tar-header.js';

/**
 * A second thread that reads small files for the archive (issue 9: on small files the archive thread is busy
 * with open/fstat/read/fstat/close, ~40 µs a file, while the other core idles). The archive thread keeps the
 * walk, the order and the output. Before it goes into a folder itself, it asks the helper for the folder after
 * it among the same parent's folders (two threads in the same folder slow each other down in the kernel): the
 * helper lists it and writes the tar entries of its leading run of regular files (header, data, padding — the
 * bytes the archive thread would write) into a slot of a shared buffer, with their manifest lines. When the
 * archive thread reaches that folder it lists it itself, and copies the slot in only where the helper's names
 * are exactly its own first entries. The helper stops at the first file it should not decide alone (not a
 * regular file any more, cannot be opened or read, larger than what is left of the slot): the archive thread
 * takes that file and the rest itself, with its own checks and messages. A file that came up short is reported.
 */

/** Entries by name (byte order of UTF-16), with their types: the archive's order, on both threads. */
export function sortedEntries(dir: string): Dirent[] {
  return readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Bytes per slot; two slots, so the helper can fill one while the archive thread copies the other. */
export const SLOT_BYTES = 4 * 1024 * 1024;
const SLOTS = 2;

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fsc.O_NONBLOCK ?? 0;
/** A file of the tree: never through a link, never waiting on a FIFO swapped in (both reading threads open files so). */
export const OPEN_FLAGS = fsc.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** A folder, never through a link (both reading threads open folders so). */
export const DIR_FLAGS = fsc.O_RDONLY | (fsc.O_DIRECTORY ?? 0) | O_NOFOLLOW;

interface ReadRequest {
  seq: number;
  slot: number;
  /** The folder's path with its separator (for messages), and its path in the archive with its slash. */
  prefix: string;
  relPrefix: string;
  /** Linux: the folder's name through its parent's descriptor, opened here without following a link. */
  at?: string;
}

export interface ReadReply {
  seq: number;
  /** The folder read (when opened by `at`): the archive thread takes the files only from the folder it reads. */
  dev?: number;
  ino?: number;
  /** The files written into the slot: the folder's first entries, in order. */
  names: string[];
  /** names.length */
  done: number;
  /** Bytes of the slot used. */
  len: number;
  /** Their manifest lines, each ending in a newline. */
  lines: string;
  contentBytes: number;
  /** The next file (name) shrank while the helper read it. */
  shrank?: string;
  changed: { path: string; detail: string }[];
  owners: { uid: number; gid: number; uname: string; gname: string }[];
}

/** What the archive and the helper both write for an entry whose stat is `st` (one place for the entry's fields). */
export function entryLine(
  rel: string,
  st: Stats,
  type: ManifestLine['type'],
  size: number,
  names: { uname: string; gname: string },
): ManifestLine {
  return {
    path: rel,
    type,
    size,
    mode: st.mode & 0o7777,
    mtime: Math.floor(st.mtimeMs / 1000),
    uname: names.uname,
    gname: names.gname,
    uid: st.uid,
    gid: st.gid,
  };
}

/** A regular file's line (its size from the same stat). */
export function fileLine(rel: string, st: Stats, names: { uname: string; gname: string }): ManifestLine {
  return entryLine(rel, st, 'file', st.size, names);
}

/** Why a file read twice differs, or null when size, mtime and ctime are the same. */
export function changedDetail(before: Stats, after: Stats): string | null {
  if (after.size === before.size && after.mtimeMs === before.mtimeMs && after.ctimeMs === before.ctimeMs) return null;
  return [
    after.size !== before.size ? `size ${before.size} → ${after.size}` : '',
    after.mtimeMs !== before.mtimeMs ? 'modified' : '',
    after.ctimeMs !== before.ctimeMs && after.mtimeMs === before.mtimeMs ? 'attributes changed' : '',
  ]
    .filter(Boolean)
    .join(', ');
}

// ---- helper thread ----

/** The helper thread's job: answers read requests until the archive thread terminates it. */
export function serveReadHelper(input: { shared: SharedArrayBuffer }): Promise<void> {
  const port = parentPort!;
  const slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(input.shared, i * SLOT_BYTES, SLOT_BYTES));
  const scratch = Buffer.alloc(BLOCK);
  const owners = new Map<string, { uname: string; gname: string }>();
  port.on('message', (r: ReadRequest) => port.postMessage(readRun(r, slots[r.slot]!, scratch, owners)));
  return new Promise<void>(() => undefined);
}

function readRun(
  r: ReadRequest,
  slot: Buffer,
  scratch: Buffer,
  owners: Map<string, { uname: string; gname: string }>,
): ReadReply {
  const reply: ReadReply = {
    seq: r.seq,
    names: [],
    done: 0,
    len: 0,
    lines: '',
    contentBytes: 0,
    changed: [],
    owners: [],
  };
  let dfd = -1;
  try {
    if (r.at !== undefined) {
      dfd = openSync(r.at, DIR_FLAGS);
      const st = fstatSync(dfd);
      reply.dev = st.dev;
      reply.ino = st.ino;
    }
    return readFolder(r, dfd, reply, slot, scratch, owners);
  } catch {
    return reply; // the archive thread reads the folder itself and says why it cannot
  } finally {
    if (dfd !== -1) closeSync(dfd);
  }
}

function readFolder(
  r: ReadRequest,
  dfd: number,
  reply: ReadReply,
  slot: Buffer,
  scratch: Buffer,
  owners: Map<string, { uname: string; gname: string }>,
): ReadReply {
  const here = dfd !== -1 ? `${procFdPath(dfd)}/` : r.prefix;
  let entries: Dirent[];
  try {
    entries = sortedEntries(dfd !== -1 ? procFdPath(dfd) : r.prefix);
  } catch {
    return reply;
  }
  const seen = new Set<string>();
  let off = 0;
  for (const e of entries) {
    if (!e.isFile()) break;
    const name = e.name;
    const abs = r.prefix + name;
    let fd: number;
    try {
      fd = openSync(here + name, OPEN_FLAGS);
    } catch {
      break; // the archive thread opens it again and says why it cannot
    }
    let ok = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) break;
      const pad = (BLOCK - (st.size % BLOCK)) % BLOCK;
      const key = `${st.uid}:${st.gid}`;
      let o = owners.get(key);
      if (!o) {
        o = { uname: userNameForUid(st.uid) ?? '', gname: groupNameForGid(st.gid) ?? '' };
        owners.set(key, o);
      }
      const m = fileLine(r.relPrefix + name, st, o);
      const header = encodeHeader(m, scratch);
      if (off + header.length + st.size + pad > slot.length) break;
      header.copy(slot, off);
      const start = off + header.length;
      let at = start;
      let left = st.size;
      while (left > 0) {
        const n = readSync(fd, slot, at, left, null);
        if (n === 0) {
          reply.shrank = name;
          break;
        }
        at += n;
        left -= n;
      }
      if (reply.shrank !== undefined) break;
      m.sha256 = hashOnce('sha256', slot.subarray(start, at), 'hex');
      if (pad) slot.fill(0, at, at + pad);
      const detail = changedDetail(st, fstatSync(fd));
      if (detail !== null) reply.changed.push({ path: abs, detail });
      if (!seen.has(key)) {
        seen.add(key);
        reply.owners.push({ uid: st.uid, gid: st.gid, ...o });
      }
      reply.lines += manifestLine(m) + '\n';
      reply.contentBytes += st.size;
      reply.names.push(name);
      reply.done++;
      off = at + pad;
      ok = true;
    } catch {
      // A read error: the archive thread reads the file again and reports it with its own message.
    } finally {
      closeSync(fd);
    }
    if (!ok) break;
  }
  reply.len = off;
  return reply;
}

// ---- archive thread ----

/** What the helper wrote for a folder, and its slot back to the helper once copied. */
export interface Prefetched {
  reply: ReadReply | null;
  data: Buffer;
  release(): void;
}

/** The archive thread's side: folders asked ahead, each in a free slot (none free: not asked). */
export class ReadHelper {
  private readonly worker: Worker;
  private readonly slots: Buffer[];
  private readonly free: number[];
  private seq = 0;
  private readonly waiting = new Map<number, (r: ReadReply | null) => void>();
  private readonly asked = new Map<string, Promise<Prefetched>>();
  private dead = false;

  constructor() {
    const shared = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
    this.slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(shared, i * SLOT_BYTES, SLOT_BYTES));
    this.free = this.slots.map((_, i) => i);
    // Its own small heap: it keeps nothing but a few lines per folder.
    this.worker = startWorker('archive.read-helper', { shared }, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.on('message', (r: ReadReply) => {
      const w = this.waiting.get(r.seq);
      this.waiting.delete(r.seq);
      w?.(r);
    });
    // A helper that fails only means the archive thread reads those files itself.
    const gone = (): void => {
      this.dead = true;
      for (const w of this.waiting.values()) w(null);
      this.waiting.clear();
    };
    this.worker.on('error', gone);
    this.worker.on('exit', gone);
  }

  /**
   * Asks for the folder `prefix` (its path and its path in the archive, each with its separator); `at`: the name
   * to open it by (through its parent's descriptor, which stays open until the answer was taken).
   */
  ask(prefix: string, relPrefix: string, at?: string): void {
    if (this.dead || this.asked.has(prefix) || this.free.length === 0) return;
    const slot = this.free.pop()!;
    const seq = this.seq++;
    let released = false;
    const release = (): void => {
      if (!released) this.free.push(slot);
      released = true;
    };
    this.asked.set(
      prefix,
      new Promise<Prefetched>((resolve) => {
        this.waiting.set(seq, (reply) => resolve({ reply, data: this.slots[slot]!, release }));
        this.worker.postMessage({
          seq,
          slot,
          prefix,
          relPrefix,
          ...(at !== undefined ? { at } : {}),
        } satisfies ReadRequest);
      }),
    );
  }

  /** What was asked for `prefix`, if it was (the caller releases it). */
  take(prefix: string): Promise<Prefetched> | undefined {
    const p = this.asked.get(prefix);
    this.asked.delete(prefix);
    return p;
  }

  async close(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}
