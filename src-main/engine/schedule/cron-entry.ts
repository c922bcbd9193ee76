import { cronFields, describeSchedule } from './interval.js';
import { shellWord } from '../backup/restore-txt.js';
import { OWN_FILESYSTEMS_ENV } from '../util/own-filesystem.js';
import { runArgs, scheduleName, type ScheduleSpec } from './spec.js';

/**
 * One word for /bin/sh: single-quoted unless plainly safe. cron itself ends the command at an unescaped % (the rest
 * is its standard input), and takes a backslash before a % for that escape only when the backslash is not escaped
 * itself: "\\%" keeps both backslashes and ends the command. So every % goes outside the quotes as \% between
 * quotes ('a'\%'b'), where the character before it is always a quote.
 */
export function shellQuote(arg: string): string {
  const q = /^[A-Za-z0-9_@+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
  return q.replace(/%/g, `'\\%'`);
}

/**
 * The /etc/cron.d file of a scheduled backup (where systemd is not PID 1). cron.d lines carry the user
 * (root); file names may hold only letters, digits, - and _ (cron skips others), which scheduleName() keeps.
 */
export function cronFile(s: ScheduleSpec): { name: string; text: string; line: string } {
  // The run's environment, as /bin/sh reads a leading assignment (cron's own VAR= lines have no quoting rule).
  const env = s.ownFilesystems !== undefined ? [`${OWN_FILESYSTEMS_ENV}=${shellQuote(s.ownFilesystems)}`] : [];
  const cmd = [...env, ...[...s.command, ...runArgs(s, { randomDelayInProcess: true })].map(shellQuote)].join(' ');
  const line = `${cronFields(s.time)} root ${cmd}`;
  const text = [
    `# Edge Recovery backup of ${s.productName} (${s.profileId}), ${describeSchedule(s.time)}.`,
    `# Written by edge-recovery schedule install; remove with: edge-recovery schedule remove --profile ${shellWord(s.profileRef, true)}`,
    'SHELL=/bin/sh',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    line,
    '',
  ].join('\n');
  return { name: scheduleName(s.profileId), text, line };
}
