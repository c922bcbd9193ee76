import { cronFields, describeSchedule } from './interval.js';
import { runArgs, scheduleName, type ScheduleSpec } from './spec.js';

/** One word for /bin/sh: single-quoted unless plainly safe. cron itself turns an unescaped % into a newline. */
export function shellQuote(arg: string): string {
  const q = /^[A-Za-z0-9_@+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
  return q.replace(/%/g, '\\%');
}

/**
 * The /etc/cron.d file of a scheduled backup (where systemd is not PID 1). cron.d lines carry the user
 * (root); file names may hold only letters, digits, - and _ (cron skips others), which scheduleName() keeps.
 */
export function cronFile(s: ScheduleSpec): { name: string; text: string; line: string } {
  const cmd = [...s.command, ...runArgs(s, { randomDelayInProcess: true })].map(shellQuote).join(' ');
  const line = `${cronFields(s.time)} root ${cmd}`;
  const text = [
    `# Edge Recovery backup of ${s.productName} (${s.profileId}), ${describeSchedule(s.time)}.`,
    `# Written by edge-recovery schedule install; remove with: edge-recovery schedule remove --profile ${s.profileId}`,
    'SHELL=/bin/sh',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    line,
    '',
  ].join('\n');
  return { name: scheduleName(s.profileId), text, line };
}
