import { expect } from 'vitest';

/** Waits until `pid` has ended and been reaped (a zombie still answers kill(pid, 0) until its parent reaps it). */
export async function expectGone(pid: number, timeoutMs = 5000): Promise<void> {
  await expect
    .poll(
      () => {
        try {
          process.kill(pid, 0);
          return 'alive';
        } catch {
          return 'gone';
        }
      },
      { timeout: timeoutMs },
    )
    .toBe('gone');
}
