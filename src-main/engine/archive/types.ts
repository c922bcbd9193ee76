import type { ProgressSink } from '../progress.js';
import type { AgeKey } from './age-key.js';

export interface ArchivePart {
  name: string;
  size: number;
  sha256: string;
}

export interface ArchiveItem {
  /** Becomes the first path component in the tar; letters, digits, `.`, `_`, `-`. */
  id: string;
  path: string;
}

export interface CreateArchiveOptions {
  items: ArchiveItem[];
  outDir: string;
  /**
   * Where the output folder is opened, when the caller holds it open: `/proc/self/fd/N/.` of its descriptor, so the
   * parts go into exactly that folder whatever `outDir`'s path names by then (an account that may write the stick
   * can swap a folder above it for a link). Messages name `outDir`.
   */
  outDirAt?: string;
  passphrase?: string;
  /** The job's scrypt key (age-key.ts): encrypts without running scrypt again. */
  ageKey?: AgeKey;
  /** Bytes per part; parts are named `.001`, `.002` … and `cat` of them is the archive. */
  splitSize?: number;
  gzipLevel?: number;
  /**
   * Totals for progress (and its ETA), when the caller has just walked the folders (the backup's pre-checks):
   * then the archive does not walk them a second time to count.
   */
  totals?: { bytes: number; files: number };
  /** An archive of no folders (only its inner manifest): the product's own files travel beside it. */
  allowEmpty?: boolean;
  /** The second reading thread (read-helper.ts): by default for 2,000 files or more of 4 KiB or less on average, on two cores or more. */
  readHelper?: boolean;
}

export interface ArchiveResult {
  parts: ArchivePart[];
  encrypted: boolean;
  files: number;
  dirs: number;
  symlinks: number;
  contentBytes: number;
  archiveBytes: number;
  skipped: { path: string; reason: string }[];
  owners: { uname: string; gname: string }[];
  /** Files whose size, mtime or ctime differed after they were read from before (written while archived). */
  changed?: { path: string; detail: string }[];
  /**
   * The compressed size of each gzip member, in order (before encryption): they add up to the gzip stream.
   * Kept in manifest.json, so the verify and the restore can inflate several members at once.
   */
  gzipMembers: number[];
}

/** What the backup's manifest declares: reading stops as soon as the archive holds more (decompression bombs). */
export interface ArchiveLimits {
  files: number;
  contentBytes: number;
  /** Folders + links + files (the inner manifest excluded). */
  entries: number;
  /** Folders and links, each counted against its own declaration: their names are held while reading. */
  dirs?: number;
  symlinks?: number;
}

export interface VerifyArchiveOptions {
  parts: ArchivePart[];
  passphrase?: string;
  /** The job's scrypt key: decrypts without running scrypt again. */
  ageKey?: AgeKey;
  /** Where to save the inner manifest (the restore checks entries against it). */
  manifestOut?: string;
  /**
   * Screen every entry with the restore's own screen (EntryScreen): item ids to accept, or null for any
   * item name. Left out by the backup's own read-back (it warned about odd links before writing).
   */
  screen?: { itemIds: string[] | null };
  limits?: ArchiveLimits;
  /** Files the archive holds, for progress ("1,234 of 30,007"); else `limits.files`. */
  totalFiles?: number;
  /**
   * The compressed size of each gzip member, in order (the backup's `ArchiveResult.gzipMembers`, kept in
   * manifest.json): the members are inflated in parallel. Without it the stream is inflated as one.
   */
  gzipMembers?: number[];
}

/** The policy's owner and modes, applied on each entry's descriptor as it is created. */
export interface ExtractOwner {
  uid: number;
  gid: number;
  dirMode: number;
  fileMode: number;
  exceptions: Array<{ glob: string; dirMode?: number; fileMode?: number }>;
}

export interface ExtractArchiveOptions {
  parts: ArchivePart[];
  passphrase?: string;
  /** The job's scrypt key: decrypts without running scrypt again. */
  ageKey?: AgeKey;
  /**
   * The inner manifest saved by `verifyArchive`: every entry is compared with its line before it is written.
   * Without it the archive is read once: unpacked, then held to its inner manifest (its last entry) line by line
   * before the extraction succeeds; `manifestOut` keeps that manifest.
   */
  manifestFile?: string;
  /** One pass only: where to save the inner manifest (written atomically once it matched). */
  manifestOut?: string;
  /** Threads creating small files (default: by core count; 0: none, the extracting thread writes all). */
  writers?: number;
  /**
   * false: the caller flushes the staging folders to disk itself (`flushToDisk`), e.g. while it checks them;
   * by default the extraction does before it returns.
   */
  flush?: boolean;
  /**
   * itemId → staging folder; created by the extraction, must not exist before. Its parent must be a folder
   * only this account can enter (the restore's 0700 work folder): nothing staged is reachable by others.
   */
  targets: Record<string, string>;
  /** Owner and modes by policy; without it, modes from the archive minus setuid/setgid/sticky and group/other write. */
  owner?: ExtractOwner;
  limits?: ArchiveLimits;
  /** Files the archive holds, for progress; else `limits.files`. */
  totalFiles?: number;
  /**
   * The compressed size of each gzip member, in order (the backup's `ArchiveResult.gzipMembers`, kept in
   * manifest.json): the members are inflated in parallel. Without it the stream is inflated as one.
   */
  gzipMembers?: number[];
}

export interface ReadResult {
  files: number;
  contentBytes: number;
  /** Measured per item (first path component): what the free-space check trusts, not the manifest. */
  items?: Record<string, { files: number; contentBytes: number }>;
  /** Every part was read with O_DIRECT: from the medium itself, not from a cached copy. */
  direct?: boolean;
  /**
   * With an owner: every entry created (files, folders, links, the item roots) looked at on its own descriptor
   * right after its owner, mode and time were set (`fstat`; `lstat` for a link, inside the private staging), as
   * the disk keeps them. A disk that ignores owners or modes shows here.
   */
  owners?: OwnersSeen;
}

/** What the extraction saw of the owners and modes it set. */
export interface OwnersSeen {
  checked: number;
  /** Entries whose owner or mode on disk is not what was set. */
  wrong: number;
  /** The first of them (at most OWNERS_SEEN_KEPT). */
  first: StagedOwner[];
}

/** One entry whose owner or mode on disk differs from what the extraction set. */
export interface StagedOwner {
  /** The staging path (the real one, not through /proc/self/fd). */
  path: string;
  kind: 'file' | 'dir' | 'symlink';
  uid: number;
  gid: number;
  /** Permission bits on disk (mode & 0o7777). */
  mode: number;
  /** The mode that was set (the policy's); null for a link (its mode means nothing). */
  want: number | null;
}

export const OWNERS_SEEN_KEPT = 100;

export interface ArchiveIo {
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}
