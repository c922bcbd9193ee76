import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { RecoveryError } from '../errors.js';
import { DIR_OPEN_FLAGS } from './atomic-fs.js';
import { childEnv } from './child-env.js';

/**
 * Flushes the filesystems holding the folders `dirs` to disk (`sync -f`, one child process per folder) without
 * blocking this thread: the extraction before it returns, or the restore's extract step while it checks the owners
 * meanwhile. Nothing to do off Linux (there the extraction fsyncs each file).
 *
 * Each folder is opened here (O_DIRECTORY|O_NOFOLLOW: a folder, never a link at its name) and handed to sync as its
 * standard input (`sync -f /dev/stdin`): named to sync, root's child would open whatever the path led to by then, and
 * the restore's staging folders lie in a work folder beside the targets that another account may move aside and
 * replace with a link to a folder of its own, where the staging folder's name is a link to /dev/watchdog (which
 * starts when it is opened). Callers name the folders through the descriptors they hold (/proc/self/fd/N/name).
 */
export async function flushToDisk(dirs: string[]): Promise<void> {
  if (process.platform !== 'linux') return;
  const failed = (d: string, why: string): RecoveryError =>
    new RecoveryError('INTERNAL', `Could not flush ${d} to disk (${why}).`);
  await Promise.all(
    dirs.map(
      (d) =>
        new Promise<void>((resolve, reject) => {
          // Opened and sync started at once (no wait in between: the extraction's early flush runs beside it).
          let fd: number;
          try {
            fd = openSync(d, DIR_OPEN_FLAGS);
          } catch (e) {
            reject(failed(d, (e as NodeJS.ErrnoException).code ?? (e as Error).message));
            return;
          }
          let ended = false;
          const done = (err: RecoveryError | null): void => {
            if (ended) return; // 'error' and 'exit' may both come: the descriptor is closed once
            ended = true;
            try {
              closeSync(fd);
            } catch {
              /* the medium may be gone */
            }
            if (err === null) resolve();
            else reject(err);
          };
          const p = spawn('sync', ['-f', '/dev/stdin'], { stdio: [fd, 'ignore', 'ignore'], env: childEnv() });
          p.on('error', (e) => done(failed(d, e.message)));
          p.on('exit', (code) => done(code === 0 ? null : failed(d, 'sync -f failed')));
        }),
    ),
  );
}
