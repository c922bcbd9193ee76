import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { formatBytes, ProgressMeter, type ProgressSink } from '../progress.js';
import { DEFAULT_GZIP_LEVEL, archiveBaseName } from './create.js';
import { EntryScreen, hostile } from './entry-check.js';
import { GzipOut } from './gzip-out.js';
import { isAncestor, mapPath, screenName, type MapItem } from './hand-made-map.js';
import { LineSpool, MANIFEST_FORMAT, MANIFEST_PATH, manifestLine, type ManifestLine } from './manifest.js';
import { PartWriter } from './part-writer.js';
import { PathSet } from './path-set.js';
import { BLOCK, encodeHeader, type TarEntryHeader } from './tar-header.js';
import { TarFormatError, TarReader } from './tar-reader.js';
import { TarSink } from './tar-sink.js';
import type { ArchivePart } from './types.js';
import { ZipFile, ZipFormatError, type ZipEntry } from './zip-reader.js';
import { fileKind, openRegularFileSync } from '../util/given-path.js';
import type { FolderId } from '../util/safe-delete.js';

export type HandMadeFormat = 'tar' | 'tar.gz' | 'zip';

export interface AdoptArchiveOptions {
  /** The hand-made archive. */
  source: string;
  items: MapItem[];
  /** Where our `data.tar.gz` goes; absent: read it through and judge it, write nothing. */
  outDir?: string;
  /**
   * Where `outDir` is opened, when the caller holds it open: `/proc/self/fd/N/.` of its descriptor (as
   * CreateArchiveOptions.outDirAt), so the parts go into exactly that folder whatever `outDir`'s path names by then.
   */
  outDirAt?: string;
  splitSize?: number;
  gzipLevel?: number;
  /**
   * With `outDir`: stop (NOT_ENOUGH_SPACE) before `outDir`'s filesystem has less than this free for other accounts.
   * Room for the copy is checked from the archive's size before it starts, but the copy is recompressed (level 1) and
   * may come out several times larger than an archive packed harder (zip -9 of zero-filled files: 4.5 times), while
   * the product keeps writing to the same disk.
   */
  keepFreeBytes?: number;
}

export interface AdoptArchiveResult {
  format: HandMadeFormat;
  sourceBytes: number;
  /** sha256 of the archive file as read (identifies the source in the report). */
  sourceSha256: string;
  /** The folders above the items inside the archive ('' when the items are at the top). */
  base: string;
  items: { id: string; from: string; files: number; contentBytes: number }[];
  /** Entries outside the profile's folders: left out, counted, a few named. */
  ignored: { count: number; examples: string[] };
  /** Folders the archive did not list but its files need (zip files often carry none). */
  impliedDirs: number;
  parts: ArchivePart[];
  files: number;
  dirs: number;
  symlinks: number;
  contentBytes: number;
  archiveBytes: number;
  owners: { uname: string; gname: string }[];
}

interface SourceEntry {
  name: string;
  type: TarEntryHeader['type'];
  flag: string;
  size: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkpath?: string;
}

function damaged(what: string, cause?: unknown): RecoveryError {
  return new RecoveryError('BACKUP_CORRUPT', `The archive is damaged: ${what}.`, {
    hint: 'Use another copy of the archive. Nothing was changed.',
    cause,
  });
}

/** How often (bytes of the copy written) the free space of its disk is looked at again. */
const ROOM_CHECK_EVERY = 1024 * 1024;

/**
 * What the file list (a manifest line per entry, ~190 bytes, in the system's temporary folder) leaves free there at
 * least, with or without a copy: a zip of empty files costs ~120 bytes an entry, so a large or hostile one grew the
 * list until that disk (/tmp: the system disk, the product's too) was full, while the product runs.
 */
const SPOOL_KEEP_FREE = 16 * 1024 * 1024;

/** Stops the file list before the temporary folder's disk is full. */
function keepSpoolRoom(dir: string, keep: number, written: number): void {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free >= keep) return;
  throw new RecoveryError(
    'NOT_ENOUGH_SPACE',
    `The list of the hand-made archive's files outgrew the free space in the temporary folder ${path.dirname(dir)} (${formatBytes(written)} written so far): it was stopped with ${formatBytes(free)} still free, before the disk was full, and removed. Nothing was changed.`,
    {
      hint: 'Free some space there, or set TMPDIR to a folder on a disk with more room (not the stick), then start again.',
      details: { dir: path.dirname(dir), written, free },
    },
  );
}

/** Stops the copy before its disk is full: the product on the same disk still runs and writes. */
function keepRoom(dir: string, keep: number, written: number, at = dir): void {
  const s = statfsSync(at);
  const free = s.bavail * s.bsize;
  if (free >= keep) return;
  throw new RecoveryError(
    'NOT_ENOUGH_SPACE',
    `The checked copy of the hand-made archive outgrew the free space in ${dir}: it compresses less well than the archive (${formatBytes(written)} written so far), so it was stopped with ${formatBytes(free)} still free, before the disk was full, and removed. Nothing was changed.`,
    {
      hint: 'Run the restore with --state-dir on a disk with more room (not the stick).',
      details: { dir, written, free },
    },
  );
}

export function detectFormat(file: string, opened?: number): HandMadeFormat {
  const fd = opened ?? openSync(file, 'r');
  const head = Buffer.alloc(512);
  let n: number;
  try {
    n = readSync(fd, head, 0, 512, 0);
  } finally {
    if (opened === undefined) closeSync(fd);
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (n >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (n >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip'; // an empty zip
  if (n === 512 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  if (n === 512 && /\.tar$/i.test(file)) return 'tar'; // old (v7) tar headers carry no magic
  throw new RecoveryError('BACKUP_CORRUPT', `${path.basename(file)} is not a tar, tar.gz or zip archive.`, {
    hint: 'Pick the backup archive itself (.tar, .tar.gz, .tgz or .zip), or a backup folder made by this tool.',
  });
}

/** Special bits and group/other write never come from an archive; the restore's policy sets modes anyway. */
function safeMode(mode: number, type: SourceEntry['type']): number {
  return mode & 0o777 & ~0o022 || (type === 'dir' ? 0o755 : 0o644);
}

/**
 * Reads a hand-made tar, tar.gz or zip completely, judges every entry with the same screen as our own
 * archives (after mapping it to a profile folder), checks every zip entry's CRC-32 and every gzip member's
 * CRC, and — with `outDir` — writes it as our own `data.tar.gz` with the inner manifest (sha256 of every
 * file). Nothing is written outside `outDir`; without it nothing is written at all.
 */
export async function adoptArchiveJob(
  opts: AdoptArchiveOptions,
  ctx: { progress: ProgressSink; willCreate: (p: string, recursive?: boolean, heldIn?: FolderId) => void },
): Promise<AdoptArchiveResult> {
  // Opened once, only as the regular file it was judged to be (openRegularFileSync: a FIFO or a device swapped in
  // by whoever can write its folder, e.g. the desktop user owning a stick's mount, is never opened), and every
  // read (format, data, the file's own hash) is of that descriptor, never of the name again.
  let opened: ReturnType<typeof openRegularFileSync>;
  try {
    opened = openRegularFileSync(opts.source);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new RecoveryError('BACKUP_NOT_FOUND', `There is no archive at ${opts.source}.`, { cause: e });
    throw toRecoveryError(e, opts.source);
  }
  if (opened.fd === null) {
    throw new RecoveryError('BAD_INPUT', `${opts.source} is not a file (it is ${fileKind(opened.st)}).`);
  }
  const { fd: sourceFd, st } = opened;
  try {
    return await adoptOpened(opts, ctx, sourceFd, st.size);
  } finally {
    closeSync(sourceFd);
  }
}

async function adoptOpened(
  opts: AdoptArchiveOptions,
  ctx: { progress: ProgressSink; willCreate: (p: string, recursive?: boolean, heldIn?: FolderId) => void },
  sourceFd: number,
  sourceSize: number,
): Promise<AdoptArchiveResult> {
  const st = { size: sourceSize };
  const format = detectFormat(opts.source, sourceFd);
  const meter = new ProgressMeter('reading', { bytes: st.size, files: null }, ctx.progress);
  const itemIds = new Set(opts.items.map((i) => i.id));
  // The one screen every reader of a backup shares: entry shapes, plus link chains resolved against the tree.
  const screen = new EntryScreen(itemIds);
  const result: AdoptArchiveResult = {
    format,
    sourceBytes: st.size,
    sourceSha256: '',
    base: '',
    items: [],
    ignored: { count: 0, examples: [] },
    impliedDirs: 0,
    parts: [],
    files: 0,
    dirs: 0,
    symlinks: 0,
    contentBytes: 0,
    archiveBytes: 0,
    owners: [],
  };
  const perItem = new Map<string, { id: string; from: string; files: number; contentBytes: number }>();
  const owners = new Map<string, { uname: string; gname: string }>();
  let base: string | null = null;
  /** Paths written so far and their type: parents before children, no duplicates (13–26 bytes per path). */
  const written = new PathSet();

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'edge-recovery-adopt-'));
  const spoolFile = path.join(tmp, 'files.jsonl');
  const spoolFd = openSync(spoolFile, 'w', 0o600);
  const spool = new LineSpool(spoolFd);
  let nextSpoolCheck = 0;
  /** Every MiB of the list written: the temporary folder's disk keeps its margin (or the copy's, if larger). */
  const listed = (line: string): void => {
    spool.add(line);
    if (spool.bytes < nextSpoolCheck) return;
    nextSpoolCheck = spool.bytes + ROOM_CHECK_EVERY;
    keepSpoolRoom(tmp, Math.max(SPOOL_KEEP_FREE, opts.keepFreeBytes ?? 0), spool.bytes);
  };
  const writer =
    opts.outDir === undefined
      ? null
      : new PartWriter(
          opts.outDir,
          archiveBaseName(false),
          opts.splitSize,
          (f, heldIn) => ctx.willCreate(f, false, heldIn),
          opts.outDirAt,
        );
  const gz = writer === null ? null : new GzipOut(opts.gzipLevel ?? DEFAULT_GZIP_LEVEL, null, writer);
  let nextRoomCheck = 0;
  const sink = new TarSink(async (b) => {
    if (gz === null) return;
    await gz.write(b);
    if (opts.keepFreeBytes !== undefined && writer!.total >= nextRoomCheck) {
      nextRoomCheck = writer!.total + ROOM_CHECK_EVERY;
      keepRoom(opts.outDir!, opts.keepFreeBytes, writer!.total, opts.outDirAt);
    }
  });

  const ignore = (name: string): void => {
    result.ignored.count++;
    if (result.ignored.examples.length < 5) result.ignored.examples.push(name);
  };

  const emitDir = async (p: string, like: SourceEntry): Promise<void> => {
    const m: ManifestLine = {
      path: p,
      type: 'dir',
      size: 0,
      mode: 0o755,
      mtime: like.mtime,
      uname: like.uname,
      gname: like.gname,
      uid: like.uid,
      gid: like.gid,
    };
    await sink.write(encodeHeader(m));
    listed(manifestLine(m));
    written.set(p, 'dir');
    result.dirs++;
    result.impliedDirs++;
  };

  /**
   * Judges one entry; returns where its data goes (null: skipped, its data is read and dropped).
   * Everything that could be refused is refused here, before its bytes are written anywhere.
   */
  const begin = async (e: SourceEntry, zip: boolean): Promise<{ line: ManifestLine; hash: Hash | null } | null> => {
    const parts = screenName(e.name, zip);
    if (parts.length === 0) return null; // `./`
    const m = mapPath(parts, opts.items);
    if (m === null) {
      if (!(e.type === 'dir' && isAncestor(parts, opts.items))) ignore(parts.join('/'));
      return null;
    }
    if (base === null) base = m.base;
    else if (base.toLowerCase() !== m.base.toLowerCase()) {
      throw new RecoveryError(
        'PROFILE_MISMATCH',
        `The archive holds the folders in two places (${base || 'at the top'} and ${m.base || 'at the top'}): it is not clear which to restore.`,
        { hint: 'Make an archive with one copy of the folders. Nothing was changed.' },
      );
    }
    const rel = [m.id, ...m.rest].join('/');
    const h: TarEntryHeader = {
      path: rel,
      type: e.type,
      flag: e.flag,
      size: e.type === 'file' ? e.size : 0,
      mode: safeMode(e.mode, e.type),
      mtime: e.mtime,
      uid: e.uid,
      gid: e.gid,
      uname: e.uname,
      gname: e.gname,
      ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}),
    };
    // The same screen as our own sets: links leaving their folder (alone or chained through other links), hard
    // links, devices, odd types.
    screen.check(h);
    if (m.rest.length === 0 && e.type !== 'dir') throw hostile(e.name, 'the folder itself is not a folder');
    const seen = written.get(rel);
    if (seen !== undefined) {
      if (seen === 'dir' && e.type === 'dir') return null; // listed after a file inside it needed it
      throw hostile(e.name, 'it appears twice in the archive');
    }
    const comps = rel.split('/');
    for (let i = 1; i < comps.length; i++) {
      const anc = comps.slice(0, i).join('/');
      const t = written.get(anc);
      if (t === undefined) await emitDir(anc, e);
      else if (t !== 'dir') throw hostile(e.name, `${anc} is not a folder in the archive`);
    }
    if (!perItem.has(m.id))
      perItem.set(m.id, { id: m.id, from: [m.base, m.id].filter(Boolean).join('/'), files: 0, contentBytes: 0 });
    const line: ManifestLine = {
      path: rel,
      type: e.type as ManifestLine['type'],
      size: h.size,
      mode: h.mode,
      mtime: h.mtime,
      uname: h.uname,
      gname: h.gname,
      uid: h.uid,
      gid: h.gid,
      ...(e.type === 'symlink' ? { target: e.linkpath ?? '' } : {}),
    };
    await sink.write(encodeHeader({ ...line, linkpath: line.target }));
    written.set(rel, line.type);
    const key = `${h.uname}:${h.gname}`;
    if (!owners.has(key)) owners.set(key, { uname: h.uname, gname: h.gname });
    return { line, hash: e.type === 'file' ? createHash('sha256') : null };
  };

  const finish = async (cur: { line: ManifestLine; hash: Hash | null }, got: number): Promise<void> => {
    const l = cur.line;
    if (l.type === 'file') {
      if (got !== l.size) throw damaged(`${l.path} holds ${got} bytes, its header says ${l.size}`);
      const pad = (BLOCK - (l.size % BLOCK)) % BLOCK;
      if (pad) await sink.write(Buffer.alloc(pad));
      l.sha256 = cur.hash!.digest('hex');
      result.files++;
      result.contentBytes += l.size;
      const it = perItem.get(l.path.split('/')[0]!)!;
      it.files++;
      it.contentBytes += l.size;
      meter.add(0, 1, l.path);
    } else if (l.type === 'dir') {
      result.dirs++;
    } else result.symlinks++;
    listed(manifestLine(l));
  };

  try {
    if (format === 'zip') result.sourceSha256 = await readZip(sourceFd, meter, begin, finish, sink);
    else result.sourceSha256 = await readTar(sourceFd, format === 'tar.gz', meter, begin, finish, sink);
    screen.finish();
    if (perItem.size === 0) {
      throw new RecoveryError(
        'PROFILE_MISMATCH',
        `No folder of the profile (${[...itemIds].join(', ')}) was found in ${path.basename(opts.source)}${
          result.ignored.examples.length ? `; it holds e.g. ${result.ignored.examples.join(', ')}` : ''
        }.`,
        { hint: 'Pick the archive of the product folders, or the profile of the product it comes from.' },
      );
    }
    result.base = base ?? '';
    result.items = opts.items.filter((i) => perItem.has(i.id)).map((i) => perItem.get(i.id)!);
    // The inner manifest: its head names the folders found, in the profile's order.
    spool.flush();
    const head = Buffer.from(
      JSON.stringify({ format: MANIFEST_FORMAT, version: 1, items: result.items.map((i) => ({ id: i.id })) }) + '\n',
    );
    const now = Math.floor(Date.now() / 1000);
    await sink.write(
      encodeHeader({
        path: MANIFEST_PATH,
        type: 'file',
        size: head.length + spool.bytes,
        mode: 0o644,
        mtime: now,
        uid: 0,
        gid: 0,
        uname: 'root',
        gname: 'root',
      }),
    );
    await sink.write(head);
    const mfd = openSync(spoolFile, 'r');
    try {
      const buf = Buffer.allocUnsafe(256 * 1024);
      let left = spool.bytes;
      while (left > 0) {
        const n = readSync(mfd, buf, 0, Math.min(buf.length, left), null);
        if (n === 0) throw new RecoveryError('INTERNAL', 'The inner manifest could not be read back.');
        await sink.write(Buffer.from(buf.subarray(0, n)));
        left -= n;
      }
    } finally {
      closeSync(mfd);
    }
    const pad = (BLOCK - ((head.length + spool.bytes) % BLOCK)) % BLOCK;
    if (pad) await sink.write(Buffer.alloc(pad));
    await sink.end();
    if (gz !== null) await gz.end();
    if (writer !== null) {
      result.parts = writer.finish();
      writer.commit();
      result.archiveBytes = writer.total;
    }
    result.owners = [...owners.values()];
    meter.flush();
    return result;
  } catch (e) {
    gz?.destroy();
    writer?.abort();
    if (e instanceof RecoveryError) throw e;
    if (e instanceof ZipFormatError || e instanceof TarFormatError) throw damaged(e.message, e);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw damaged(`the compressed data is invalid (${code})`, e);
    throw toRecoveryError(e, opts.source);
  } finally {
    closeSync(spoolFd);
    rmSync(tmp, { recursive: true, force: true });
  }
}

type Begin = (e: SourceEntry, zip: boolean) => Promise<{ line: ManifestLine; hash: Hash | null } | null>;
type Finish = (cur: { line: ManifestLine; hash: Hash | null }, got: number) => Promise<void>;

async function readTar(
  fd: number,
  gzipped: boolean,
  meter: ProgressMeter,
  begin: Begin,
  finish: Finish,
  sink: TarSink,
): Promise<string> {
  const sha = createHash('sha256');
  const raw = createReadStream('', { fd, start: 0, autoClose: false, highWaterMark: 1024 * 1024 });
  raw.on('data', (c) => {
    sha.update(c as Buffer);
    meter.add((c as Buffer).length);
  });
  const src: AsyncIterable<Buffer> = gzipped ? raw.pipe(createGunzip({ chunkSize: 256 * 1024 })) : raw;
  if (gzipped)
    raw.on('error', (e) => (src as unknown as NodeJS.ReadableStream & { destroy(e: Error): void }).destroy(e));
  // The tar parser is synchronous; its events are queued and written (asynchronously) after each chunk.
  type Ev = { t: 'entry'; h: TarEntryHeader } | { t: 'data'; b: Buffer } | { t: 'end' };
  let queue: Ev[] = [];
  const tar = new TarReader({
    entry: (h) => queue.push({ t: 'entry', h }),
    data: (b) => queue.push({ t: 'data', b }),
    end: () => queue.push({ t: 'end' }),
  });
  let cur: { line: ManifestLine; hash: Hash | null } | null = null;
  let got = 0;
  let skipping = false;
  const drain = async (): Promise<void> => {
    const evs = queue;
    queue = [];
    for (const ev of evs) {
      if (ev.t === 'entry') {
        const h = ev.h;
        got = 0;
        cur = await begin(
          {
            name: h.path,
            type: h.type,
            flag: h.flag,
            size: h.size,
            mode: h.mode,
            mtime: h.mtime,
            uid: h.uid,
            gid: h.gid,
            uname: h.uname,
            gname: h.gname,
            ...(h.linkpath !== undefined ? { linkpath: h.linkpath } : {}),
          },
          false,
        );
        skipping = cur === null;
      } else if (ev.t === 'data') {
        if (skipping) continue;
        cur!.hash?.update(ev.b);
        got += ev.b.length;
        await sink.write(ev.b);
      } else {
        if (!skipping && cur !== null) await finish(cur, got);
        cur = null;
        skipping = false;
      }
    }
  };
  for await (const chunk of src) {
    tar.push(chunk);
    await drain();
  }
  tar.finish();
  await drain();
  return sha.digest('hex');
}

function zipEntryType(e: ZipEntry): { type: SourceEntry['type']; flag: string } {
  const dirByName = /[\\/]$/.test(e.name);
  if (e.host === 3) {
    const fmt = (e.externalAttrs >>> 16) & 0o170000;
    if (fmt === 0o120000) throw hostile(e.name, 'a symbolic link (zip links are refused)');
    if (fmt === 0o040000) return { type: 'dir', flag: '5' };
    if (fmt !== 0 && fmt !== 0o100000) throw hostile(e.name, 'a device, fifo or socket');
  }
  // MS-DOS attributes: 0x10 directory, 0x400 reparse point (a Windows link or junction).
  if (e.externalAttrs & 0x400 && e.host !== 3) throw hostile(e.name, 'a Windows link (reparse point)');
  if (dirByName || (e.host !== 3 && e.externalAttrs & 0x10)) return { type: 'dir', flag: '5' };
  return { type: 'file', flag: '0' };
}

async function readZip(fd: number, meter: ProgressMeter, begin: Begin, finish: Finish, sink: TarSink): Promise<string> {
  // A zip is read by its directory (random access); the file's own hash is one sequential pass more.
  const sha = createHash('sha256');
  for await (const c of createReadStream('', { fd, start: 0, autoClose: false, highWaterMark: 1024 * 1024 }))
    sha.update(c as Buffer);
  const zf = ZipFile.onDescriptor(fd);
  try {
    // Two passes over the central directory, one entry at a time: its layout and duplicate names first (a path
    // fingerprint per name, 13–26 bytes), then the entries themselves. Never the whole directory as objects: a
    // directory may list millions of entries (~100 bytes of memory each, gigabytes in all).
    let names: PathSet | null = new PathSet();
    const judged = zf.checkLayout((e) => {
      const key = e.name.replace(/\\/g, '/').replace(/\/+$/, '');
      if (names!.get(key) !== undefined) throw hostile(e.name, 'it appears twice in the archive');
      names!.set(key, 'file');
    });
    names = null;
    let read = '';
    for (const e of zf.scan((d) => (read = d))) {
      const { type, flag } = zipEntryType(e);
      if (type === 'dir' && e.size > 0) throw damaged(`the folder entry ${e.name} carries data`);
      const cur = await begin(
        {
          name: e.name,
          type,
          flag,
          size: e.size,
          mode: type === 'dir' ? 0o755 : 0o644,
          mtime: e.mtime,
          uid: 0,
          gid: 0,
          uname: '',
          gname: '',
        },
        true,
      );
      let got = 0;
      for await (const c of zf.read(e, (n) => meter.add(n))) {
        if (cur === null) continue;
        cur.hash?.update(c);
        got += c.length;
        await sink.write(c);
      }
      if (cur !== null) await finish(cur, got);
    }
    // The descriptor is the file's, but whoever may write it (the desktop user owning a stick) could have changed
    // the directory between the passes: what was judged must be what was read.
    if (read !== judged) throw new ZipFormatError('the central directory changed while the archive was read');
  } finally {
    zf.close();
  }
  return sha.digest('hex');
}
