import { spawn } from 'node:child_process';
import { childEnv } from '../util/child-env.js';
import { openRegularFile } from '../util/given-path.js';

/**
 * Asks the kernel to forget its cached copy of `file`, so the next read comes from the medium itself and a
 * verify proves what is on the stick, not what is still in memory. Linux only: GNU dd's `iflag=nocache` with
 * `count=0` calls posix_fadvise(DONTNEED) on the whole file (Node has no binding for it). Pages must be clean
 * (fsynced) to be dropped. Best effort: resolves false where it cannot.
 *
 * dd gets the file as its standard input, opened here: only a regular file, never through a link at its name
 * (openRegularFile: a device node is not opened at all, a FIFO not waited on). Named to dd, the file on a stick
 * would be opened by root's child through any link and whatever it is: a part that is a device node, or a link to
 * /dev/watchdog, would start the watchdog. A file named through a folder this process holds
 * (`/proc/self/fd/N/name`, SafeDir.at) is opened here, where that path means something (to dd it did not).
 */
export async function dropPageCache(file: string): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  const opened = await openRegularFile(file, { noFollow: true }).catch(() => null);
  if (opened === null) return false;
  if (opened.fh === null) return false; // not a regular file: the read-back refuses it in its own words
  const fh = opened.fh;
  try {
    return await new Promise<boolean>((resolve) => {
      const child = spawn('dd', ['iflag=nocache', 'count=0', 'status=none'], {
        stdio: [fh.fd, 'ignore', 'ignore'],
        timeout: 10_000,
        env: childEnv(),
      });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
  } finally {
    await fh.close();
  }
}

/** dropPageCache for every file; true when all were dropped. */
export async function dropPageCacheAll(files: string[]): Promise<boolean> {
  let all = true;
  for (const f of files) all = (await dropPageCache(f)) && all;
  return all;
}
