import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { EntryScreen } from '../archive/entry-check.js';
import { parseLine } from '../archive/manifest.js';
import type { TarEntryHeader, TarType } from '../archive/tar-header.js';
import { RecoveryError } from '../errors.js';

/**
 * Judges every entry of a verified backup by the extractor's own screen (EntryScreen, links resolved too), from the inner manifest that
 * verification just proved equal to the archive's entries. A self-consistent but hostile archive (a symlink
 * leaving its folder, a hard link, a device) is thus refused in step 1, before the service is touched,
 * instead of half-way through extraction with the product already stopped.
 */
export async function screenEntries(innerManifestFile: string, itemIds: ReadonlySet<string>): Promise<number> {
  const rl = createInterface({ input: createReadStream(innerManifestFile, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  let first = true;
  const screen = new EntryScreen(itemIds);
  for await (const text of rl) {
    if (first) {
      first = false; // the head line: format and items
      continue;
    }
    if (text === '') continue;
    const l = parseLine(text);
    if (l === null)
      throw new RecoveryError('BACKUP_CORRUPT', `The backup's file list has an unreadable line (${n + 2}).`);
    const h: TarEntryHeader = {
      path: l.path,
      type: l.type as TarType,
      size: l.size,
      mode: l.mode,
      mtime: l.mtime,
      uid: l.uid,
      gid: l.gid,
      uname: l.uname,
      gname: l.gname,
      flag: l.type,
      ...(l.target !== undefined ? { linkpath: l.target } : {}),
    };
    screen.check(h);
    n++;
  }
  screen.finish();
  return n;
}
