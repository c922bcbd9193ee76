import { createHash, type Hash } from 'node:crypto';
import {
  close,
  closeSync,
  constants as fsc,
  fchmodSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { CREATE_EXCL_FLAGS, DIR_OPEN_FLAGS, chmodUnlessModeless, procFdPath, tempName } from '../util/atomic-fs.js';
import type { FolderId } from '../util/safe-delete.js';
import type { ArchivePart } from './types.js';

/** Names of the data file(s): `data.tar.gz[.age]`, or `.001`, `.002` … when split. */
export function partName(base: string, index: number, split: boolean): string {
  return split ? `${base}.${String(index + 1).padStart(3, '0')}` : base;
}

/** Written bytes after which the part's data is sent to the medium in the background (an fdatasync on the pool). */
const FLUSH_EVERY = 32 * 1024 * 1024;

/**
 * Writes the archive bytes into one file or fixed-size parts, each as `<name>.partial`, hashing while
 * writing. `commit` fsyncs and renames them all only after the whole archive was written.
 *
 * Every 32 MiB the data written so far goes to the medium in the background (fdatasync on a second descriptor
 * of the part, on the thread pool, one at a time), while compression goes on: the fsync that closes the part
 * then has only the last few MiB left to write, not the whole archive (the kernel starts writing dirty pages
 * by itself only past ~10 % of memory, so without this a 1 GiB archive waited for all of it at the end).
 */
export class PartWriter {
  private fd = -1;
  /** The part opened a second time for the background flushes (Linux, /proc/self/fd); -1 when none. */
  private syncFd = -1;
  /** The descriptor a background flush is running on (-1: none); the flush closes it if its part was closed. */
  private syncingFd = -1;
  private unflushed = 0;
  private hash: Hash | null = null;
  private written = 0;
  private readonly done: ArchivePart[] = [];
  /** The temp names of the parts this writer created, in the held folder. */
  private readonly created: string[] = [];
  /** Final name → the random temp name it is written under. */
  private readonly temps = new Map<string, string>();
  /** The output folder, held open: every create and rename happens in exactly this folder. */
  private dirFd = -1;
  total = 0;

  constructor(
    private readonly dir: string,
    private readonly base: string,
    private readonly splitSize: number | undefined,
    /** Told each part's temp name before it is created (and, on Linux, the identity of the folder held for it). */
    private readonly onCreate: (file: string, heldIn?: FolderId) => void,
    /** The path the folder is opened by (a held descriptor's, see CreateArchiveOptions.outDirAt); default `dir`. */
    private readonly openAt: string = dir,
  ) {}

  write(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      if (this.fd === -1) this.open();
      const room = this.splitSize ? this.splitSize - this.written : data.length - off;
      const n = Math.min(room, data.length - off);
      const slice = data.subarray(off, off + n);
      this.writeAll(slice);
      this.hash!.update(slice);
      this.unflushed += n;
      if (this.unflushed >= FLUSH_EVERY) this.flushInBackground();
      this.written += n;
      this.total += n;
      off += n;
      if (this.splitSize && this.written === this.splitSize) this.closePart();
    }
  }

  /** Closes the last part; returns the parts (final names). */
  finish(): ArchivePart[] {
    if (this.fd !== -1 || this.done.length === 0) {
      if (this.fd === -1) this.open();
      this.closePart();
    }
    return this.done;
  }

  commit(): void {
    for (const p of this.done) {
      const final = path.join(this.dir, p.name);
      try {
        renameSync(this.at(this.temps.get(p.name)!), this.at(p.name));
      } catch (e) {
        throw mediumError(e, final, this.dir);
      }
    }
    try {
      fsyncSync(this.folder());
    } catch (e) {
      throw mediumError(e, this.dir, this.dir);
    }
    this.closeFolder();
  }

  /** The output folder, opened once and never through a link (a planted link on the stick is refused). */
  private folder(): number {
    if (this.dirFd === -1) {
      try {
        this.dirFd = openSync(this.openAt, DIR_OPEN_FLAGS);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'ENOTDIR') {
          throw new RecoveryError('UNSAFE_PATH', `${this.dir} is a link, not a folder: nothing was written there.`);
        }
        throw mediumError(e, this.dir, this.dir);
      }
    }
    return this.dirFd;
  }

  private closeFolder(): void {
    if (this.dirFd !== -1) {
      try {
        closeSync(this.dirFd);
      } catch {
        /* the medium may be gone */
      }
      this.dirFd = -1;
    }
  }

  /** `name` inside the folder held open (Linux: through /proc/self/fd, like openat). */
  private at(name: string): string {
    return process.platform === 'linux' ? procFdPath(this.folder(), name) : path.join(this.dir, name);
  }

  /** Starts an fdatasync of what was written so far, unless one is still running (then the next write tries). */
  private flushInBackground(): void {
    if (this.syncFd === -1 || this.syncingFd !== -1) return;
    const fd = this.syncFd;
    this.syncingFd = fd;
    this.unflushed = 0;
    // A failure here is not reported: the fsync that closes the part reports what the medium says.
    fdatasync(fd, () => {
      this.syncingFd = -1;
      if (this.syncFd !== fd) close(fd, () => undefined);
    });
  }

  /** Lets go of the background flush's descriptor (closed now, or by the flush still running on it). */
  private releaseSyncFd(): void {
    const fd = this.syncFd;
    this.syncFd = -1;
    if (fd !== -1 && fd !== this.syncingFd) {
      try {
        closeSync(fd);
      } catch {
        /* the medium may be gone */
      }
    }
  }

  /**
   * Removes every `.partial` this writer created, in the folder it holds (not whatever now stands at its path);
   * never throws (the medium may be gone).
   */
  abort(): void {
    this.releaseSyncFd();
    if (this.fd !== -1) {
      try {
        closeSync(this.fd);
      } catch {
        /* the medium may be gone */
      }
      this.fd = -1;
    }
    // On Linux only through the held folder: once it is let go (after `commit`), nothing is left to remove.
    const held = process.platform !== 'linux' || this.dirFd !== -1;
    for (const tmp of held ? this.created : []) {
      try {
        unlinkSync(process.platform === 'linux' ? procFdPath(this.dirFd, tmp) : path.join(this.dir, tmp));
      } catch {
        /* already gone, or the medium is */
      }
    }
    this.closeFolder();
  }

  private get currentName(): string {
    return partName(this.base, this.done.length, this.splitSize !== undefined);
  }

  private open(): void {
    const tmp = tempName(this.currentName);
    const file = path.join(this.dir, tmp);
    // On Linux it is made in the folder held: whoever cleans up after a failure removes it from that folder only.
    this.onCreate(file, process.platform === 'linux' ? fstatSync(this.folder()) : undefined);
    try {
      // 0600 on the descriptor (umask-proof): the stick travels, the backup holds the product's data.
      this.fd = openSync(this.at(tmp), CREATE_EXCL_FLAGS, 0o600);
      if (process.platform !== 'win32') chmodUnlessModeless(() => fchmodSync(this.fd, 0o600));
    } catch (e) {
      throw mediumError(e, file, this.dir);
    }
    this.temps.set(this.currentName, tmp);
    this.created.push(tmp);
    this.hash = createHash('sha256');
    this.written = 0;
    this.unflushed = 0;
    if (process.platform === 'linux') {
      try {
        // The same open file description's inode through our own descriptor: nothing is looked up by name.
        this.syncFd = openSync(procFdPath(this.fd), fsc.O_RDONLY);
      } catch {
        this.syncFd = -1; // no background flushes: the closing fsync does it all
      }
    }
  }

  private writeAll(b: Buffer): void {
    let off = 0;
    try {
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    } catch (e) {
      throw toRecoveryError(e, path.join(this.dir, this.temps.get(this.currentName) ?? this.currentName));
    }
  }

  private closePart(): void {
    const name = this.currentName;
    const file = path.join(this.dir, this.temps.get(name) ?? name);
    this.releaseSyncFd();
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
    } catch (e) {
      throw toRecoveryError(e, file);
    } finally {
      this.fd = -1;
    }
    this.done.push({ name, size: this.written, sha256: this.hash!.digest('hex') });
  }
}

/** The output folder vanishing under us (stick pulled, auto-unmounted) is MEDIUM_GONE, not an internal error. */
function mediumError(e: unknown, file: string, dir: string): RecoveryError {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
    return new RecoveryError(
      'MEDIUM_GONE',
      `The folder ${dir} disappeared while writing ${path.basename(file)}. Was the stick unplugged?`,
      {
        hint: 'Plug the stick back in (or use another one) and start again. Nothing on this machine was changed.',
        cause: e,
      },
    );
  }
  return toRecoveryError(e, file);
}
