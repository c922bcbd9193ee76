import { execFile } from 'node:child_process';
import { childEnv } from '../util/child-env.js';

/**
 * Asks the kernel to forget its cached copy of `file`, so the next read comes from the medium itself and a
 * verify proves what is on the stick, not what is still in memory. Linux only: GNU dd's `iflag=nocache` with
 * `count=0` calls posix_fadvise(DONTNEED) on the whole file (Node has no binding for it). Pages must be clean
 * (fsynced) to be dropped. Best effort: resolves false where it cannot.
 */
export function dropPageCache(file: string): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile(
      'dd',
      [`if=${forChild(file)}`, 'iflag=nocache', 'count=0', 'status=none'],
      { timeout: 10_000, env: childEnv() },
      (err) => resolve(err === null),
    );
  });
}

/**
 * A file named through a folder this process holds open (`/proc/self/fd/N/name`, SafeDir.at) means nothing to dd,
 * a child that has none of this process's descriptors (ENOENT: nothing was dropped, and a read-back meant to come
 * from the stick came from memory): the same path through this process's pid, which root's dd may open.
 */
function forChild(file: string): string {
  return file.startsWith('/proc/self/') ? `/proc/${process.pid}/${file.slice('/proc/self/'.length)}` : file;
}

/** dropPageCache for every file; true when all were dropped. */
export async function dropPageCacheAll(files: string[]): Promise<boolean> {
  let all = true;
  for (const f of files) all = (await dropPageCache(f)) && all;
  return all;
}
