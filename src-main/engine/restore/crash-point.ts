/**
 * Test hook for the kill tests: when EDGE_RECOVERY_CRASH_AT names this label, the process kills itself
 * with SIGKILL right here (no cleanup, no finally blocks, no flush), which is what a power cut or an
 * `kill -9` does to a restore. It does nothing otherwise. Labels: fixed ones in the steps
 * ("extract:mid", "ownership:before-check", …) and "before-journal:<what>" / "after-journal:<what>" around
 * every labelled journal write (JournalStore.save); tests/engine/kill-restore.test.ts lists those it kills at.
 */
export function crashPoint(label: string): void {
  if (process.env.EDGE_RECOVERY_CRASH_AT === label) process.kill(process.pid, 'SIGKILL');
}
