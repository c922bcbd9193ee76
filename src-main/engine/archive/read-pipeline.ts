import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, read, type Stats } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { fileKind } from '../util/given-path.js';
import type { ProgressMeter } from '../progress.js';
import type { AgeKey } from './age-key.js';
import type { AgeDecryptor } from './age-stream.js';

/** The age header's first line (age-stream.ts has the same): age itself loads only for an encrypted set. */
const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
import { MemberInflater } from './member-inflate.js';
import { TarFormatError, TarReader, type TarHandler } from './tar-reader.js';
import type { ArchivePart } from './types.js';

const READ_CHUNK = 1024 * 1024;

/**
 * Parts are read with O_DIRECT where the filesystem takes it (Linux: ext4, vfat, exfat, FUSE, tmpfs since 6.6 …;
 * not ramfs): the bytes come from the medium itself, whatever the page cache holds, which is what a read-back must
 * prove, and they go from the device straight into this thread's reused buffers instead of through the page cache
 * and a second copy out of it. On this build machine that copy was most of a read-back's system time (B's 470 MB:
 * ~1.3 s of CPU buffered, ~0.5 s direct, for the whole `verify`). Where the open or a read is refused (EINVAL), the
 * part is read through the cache, as before (the callers drop the cached copy first).
 */
const O_DIRECT = process.platform === 'linux' ? (fsc.O_DIRECT ?? 0) : 0;

/**
 * Read buffers a finished read left, for the next one in this thread (each WebAssembly memory reserves address
 * space beyond its size; a job reads the stick more than once).
 */
const spare: Buffer[] = [];
const SPARE_MAX = 4;

/**
 * A READ_CHUNK buffer at a page-aligned address, as O_DIRECT needs (buffer, offset and length aligned to the
 * device's block size): a WebAssembly memory starts on a page boundary, a Buffer's memory need not (malloc's
 * header). Where one cannot be made, an ordinary buffer (a direct read into it is refused, and the part is then
 * read through the cache).
 */
function readBuffer(): Buffer {
  const b = spare.pop();
  if (b !== undefined) return b;
  try {
    const pages = READ_CHUNK / 65536;
    return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
  } catch {
    return Buffer.allocUnsafe(READ_CHUNK);
  }
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function partPath(dir: string, name: string): string {
  if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
    throw new RecoveryError('BAD_INPUT', `Not a valid part name: ${JSON.stringify(name)}.`);
  }
  return path.join(dir, name);
}

/**
 * A part is a regular file of the set's folder, never followed: a link or a FIFO planted on a stick as a part
 * (recorded with size 0) made the read wait forever on the FIFO's open, or read whatever the link named (a file
 * of this machine, a device such as /dev/null or a watchdog, which an open alone can start).
 */
function notRegular(name: string, st: Stats): RecoveryError | null {
  if (st.isFile()) return null;
  return new RecoveryError(
    'BACKUP_CORRUPT',
    `The backup is damaged: ${name} is not a regular file (it is ${fileKind(st)}).`,
    {
      hint: 'Use another copy of the backup.',
      details: { part: name },
    },
  );
}

/** Opens a part without following a link or waiting on a FIFO, and checks what was opened (it may have changed). */
function openPart(file: string, p: ArchivePart, flags: number): number {
  const fd = openSync(file, flags | fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0));
  const st = fstatSync(fd);
  const bad = notRegular(p.name, st) ?? (st.size === p.size ? null : partCorrupt(p.name));
  if (bad !== null) {
    closeSync(fd);
    throw bad;
  }
  return fd;
}

/** Every part present with exactly its recorded size, before reading a byte. */
export function checkParts(dir: string, parts: ArchivePart[]): void {
  if (parts.length === 0) throw new RecoveryError('BACKUP_INCOMPLETE', 'The backup lists no data files.');
  for (const p of parts) {
    const file = partPath(dir, p.name);
    let size: number;
    try {
      const st = lstatSync(file);
      const bad = notRegular(p.name, st);
      if (bad !== null) throw bad;
      size = st.size;
    } catch (e) {
      if (e instanceof RecoveryError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RecoveryError('BACKUP_INCOMPLETE', `The backup is incomplete: ${p.name} is missing.`, {
          hint: 'Copy the whole backup folder again, or use another copy.',
          details: { part: p.name },
        });
      }
      throw toRecoveryError(e, file);
    }
    if (size < p.size) {
      throw new RecoveryError(
        'BACKUP_INCOMPLETE',
        `The backup is incomplete: ${p.name} has ${size} of ${p.size} bytes (cut short while copying?).`,
        { hint: 'Copy the whole backup folder again, or use another copy.', details: { part: p.name } },
      );
    }
    if (size > p.size) {
      throw new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${p.name} is larger than recorded.`, {
        hint: 'Use another copy of the backup.',
        details: { part: p.name },
      });
    }
  }
}

function partCorrupt(name: string, cause?: unknown): RecoveryError {
  return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${name} does not match its checksum.`, {
    hint: 'Use another copy of the backup. The stick may be failing.',
    details: { part: name },
    cause,
  });
}

/**
 * Streams the concatenated parts → sha256 per part → [age decrypt] → gunzip → tar parser → handler.
 * When anything downstream fails (gzip error, bad tag, a file hash), the remaining parts are still
 * hashed: a part that does not match its checksum is the better explanation to give the technician.
 */
export async function readArchive(
  dir: string,
  parts: ArchivePart[],
  passphrase: string | undefined,
  handler: TarHandler,
  meter: ProgressMeter,
  /** The job's scrypt key (derived once per job); without it the passphrase is run through scrypt here. */
  ageKey?: AgeKey,
  /** The compressed size of each gzip member (manifest.json's `archive.gzipMembers`): inflated in parallel. */
  members?: readonly number[],
): Promise<{ direct: boolean }> {
  checkParts(dir, parts);
  const tar = new TarReader(handler);
  const inflate = members !== undefined ? memberInflate(members, tar) : streamInflate(tar);
  const toGunzip = (b: Buffer, consumed?: () => void): Promise<void> => inflate.write(b, consumed);

  let dec: AgeDecryptor | null | undefined; // undefined until the first bytes tell
  let firstBytes: Buffer[] = [];
  const feed = async (b: Buffer, consumed: () => void): Promise<void> => {
    if (dec === undefined) {
      firstBytes.push(b);
      const head = Buffer.concat(firstBytes);
      if (head.length < AGE_MAGIC.length) return;
      firstBytes = [];
      if (head.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC)) {
        if ((passphrase === undefined || passphrase === '') && ageKey === undefined) {
          throw new RecoveryError('PASSPHRASE_REQUIRED', 'This backup is encrypted: enter its passphrase.');
        }
        dec = new (await import('./age-stream.js')).AgeDecryptor(passphrase, ageKey);
      } else dec = null;
      consumed();
      b = head; // a copy: the read buffer went back
      if (dec === null) return toGunzip(b);
    } else if (dec === null) {
      return toGunzip(b, consumed);
    } else {
      // The decryptor may keep slices of what it is given: it gets its own copy, and the read buffer goes back.
      b = Buffer.from(b);
      consumed();
    }
    const out: Buffer[] = [];
    await dec!.push(b, out);
    for (const o of out) await toGunzip(o);
  };

  /** The hash-only pass's two buffers (one is read into while the other is hashed). */
  const pair: Buffer[] = [];
  /** Read buffers zlib has finished with: reused instead of a fresh 1 MiB (and its page faults) per read. */
  const pool: Buffer[] = [];
  /** Direct reads, until the filesystem refuses one (then the rest of the job reads through the cache). */
  let direct = O_DIRECT !== 0;
  /** Every part so far was read with O_DIRECT from its first byte to its last. */
  let allDirect = direct;
  let partIndex = 0;
  /** The last read's byte count, held back from the meter until the entries it holds have been handled. */
  let lastBytes = 0;
  /**
   * One part, hashed (and fed on, when `consume`) chunk by chunk. The next chunk is read on the thread pool while
   * this thread hashes and feeds the current one: read synchronously, each 1 MiB waited ~1.2 ms here for the
   * disk whenever this thread was busy between reads (the kernel's read-ahead did not keep ahead of it), which is
   * most of a read-back's reading.
   */
  const hashPart = async (p: ArchivePart, consume: boolean): Promise<boolean> => {
    const file = partPath(dir, p.name);
    const hash = createHash('sha256');
    /** The open part: `direct` while it is open with O_DIRECT. */
    const f = { fd: -1, direct: false };
    try {
      if (direct) {
        try {
          f.fd = openPart(file, p, O_DIRECT);
          f.direct = true;
        } catch (e) {
          if (e instanceof RecoveryError || (errCode(e) !== 'EINVAL' && errCode(e) !== 'EOPNOTSUPP')) throw e;
          direct = false;
        }
      }
      if (f.fd === -1) {
        allDirect = false;
        f.fd = openPart(file, p, 0);
      }
    } catch (e) {
      if (errCode(e) === 'ELOOP') throw notRegular(p.name, lstatSync(file)) ?? toRecoveryError(e, file);
      throw toRecoveryError(e, file);
    }
    let turn = 0;
    const take = (): Buffer => {
      if (consume) return pool.pop() ?? readBuffer();
      turn ^= 1;
      return (pair[turn] ??= readBuffer());
    };
    const readAt = (into: Buffer, len: number, pos: number): Promise<number> =>
      new Promise<number>((resolve, reject) => {
        read(f.fd, into, 0, len, pos, (e, n) => (e ? reject(e) : resolve(n)));
      });
    /** A chunk at `pos`: whole (a multiple of the block size, as O_DIRECT needs) when direct, never past p.size. */
    const readChunk = async (into: Buffer, pos: number): Promise<number> => {
      const want = Math.min(READ_CHUNK, p.size - pos);
      if (f.direct) {
        try {
          return Math.min(await readAt(into, READ_CHUNK, pos), want);
        } catch (e) {
          if (errCode(e) !== 'EINVAL') throw e;
          // The open was taken, this read not (the buffer or the device's block size): through the cache from here.
          direct = false;
          allDirect = false;
          f.direct = false;
          const fd = f.fd;
          f.fd = -1;
          closeSync(fd);
          f.fd = openPart(file, p, 0);
        }
      }
      return readAt(into, want, pos);
    };
    /** The read in flight: always awaited before the descriptor is closed (its number could be reused). */
    let next: Promise<number> | null = null;
    const readNext = (into: Buffer, pos: number): void => {
      next = readChunk(into, pos);
      next.catch(() => undefined); // awaited below; this only keeps an abandoned read quiet
    };
    try {
      let pos = 0;
      let into = take();
      if (p.size > 0) readNext(into, 0);
      while (pos < p.size) {
        let n: number;
        try {
          n = await next!;
        } catch (e) {
          throw toRecoveryError(e, file);
        } finally {
          next = null;
        }
        if (n === 0) throw new RecoveryError('BACKUP_INCOMPLETE', `The backup is incomplete: ${p.name} is short.`);
        const got = into;
        pos += n;
        if (pos < p.size) {
          into = take();
          readNext(into, pos);
        }
        hash.update(got.subarray(0, n));
        // The archive's last bytes count once every entry in them has been handled (below): read, they are not
        // checked yet, and a backup smaller than one read was "100 %" read back with 0 files checked.
        if (consume && pos >= p.size && partIndex === parts.length - 1) lastBytes = n;
        else meter.add(n);
        if (consume) await feed(got.subarray(0, n), () => pool.push(got));
      }
    } finally {
      if (next !== null) await (next as Promise<number>).catch(() => undefined);
      if (f.fd !== -1) closeSync(f.fd);
    }
    return hash.digest('hex') === p.sha256;
  };

  try {
    for (; partIndex < parts.length; partIndex++) {
      const p = parts[partIndex]!;
      if (!(await hashPart(p, true))) throw partCorrupt(p.name);
    }
    if (dec === undefined) throw new RecoveryError('BACKUP_CORRUPT', 'The backup is damaged: it is too short.');
    if (dec) {
      const out: Buffer[] = [];
      dec.final(out);
      for (const o of out) await toGunzip(o);
    }
    await inflate.end();
    tar.finish();
    meter.add(lastBytes);
    // Every read is done and zlib has let go of every buffer: they serve the next read.
    for (const b of [...pool, ...pair]) if (spare.length < SPARE_MAX) spare.push(b);
    pool.length = 0;
    pair.length = 0;
    return { direct: allDirect };
  } catch (e) {
    inflate.destroy();
    const err = explain(e);
    if (err.code === 'BACKUP_CORRUPT' && !err.details?.part) {
      // Is a part's checksum the real cause? Hash what was not read yet (the current part included).
      for (let i = partIndex; i < parts.length; i++) {
        if (i > partIndex || !isPartError(e)) {
          const ok = await hashPart(parts[i]!, false).catch(() => false);
          if (!ok) throw partCorrupt(parts[i]!.name, err);
        }
      }
    }
    throw err;
  }
}

interface Inflate {
  /** Compressed bytes in order; `consumed` once the buffer may be read into again. */
  write(b: Buffer, consumed?: () => void): Promise<void>;
  end(): Promise<void>;
  destroy(): void;
}

/** Known member sizes: members inflate in parallel (member-inflate.ts); each buffer is copied, so handed back at once. */
function memberInflate(members: readonly number[], tar: TarReader): Inflate {
  const m = new MemberInflater(members, (c) => tar.push(c));
  return {
    async write(b, consumed) {
      await m.write(b);
      consumed?.();
    },
    end: () => m.end(),
    destroy: () => m.destroy(),
  };
}

/** One gunzip stream (hand-made archives and backups without a member index). */
function streamInflate(tar: TarReader): Inflate {
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  let failure: unknown = null;
  gunzip.on('data', (c: Buffer) => {
    if (failure) return;
    try {
      tar.push(c);
    } catch (e) {
      failure = e;
      gunzip.destroy();
    }
  });
  gunzip.on('error', (e) => {
    failure ??= e;
  });
  return {
    async write(b, consumed) {
      if (failure) throw failure;
      // The write callback runs once zlib has used up the chunk: then its buffer can be read into again.
      if (!gunzip.write(b, consumed ? () => consumed() : undefined)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            gunzip.off('drain', done);
            gunzip.off('close', done);
            resolve();
          };
          gunzip.on('drain', done);
          gunzip.on('close', done);
        });
      }
      if (failure) throw failure;
    },
    async end() {
      gunzip.end();
      try {
        await finished(gunzip);
      } catch (e) {
        failure ??= e;
      }
      if (failure) throw failure;
    },
    destroy: () => gunzip.destroy(),
  };
}

function isPartError(e: unknown): boolean {
  return e instanceof RecoveryError && e.details?.part !== undefined;
}

function explain(e: unknown): RecoveryError {
  if (e instanceof RecoveryError) return e;
  if (e instanceof TarFormatError) {
    return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${e.message}.`, {
      hint: e.hint ?? 'Use another copy of the backup.',
    });
  }
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: the compressed data is invalid (${code}).`, {
      hint: 'Use another copy of the backup.',
    });
  }
  return toRecoveryError(e);
}
