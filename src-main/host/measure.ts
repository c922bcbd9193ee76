import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface FolderMeasure {
  exists: boolean;
  sizeBytes: number;
  files: number;
  /** True when the walk stopped at its bound: the figures are a lower limit. */
  truncated: boolean;
}

/**
 * Size and file count of a folder, for the plan screen. Bounded in entries and time so a huge Storage
 * folder cannot keep the first screen waiting; the backup itself counts exactly.
 */
export async function measureFolder(
  root: string,
  opts: { maxEntries?: number; deadlineMs?: number } = {},
): Promise<FolderMeasure> {
  const maxEntries = opts.maxEntries ?? 200_000;
  const deadline = Date.now() + (opts.deadlineMs ?? 3000);
  let st;
  try {
    st = await fsp.lstat(root);
  } catch {
    return { exists: false, sizeBytes: 0, files: 0, truncated: false };
  }
  if (!st.isDirectory()) return { exists: true, sizeBytes: st.size, files: 1, truncated: false };
  let sizeBytes = 0;
  let files = 0;
  let seen = 0;
  const stack = [root];
  while (stack.length > 0) {
    if (seen >= maxEntries || Date.now() > deadline) return { exists: true, sizeBytes, files, truncated: true };
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable subfolder: the plan still shows the rest; the backup reports it properly
    }
    for (const e of entries) {
      seen++;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        files++;
        try {
          sizeBytes += (await fsp.lstat(p)).size;
        } catch {
          // vanished between readdir and lstat
        }
      } else files++;
    }
  }
  return { exists: true, sizeBytes, files, truncated: false };
}
