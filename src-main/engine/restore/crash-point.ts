/**
 * Test hook for the kill tests: when EDGE_RECOVERY_CRASH_AT names this label, the process kills itself
 * with SIGKILL right here (no cleanup, no finally blocks, no flush), which is what a power cut or an
 * `kill -9` does to a restore. It does nothing otherwise; the labels are listed in CRASH_POINTS so the
 * kill test can check it covers them all.
 */
export function crashPoint(label: string): void {
  if (process.env.EDGE_RECOVERY_CRASH_AT === label) process.kill(process.pid, 'SIGKILL');
}
