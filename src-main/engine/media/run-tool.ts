import { execFile } from 'node:child_process';
import { childEnv } from '../util/child-env.js';

export interface ToolResult {
  /** Exit code; null when the tool could not be started or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The program is not installed (ENOENT). */
  missing: boolean;
}

/**
 * Runs a small system tool (blkid, umount, udisksctl, reg) and never throws: callers turn a
 * failure into a plain-words message, which needs the exit code and stderr, not an exception.
 */
export function runTool(cmd: string, args: string[], timeoutMs = 30_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, windowsHide: true, maxBuffer: 4 * 1024 * 1024, env: childEnv() },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        const missing = e?.code === 'ENOENT';
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        resolve({ code, stdout: String(stdout), stderr: String(stderr), missing });
      },
    );
  });
}
