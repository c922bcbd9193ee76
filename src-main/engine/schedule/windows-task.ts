import { describeSchedule, hoursOfDay } from './interval.js';
import { runArgs, scheduleName, type ScheduleSpec } from './spec.js';

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** One argument as CommandLineToArgvW reads it back (quotes around spaces; backslashes before a quote doubled). */
export function windowsQuote(arg: string): string {
  if (arg.length > 0 && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      slashes++;
      continue;
    }
    out += ch === '"' ? '\\'.repeat(slashes * 2 + 1) + '"' : '\\'.repeat(slashes) + ch;
    slashes = 0;
  }
  return out + '\\'.repeat(slashes * 2) + '"';
}

/** ISO 8601 duration as Task Scheduler writes it: PT15M, PT6H, P1D. */
export function isoDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s % 86_400 === 0) return `P${s / 86_400}D`;
  if (s % 3600 === 0) return `PT${s / 3600}H`;
  if (s % 60 === 0) return `PT${s / 60}M`;
  return `PT${s}S`;
}

/** Task path under the Task Scheduler library. */
export function taskPath(profileId: string): string {
  return `\\EdgeRecovery\\${scheduleName(profileId)}`;
}

/**
 * A Task Scheduler task (schema 1.2, as `schtasks /Query /XML` exports it) that runs the scheduled backup as
 * SYSTEM (S-1-5-18) with the highest rights: a service account, so it runs whether anybody is logged on or
 * not and needs no stored password. StartWhenAvailable is systemd's Persistent=true.
 */
export function windowsTaskXml(s: ScheduleSpec): string {
  const first = hoursOfDay(s.time)[0]!;
  const start = `2026-01-01T${String(first).padStart(2, '0')}:${String(s.time.minute).padStart(2, '0')}:00`;
  const e = s.time.every;
  const repetition =
    e.kind === 'hours' && e.hours < 24
      ? [
          '      <Repetition>',
          `        <Interval>${isoDuration(e.hours * 3_600_000)}</Interval>`,
          '        <Duration>P1D</Duration>',
          '        <StopAtDurationEnd>false</StopAtDurationEnd>',
          '      </Repetition>',
        ]
      : [];
  const scheduleBy =
    e.kind === 'weekly'
      ? [
          '      <ScheduleByWeek>',
          '        <DaysOfWeek>',
          '          <Sunday />',
          '        </DaysOfWeek>',
          '        <WeeksInterval>1</WeeksInterval>',
          '      </ScheduleByWeek>',
        ]
      : e.kind === 'monthly'
        ? [
            '      <ScheduleByMonth>',
            '        <DaysOfMonth>',
            '          <Day>1</Day>',
            '        </DaysOfMonth>',
            '        <Months>',
            ...[
              'January',
              'February',
              'March',
              'April',
              'May',
              'June',
              'July',
              'August',
              'September',
              'October',
              'November',
              'December',
            ].map((m) => `          <${m} />`),
            '        </Months>',
            '      </ScheduleByMonth>',
          ]
        : ['      <ScheduleByDay>', '        <DaysInterval>1</DaysInterval>', '      </ScheduleByDay>'];
  const [cmd, ...lead] = s.command;
  const args = [...lead, ...runArgs(s)].map(windowsQuote).join(' ');
  return [
    '<?xml version="1.0" encoding="UTF-16"?>',
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    '  <RegistrationInfo>',
    '    <Author>Edge Recovery Wizard</Author>',
    `    <Description>${xmlEscape(`Backs up ${s.productName} (${s.profileId}) to ${s.to}, ${describeSchedule(s.time)}. Postpones while a pre-check fails.`)}</Description>`,
    `    <URI>${xmlEscape(taskPath(s.profileId))}</URI>`,
    '  </RegistrationInfo>',
    '  <Triggers>',
    // Children in the schema's sequence (MS-TSCH 2.5.3.1 and 2.5.3.9): Enabled, StartBoundary, Repetition,
    // RandomDelay, ScheduleBy…. A Repetition needs its Duration, or Windows never repeats the task.
    '    <CalendarTrigger>',
    '      <Enabled>true</Enabled>',
    `      <StartBoundary>${start}</StartBoundary>`,
    ...repetition,
    `      <RandomDelay>${isoDuration(s.randomDelayMs)}</RandomDelay>`,
    ...scheduleBy,
    '    </CalendarTrigger>',
    '  </Triggers>',
    '  <Principals>',
    '    <Principal id="Author">',
    '      <UserId>S-1-5-18</UserId>',
    '      <RunLevel>HighestAvailable</RunLevel>',
    '    </Principal>',
    '  </Principals>',
    '  <Settings>',
    '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>',
    '    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>',
    '    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>',
    '    <AllowHardTerminate>true</AllowHardTerminate>',
    '    <StartWhenAvailable>true</StartWhenAvailable>',
    '    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>',
    '    <IdleSettings>',
    '      <StopOnIdleEnd>false</StopOnIdleEnd>',
    '      <RestartOnIdle>false</RestartOnIdle>',
    '    </IdleSettings>',
    '    <AllowStartOnDemand>true</AllowStartOnDemand>',
    '    <Enabled>true</Enabled>',
    '    <Hidden>false</Hidden>',
    '    <RunOnlyIfIdle>false</RunOnlyIfIdle>',
    '    <WakeToRun>false</WakeToRun>',
    `    <ExecutionTimeLimit>${isoDuration(s.giveUpAfterMs + 12 * 3_600_000)}</ExecutionTimeLimit>`,
    '    <Priority>7</Priority>',
    '  </Settings>',
    '  <Actions Context="Author">',
    '    <Exec>',
    `      <Command>${xmlEscape(windowsQuote(cmd!))}</Command>`,
    `      <Arguments>${xmlEscape(args)}</Arguments>`,
    '    </Exec>',
    '  </Actions>',
    '</Task>',
    '',
  ].join('\r\n');
}

/** UTF-16LE with a byte order mark: what the XML declaration says and what schtasks /Create /XML reads. */
export function utf16le(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
}
