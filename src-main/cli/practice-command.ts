import os from 'node:os';
import path from 'node:path';
import { runBackup } from '../engine/backup/run-backup.js';
import { RecoveryError } from '../engine/errors.js';
import { countOf } from '../engine/progress.js';
import { reportFilesText } from '../engine/report/saved-at.js';
import { notePracticeKept } from '../engine/restore/practice-kept.js';
import { runRestore } from '../engine/restore/run-restore.js';
import type { RunbookIO } from '../engine/runbook/runner.js';
import { createPracticeSandbox, type PracticeSandbox, type PracticeSandboxOptions } from '../practice/sandbox.js';

/**
 * The practice stand-ins by profile id: each makes a sandbox with an "old" and a "replacement" appliance and a
 * folder standing in for the stick. More products add their stand-in here (data, not code paths).
 */
export const PRACTICE_STAND_INS: Record<string, (o: PracticeSandboxOptions) => Promise<PracticeSandbox>> = {
  'eds-practice': createPracticeSandbox,
  'eds-linux': createPracticeSandbox,
};

export const DEFAULT_PRACTICE = 'eds-practice';

/**
 * `edge-recovery practice [<profile-id>]`: sets up the practice appliances, runs the whole backup and restore
 * with the usual prompts, and says where everything is. The sandbox is removed afterwards unless `keep`.
 */
export async function practiceCommand(
  profileId: string | undefined,
  o: { keep?: boolean; baseDir?: string; json?: boolean },
  makeIo: () => RunbookIO,
): Promise<void> {
  const id = profileId ?? DEFAULT_PRACTICE;
  const make = PRACTICE_STAND_INS[id];
  if (!make) {
    throw new RecoveryError('BAD_INPUT', `There is no practice stand-in for "${id}".`, {
      hint: `Practice profiles here: ${Object.keys(PRACTICE_STAND_INS).join(', ')}.`,
    });
  }
  // With --json stdout carries JSON lines only (a tool reads them): the words for a person go to stderr.
  const say = (s: string) => (o.json ? process.stderr : process.stdout).write(s);
  say(`Setting up the practice appliances (${id})…\n`);
  const sb = await make(o.baseDir ? { baseDir: o.baseDir } : {});
  let ok = false;
  try {
    say(
      `Practice sandbox: ${sb.dir}\n` +
        `  old appliance:         ${sb.old.root} (API on port ${sb.old.port})\n` +
        `  replacement appliance: ${sb.replacement.root} (API on port ${sb.replacement.port})\n` +
        `  the "USB stick":       ${sb.stickDir}\n\n` +
        'Step 1: back up the old appliance to the stick.\n',
    );
    const host = os.hostname();
    const backup = await runBackup(
      {
        profile: sb.old.profile,
        to: sb.stickDir,
        root: sb.old.root,
        deviceId: `practice-old-${host}`,
        stateDir: sb.stateDir,
      },
      makeIo(),
    );
    say(`\nBackup: ${backup.setDir}\n\nStep 2: restore it onto the replacement appliance.\n`);
    const restore = await runRestore(
      {
        backup: backup.setDir,
        profile: sb.replacement.profile,
        root: sb.replacement.root,
        allowOtherDevice: true,
        stateDir: sb.stateDir,
        tuning: { deviceId: `practice-replacement-${host}` },
      },
      makeIo(),
    );
    ok = true;
    // Where everything is only when it stays (--keep): without it the sandbox is removed right below, and a list of
    // its paths sent the technician looking for files that were gone. The reports by folder, as the report step.
    say(
      `\nPractice complete${restore.credentialsPending.length > 0 ? `, with ${countOf(restore.credentialsPending.length, 'open item')}: ${restore.credentialsPending.join(', ')}` : ''}.\n` +
        (o.keep
          ? `  backup on the practice stick: ${backup.setDir}\n` +
            `  restore journal:              ${sb.stateDir}\n` +
            `  report written ${reportFilesText(restore.reports, path.join(sb.stateDir, 'reports'))}\n`
          : ''),
    );
  } finally {
    if (o.keep) {
      await stopOnly(sb);
      // For `status --state-dir <it>`: what ran here was stopped, so it does not offer entering credentials.
      await notePracticeKept(sb.stateDir, sb.dir).catch(() => undefined);
      say(
        `\nKept for inspection: ${sb.dir}\n(the practice appliances were stopped; delete the folder when done)\n` +
          `  What it shows now: edge-recovery status --state-dir ${sb.stateDir}\n`,
      );
    } else {
      await sb.dispose();
      say(
        ok
          ? `  The practice sandbox (its stick, the backup and the reports) was removed; --keep keeps it to look at.\n`
          : '',
      );
    }
  }
}

/** Stops the appliances but leaves the folder. */
async function stopOnly(sb: PracticeSandbox): Promise<void> {
  const { serviceFor } = await import('../engine/service/index.js');
  for (const m of [sb.old, sb.replacement])
    await serviceFor(m.profile.service)
      .stop()
      .catch(() => undefined);
}
