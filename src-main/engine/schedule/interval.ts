import { RecoveryError } from '../errors.js';

/**
 * When scheduled backups run. One shape for the three schedulers (systemd OnCalendar, a cron line, a Task
 * Scheduler CalendarTrigger), so they fire at the same wall-clock times: every N hours (N divides 24), daily,
 * weekly (Sunday) or monthly (the 1st), at --at (local time).
 */
export type Every =
  | { kind: 'hours'; hours: 1 | 2 | 3 | 4 | 6 | 8 | 12 }
  | { kind: 'daily' }
  | { kind: 'weekly' }
  | { kind: 'monthly' };

export interface ScheduleTime {
  every: Every;
  hour: number;
  minute: number;
}

const HOURS = [1, 2, 3, 4, 6, 8, 12] as const;

/** "6h", "12h", "24h", "1d", "daily", "weekly", "7d", "1w", "monthly", "hourly". */
export function parseEvery(s: string): Every {
  const v = s.trim().toLowerCase();
  if (v === 'hourly' || v === '1h') return { kind: 'hours', hours: 1 };
  if (v === 'daily' || v === '1d' || v === '24h' || v === 'nightly') return { kind: 'daily' };
  if (v === 'weekly' || v === '7d' || v === '1w') return { kind: 'weekly' };
  if (v === 'monthly' || v === '1mo') return { kind: 'monthly' };
  const m = /^(\d+)h$/.exec(v);
  if (m) {
    const n = Number(m[1]);
    const h = HOURS.find((x) => x === n);
    if (h !== undefined) return { kind: 'hours', hours: h };
  }
  throw new RecoveryError(
    'BAD_INPUT',
    `--every "${s}" is not an interval this tool schedules. Use 1h, 2h, 3h, 4h, 6h, 8h, 12h, daily (24h), weekly or monthly.`,
  );
}

/** "02:30" → {hour: 2, minute: 30}. */
export function parseAt(s: string): { hour: number; minute: number } {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  const hour = m ? Number(m[1]) : NaN;
  const minute = m ? Number(m[2]) : NaN;
  if (!m || hour > 23 || minute > 59) {
    throw new RecoveryError(
      'BAD_INPUT',
      `--at "${s}" is not a time of day. Use HH:MM (24-hour, local time), e.g. 02:30.`,
    );
  }
  return { hour, minute };
}

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/** "90s", "10m", "6h", "180d", "26w", "6mo", "1y" → milliseconds. */
export function parseDuration(s: string, what: string): number {
  const m = /^\s*(\d+)\s*(s|m|min|h|d|w|mo|y)\s*$/i.exec(s);
  if (!m) {
    throw new RecoveryError(
      'BAD_INPUT',
      `${what} "${s}" is not a duration. Use e.g. 90s, 10m, 6h, 180d, 26w, 6mo or 1y.`,
    );
  }
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  if (ms <= 0) throw new RecoveryError('BAD_INPUT', `${what} must be longer than zero.`);
  return ms;
}

/** Milliseconds as the shortest exact "6h" / "90s" / "180d" text (for unit files and messages). */
export function formatDuration(ms: number): string {
  for (const [u, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % n === 0) return `${ms / n}${u === 'm' ? 'min' : u}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/** The schedule's period in milliseconds (a month counts as 31 days: the longest gap between two runs). */
export function periodMs(e: Every): number {
  switch (e.kind) {
    case 'hours':
      return e.hours * 3_600_000;
    case 'daily':
      return 86_400_000;
    case 'weekly':
      return 7 * 86_400_000;
    case 'monthly':
      return 31 * 86_400_000;
  }
}

/** The hours of the day a run starts, for every-N-hours schedules: from --at's hour, every N hours, sorted. */
export function hoursOfDay(t: ScheduleTime): number[] {
  if (t.every.kind !== 'hours') return [t.hour];
  const n = t.every.hours;
  const out: number[] = [];
  for (let h = t.hour % n; h < 24; h += n) out.push(h);
  return out;
}

const two = (n: number) => String(n).padStart(2, '0');

/** systemd OnCalendar= expression (local time), e.g. "*-*-* 02,08,14,20:30:00". */
export function onCalendar(t: ScheduleTime): string {
  const hm = `${hoursOfDay(t).map(two).join(',')}:${two(t.minute)}:00`;
  switch (t.every.kind) {
    case 'hours':
    case 'daily':
      return `*-*-* ${hm}`;
    case 'weekly':
      return `Sun *-*-* ${hm}`;
    case 'monthly':
      return `*-*-01 ${hm}`;
  }
}

/** The five time fields of a cron line, firing at the same times as onCalendar(). */
export function cronFields(t: ScheduleTime): string {
  const hours = hoursOfDay(t).join(',');
  switch (t.every.kind) {
    case 'hours':
    case 'daily':
      return `${t.minute} ${hours} * * *`;
    case 'weekly':
      return `${t.minute} ${hours} * * 0`;
    case 'monthly':
      return `${t.minute} ${hours} 1 * *`;
  }
}

/** Plain words: "every 6 hours (02:30, 08:30, …)", "every day at 02:30". */
export function describeSchedule(t: ScheduleTime): string {
  const at = `${two(t.hour)}:${two(t.minute)}`;
  switch (t.every.kind) {
    case 'hours':
      return t.every.hours === 1
        ? `every hour at minute ${two(t.minute)}`
        : `every ${t.every.hours} hours (${hoursOfDay(t)
            .map((h) => `${two(h)}:${two(t.minute)}`)
            .join(', ')})`;
    case 'daily':
      return `every day at ${at}`;
    case 'weekly':
      return `every Sunday at ${at}`;
    case 'monthly':
      return `on the 1st of every month at ${at}`;
  }
}
