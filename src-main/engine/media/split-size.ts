import { RecoveryError } from '../errors.js';
import { formatBytes } from '../progress.js';
import { filesystemOf } from './filesystem.js';

/** FAT32 holds at most 4 GiB − 1 per file; parts are cut at whole MiB below that. */
export const FAT_PART = 4095 * 1024 * 1024;

export interface SplitChoice {
  /** The part size to write the archive in; undefined: one file. */
  splitSize: number | undefined;
  /** Why the archive is split although nobody asked (a log line), or null. */
  note: string | null;
}

/**
 * The part size for an archive written to `to` (which need not exist yet): the technician's `--split-size`,
 * capped by the largest file the stick's filesystem takes (FAT32 splits by itself). `to` may be a folder held open
 * (SafeDir.self, measured whatever its path names by then), named `shownAs` in the note.
 */
export async function splitSizeFor(to: string, requested: number | undefined, shownAs = to): Promise<SplitChoice> {
  const fs = await filesystemOf(to);
  if (fs.maxFileSize === null) return { splitSize: requested, note: null };
  const cap = Math.min(FAT_PART, fs.maxFileSize);
  return {
    splitSize: requested === undefined ? cap : Math.min(requested, cap),
    note: `${shownAs} is ${fs.fsType}: files are limited to ${formatBytes(fs.maxFileSize)}, so the archive is split.`,
  };
}

/** A part refused as too large although the archive was split already: "use --split-size" alone would be no help. */
export function splitPartTooLarge(err: RecoveryError, splitSize: number | undefined): RecoveryError {
  if (err.code !== 'FILE_TOO_LARGE' || splitSize === undefined) return err;
  return new RecoveryError('FILE_TOO_LARGE', err.message, {
    hint: `The medium refused a part of ${formatBytes(splitSize)}: run again with a smaller --split-size (e.g. 1G), or use an exFAT/ext4 stick.`,
    cause: err,
  });
}
