import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { defaultStateDir, journalPath } from '../engine/restore/journal.js';
import { checkStateDir } from '../engine/util/job-lock.js';

/**
 * A restore started with `--state-dir X` keeps its journal in X; `status`, `resume`, `rollback`, `finish` and
 * `credentials` run later without the option would look in the default folder and find nothing. The restore
 * leaves a note in the default folder (`last-state-dir`) naming X, and the later commands follow it, saying so.
 */
const NOTE = 'last-state-dir';

/** The machine's default state folder, whatever EDGE_RECOVERY_STATE_DIR says (tests move it: EDGE_RECOVERY_NOTE_DIR). */
function noteDir(): string {
  return defaultStateDir(undefined, { EDGE_RECOVERY_NOTE_DIR: process.env['EDGE_RECOVERY_NOTE_DIR'] });
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

/** After a restore started with an explicit state folder: remember it (best effort, never fails the restore). */
export async function rememberStateDir(stateDir: string): Promise<void> {
  const dir = noteDir();
  if (path.resolve(stateDir) === path.resolve(dir)) return;
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsp.writeFile(path.join(dir, NOTE), `${path.resolve(stateDir)}\n`, { mode: 0o600 });
  } catch {
    // Not root, read-only: the commands then say which --state-dir to pass.
  }
}

/** --state-dir (or EDGE_RECOVERY_STATE_DIR), else the remembered folder of the last restore, as an engine option. */
export async function rememberedStateDir(o: { stateDir?: string }): Promise<{ stateDir?: string }> {
  if (o.stateDir) return { stateDir: path.resolve(o.stateDir) };
  // Without --state-dir (nor EDGE_RECOVERY_STATE_DIR, which commander hands over as the option): the default folder.
  const fallback = noteDir();
  if (await exists(journalPath(fallback))) return {};
  let noted: string;
  try {
    noted = (await fsp.readFile(path.join(noteDir(), NOTE), 'utf8')).trim();
  } catch {
    return {};
  }
  if (noted === '' || !(await exists(journalPath(noted)))) return {};
  try {
    // A folder that is not (or no longer) root's alone is not followed: its journal could be anyone's.
    checkStateDir(noted);
  } catch (e) {
    process.stderr.write(
      `Not using the state folder ${noted} named by the last restore: ${(e as Error).message.split(/\. (?:Another account|A restore journal)/)[0]}.\n`,
    );
    return {};
  }
  process.stderr.write(`Using the state folder ${noted} (the last restore was started with --state-dir ${noted}).\n`);
  return { stateDir: noted };
}
