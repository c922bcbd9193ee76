import { execFile } from 'node:child_process';
import { childEnv } from '../util/child-env.js';
import type { ExecFn } from './types.js';

/** The real ExecFn: execFile without a shell, so service names are never interpreted. */
export const execFileResult: ExecFn = (file, args, opts = {}) =>
  new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 4 * 1024 * 1024,
        windowsHide: true,
        encoding: 'utf8',
        env: childEnv(),
      },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
        if (e.code === 'ENOENT') {
          resolve({ code: 127, stdout: '', stderr: `${file}: command not found` });
          return;
        }
        if (typeof e.code === 'number') {
          resolve({ code: e.code, stdout, stderr });
          return;
        }
        const why = e.killed ? `${file} did not finish in time and was stopped` : e.message;
        resolve({ code: 1, stdout, stderr: `${stderr}${stderr ? '\n' : ''}${why}` });
      },
    );
  });

/** First non-empty line of a command's output, for messages. */
export function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ''
  );
}
