import { formatDuration, type ScheduleTime } from './interval.js';

/** Everything a scheduled backup needs; rendered into a systemd unit, a cron line or a Windows task. */
export interface ScheduleSpec {
  profileId: string;
  /** What `--profile` receives at run time: a built-in id or an absolute profile file. */
  profileRef: string;
  productName: string;
  /** Folder the backups go to (a mounted disk or stick that stays plugged in, or a network share). */
  to: string;
  time: ScheduleTime;
  /** Keep the newest N automatic backups. */
  keep?: number;
  /** Keep the newest N manual backups (default: all). */
  keepManual?: number;
  /** Delete automatic backups older than this. */
  maxAgeMs?: number;
  /** Root-only file holding the passphrase of encrypted backups. */
  passphraseFile?: string;
  retryEveryMs: number;
  giveUpAfterMs: number;
  randomDelayMs: number;
  stateDir?: string;
  /** --root (practice machines and tests). */
  root?: string;
  deviceId?: string;
  /** How to start edge-recovery: executable and leading arguments. */
  command: string[];
  /**
   * EDGE_RECOVERY_OWN_FILESYSTEMS as it was at the install (the data disks root named as this machine's own): the
   * scheduler starts every run with it, or a state folder, profile or passphrase file the install accepted on such a
   * disk would be refused at every run.
   */
  ownFilesystems?: string;
}

export const DEFAULT_RETRY_EVERY_MS = 10 * 60_000;
export const DEFAULT_GIVE_UP_AFTER_MS = 6 * 3_600_000;
export const DEFAULT_RANDOM_DELAY_MS = 15 * 60_000;

/** Name shared by the unit, the timer, the cron file and the task: safe in all three (profile ids are [a-z0-9-]). */
export function scheduleName(profileId: string): string {
  return `edge-recovery-backup-${profileId}`;
}

/** The `edge-recovery schedule run …` arguments (after the command) that the scheduler starts. */
export function runArgs(s: ScheduleSpec, opts: { randomDelayInProcess?: boolean } = {}): string[] {
  const a = ['schedule', 'run', '--profile', s.profileRef, '--to', s.to];
  if (s.root !== undefined) a.push('--root', s.root);
  if (s.deviceId !== undefined) a.push('--device-id', s.deviceId);
  if (s.keep !== undefined) a.push('--keep', String(s.keep));
  if (s.keepManual !== undefined) a.push('--keep-manual', String(s.keepManual));
  if (s.maxAgeMs !== undefined) a.push('--max-age', formatDuration(s.maxAgeMs));
  if (s.passphraseFile !== undefined) a.push('--encrypt', '--passphrase-file', s.passphraseFile);
  a.push('--retry-every', formatDuration(s.retryEveryMs), '--give-up-after', formatDuration(s.giveUpAfterMs));
  // cron has no randomized delay of its own: the run sleeps a random part of it before starting.
  if (opts.randomDelayInProcess && s.randomDelayMs > 0) a.push('--random-delay', formatDuration(s.randomDelayMs));
  if (s.stateDir !== undefined) a.push('--state-dir', s.stateDir);
  return a;
}
