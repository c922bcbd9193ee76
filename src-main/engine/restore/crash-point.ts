import { existsSync, writeFileSync } from 'node:fs';

/**
 * Test hook for the kill tests: when EDGE_RECOVERY_CRASH_AT names this label, the process kills itself
 * with SIGKILL right here (no cleanup, no finally blocks, no flush), which is what a power cut or an
 * `kill -9` does to a restore. It does nothing otherwise. Labels: fixed ones in the steps
 * ("extract:mid", "ownership:before-check", …) and "before-journal:<what>" / "after-journal:<what>" around
 * every labelled journal write (JournalStore.save); tests/engine/kill-restore.test.ts lists those it kills at.
 * Backups use the same hook with "backup:" labels (tests/engine/kill-backup.test.ts).
 *
 * EDGE_RECOVERY_PAUSE_AT (with EDGE_RECOVERY_PAUSE_FILE) instead holds the job at that label: it writes its pid
 * into the file and waits until the test deletes it, so a test can try a second job while this one runs. Called
 * in a worker thread ("archive:first-file", in the backup's archive worker), the pause holds only that thread: the
 * job's main thread keeps emitting progress and can be cancelled, even when the job runs in the test's own process.
 */
export function crashPoint(label: string): void {
  if (process.env.EDGE_RECOVERY_CRASH_AT === label) process.kill(process.pid, 'SIGKILL');
  const pauseFile = process.env.EDGE_RECOVERY_PAUSE_FILE;
  if (process.env.EDGE_RECOVERY_PAUSE_AT === label && pauseFile) {
    writeFileSync(pauseFile, String(process.pid));
    const tick = new Int32Array(new SharedArrayBuffer(4));
    while (existsSync(pauseFile)) Atomics.wait(tick, 0, 0, 50);
  }
}
