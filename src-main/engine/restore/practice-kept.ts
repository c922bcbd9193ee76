import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * A practice sandbox kept after its practice (`practice --keep`): its state folder holds the journal of a restore
 * onto a practice appliance that was stopped when the practice ended. `status --state-dir <it>` must not offer what
 * needs that appliance running (entering credentials through its API) as if it ran.
 */
export interface KeptPractice {
  /** The sandbox folder (its stick, its appliances, this state folder). */
  sandbox: string;
  /** When the practice ended and its appliances were stopped. */
  stoppedAt: string;
}

const NOTE = 'practice-kept.json';

/** Notes in the practice's own state folder that its appliances were stopped and the sandbox kept. */
export async function notePracticeKept(stateDir: string, sandbox: string): Promise<void> {
  const note: KeptPractice = { sandbox, stoppedAt: new Date().toISOString() };
  // A new file only (never through a link someone put there); a practice's folder is the user's own.
  const fh = await fsp.open(
    path.join(stateDir, NOTE),
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await fh.writeFile(`${JSON.stringify(note, null, 2)}\n`);
  } finally {
    await fh.close();
  }
}

/** The note of a kept practice in this state folder, or null (a real machine's folder, or not readable). */
export async function keptPractice(stateDir: string): Promise<KeptPractice | null> {
  try {
    const fh = await fsp.open(path.join(stateDir, NOTE), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      if (!(await fh.stat()).isFile()) return null;
      const v = JSON.parse(await fh.readFile('utf8')) as Partial<KeptPractice>;
      return typeof v.sandbox === 'string' && typeof v.stoppedAt === 'string'
        ? { sandbox: v.sandbox, stoppedAt: v.stoppedAt }
        : null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** What `status` says of a kept practice, before its list of what is left: what runs (nothing) and what to do. */
export function keptPracticeWords(k: KeptPractice): string {
  return (
    `This is a practice sandbox kept with --keep (${k.sandbox}): its practice appliances were stopped when the ` +
    `practice ended, so nothing runs and nothing can be sent to them. Look at the stick (${path.join(k.sandbox, 'stick')}) ` +
    `and the reports (${path.join(k.sandbox, 'state', 'reports')}); delete the folder when done.\n`
  );
}
