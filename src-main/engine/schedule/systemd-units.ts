import { describeSchedule, onCalendar } from './interval.js';
import { shellWord } from '../backup/restore-txt.js';
import { OWN_FILESYSTEMS_ENV } from '../util/own-filesystem.js';
import { runArgs, scheduleName, type ScheduleSpec } from './spec.js';

/**
 * One argument of ExecStart=, quoted by systemd's rules (systemd.service "Command lines"): double quotes
 * around anything with spaces or quotes, backslash and quote escaped; `%` doubled (specifier) and `$`
 * doubled (variable expansion), so a path is taken literally.
 */
export function systemdQuote(arg: string): string {
  const lit = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (lit.length > 0 && /^[A-Za-z0-9_@%+=:,./-]+$/.test(lit)) return lit;
  return `"${lit.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * An Environment= assignment, quoted by systemd's rules: double quotes, backslash and quote escaped, `%` doubled
 * (specifiers are expanded there; `$` is not).
 */
export function systemdEnvironment(name: string, value: string): string {
  const lit = `${name}=${value}`.replace(/%/g, '%%');
  return `Environment="${lit.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

/** The .service and .timer of a scheduled backup. */
export function systemdUnits(s: ScheduleSpec): { service: string; timer: string; names: [string, string] } {
  const name = scheduleName(s.profileId);
  // Description= expands specifiers too: a profile's product name is text, its % doubled.
  const product = s.productName.replace(/%/g, '%%');
  const exec = [...s.command, ...runArgs(s)].map(systemdQuote).join(' ');
  const service = [
    '# Written by edge-recovery schedule install; remove with: edge-recovery schedule remove --profile ' +
      shellWord(s.profileRef, true),
    '[Unit]',
    `Description=Edge Recovery scheduled backup of ${product} (${s.profileId})`,
    'After=local-fs.target network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    // Never killed while it waits for a failing pre-check: it gives up by itself after --give-up-after.
    `TimeoutStartSec=${seconds(s.giveUpAfterMs + 12 * 3_600_000)}`,
    ...(s.ownFilesystems !== undefined ? [systemdEnvironment(OWN_FILESYSTEMS_ENV, s.ownFilesystems)] : []),
    `ExecStart=${exec}`,
    'Nice=10',
    'IOSchedulingClass=best-effort',
    'IOSchedulingPriority=7',
    'SyslogIdentifier=edge-recovery',
    'UMask=0077',
    '',
  ].join('\n');
  const timer = [
    '# Written by edge-recovery schedule install',
    '[Unit]',
    `Description=Edge Recovery backup of ${product} (${s.profileId}), ${describeSchedule(s.time)}`,
    '',
    '[Timer]',
    `OnCalendar=${onCalendar(s.time)}`,
    // A run missed while the box was off starts at the next boot.
    'Persistent=true',
    `RandomizedDelaySec=${seconds(s.randomDelayMs)}`,
    `Unit=${name}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  return { service, timer, names: [`${name}.service`, `${name}.timer`] };
}
