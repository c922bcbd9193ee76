import { spawn } from 'node:child_process';
import { RecoveryError } from '../errors.js';
import { childEnv } from './child-env.js';

/**
 * Flushes the filesystems holding `dirs` to disk (`sync -f`, one child process per folder) without blocking this
 * thread: the extraction before it returns, or the restore's extract step while it checks the owners meanwhile.
 * Nothing to do off Linux (there the extraction fsyncs each file).
 */
export async function flushToDisk(dirs: string[]): Promise<void> {
  if (process.platform !== 'linux') return;
  await Promise.all(
    dirs.map(
      (d) =>
        new Promise<void>((resolve, reject) => {
          const p = spawn('sync', ['-f', d], { stdio: 'ignore', env: childEnv() });
          p.on('error', (e) => reject(new RecoveryError('INTERNAL', `Could not flush ${d} to disk: ${e.message}.`)));
          p.on('exit', (code) =>
            code === 0
              ? resolve()
              : reject(new RecoveryError('INTERNAL', `Could not flush ${d} to disk (sync -f failed).`)),
          );
        }),
    ),
  );
}
