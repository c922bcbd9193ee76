import type { TicketFields } from '../report/ticket.js';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, type SerializedError } from '../errors.js';
import type { HandMadeSource } from '../backup/manifest.js';
import type { Profile } from '../profiles/schema.js';
import type { ProductState } from '../runbook/product/product-steps.js';
import type { StepState } from '../runbook/types.js';
import type { ServiceState } from '../service/types.js';
import { exists, writeFileAtomic } from '../util/atomic-fs.js';
import { crashPoint } from './crash-point.js';

export const JOURNAL_NAME = 'restore-journal.json';
export const JOURNAL_VERSION = 1;

/**
 * Where the journal lives: option, then EDGE_RECOVERY_STATE_DIR, then the platform's machine-wide folder.
 * `EDGE_RECOVERY_NOTE_DIR` moves that machine-wide folder (and the note of the last `--state-dir` kept in it) for
 * tests only, as EDGE_RECOVERY_LOCK_DIR moves the machine's lock: a test of "a command without --state-dir" then
 * never reads or changes a real /var/lib/edge-recovery.
 */
export function defaultStateDir(opt?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (opt !== undefined && opt !== '') return opt;
  const fromEnv = env.EDGE_RECOVERY_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const moved = env.EDGE_RECOVERY_NOTE_DIR;
  if (moved !== undefined && moved !== '') return moved;
  if (process.platform === 'win32') return path.join(env.ProgramData ?? 'C:\\ProgramData', 'EdgeRecovery');
  return '/var/lib/edge-recovery';
}

/** A folder's device and inode numbers, as decimal strings (inodes may pass 2^53). */
export interface FolderId {
  dev: string;
  ino: string;
}

export interface ItemPlan {
  id: string;
  target: string;
  /**
   * `<target's folder>/.edge-recovery-<restore id>/<item id>`: inside a root-only (0700) work folder beside the
   * target, on its filesystem, so nothing staged is reachable by others and moving it in is one rename.
   */
  staging: string;
  /** `<target>.before-restore-<stamp>`: where the folder found on the machine is set aside. */
  setAside: string;
  /** Whether a folder was found at the target when the defaults were set aside (null: not looked yet). */
  hadOriginal: boolean | null;
  /**
   * The set-aside folder's identity (device and inode, as decimal strings) taken right after it was set aside: what
   * is deleted later must still be that folder. An account that may write beside the targets can rename another
   * folder there (root's own, which it could not delete itself) by the set-aside's name. Absent in older journals.
   */
  setAsideId?: FolderId;
  /**
   * The restored folder's identity, taken on the staging folder (root's, in the root-only work folder) just before it
   * was moved in: what a rollback deletes from the target must be that folder. Absent in older journals.
   */
  restoredId?: FolderId;
  /**
   * The targets' folder the work folder was made in (device and inode, as decimal strings), taken at the unpacking:
   * the swap, a rollback and the clean-up open the work folder again through the folder now reached by the target's
   * folder's path, and refuse one that is another (an account owning a folder above moved it aside and put another,
   * or a link, by its name). Absent in older journals: then only the walk's own checks apply (openWorkDir).
   */
  parentId?: FolderId;
  /**
   * The profile's path when it is a symlink to the target (a data disk): the restore works at the target
   * (the real folder), and never touches the link.
   */
  link?: string;
}

/**
 * One rename, recorded before it happens ('intended') and after ('done'). After a crash between the two
 * writes the filesystem says which it was: renames are atomic, and every path here is unique to the restore.
 */
export interface RenameRecord {
  from: string;
  to: string;
  purpose: 'set-aside' | 'move-in' | 'discard' | 'put-back';
  itemId: string;
  state: 'intended' | 'done';
}

export type JournalStatus =
  /** Steps are running or the process died while they ran. */
  | 'running'
  /** A step failed; the machine may be half-way. */
  | 'failed'
  /** The set-aside defaults are being deleted: from here on only resume makes sense. */
  | 'committing'
  | 'finished'
  | 'rolling-back'
  | 'rolled-back';

export interface StepRecord {
  state: StepState;
  summary?: string;
  error?: SerializedError;
  startedAt?: string;
  finishedAt?: string;
}

/** An entry whose secret was typed in again: names only, never a value. */
export interface CredentialUpdate {
  key: string;
  resourceTitle: string;
  entryName: string;
  fields: string[];
}

export interface RestoreJournal {
  version: typeof JOURNAL_VERSION;
  id: string;
  status: JournalStatus;
  startedAt: string;
  updatedAt: string;
  backup: string;
  /** A full copy of the profile, so resume and rollback never depend on the profile file. */
  profile: Profile;
  root: string | null;
  options: {
    allowOtherDevice: boolean;
    allowVersionMismatch: boolean;
    keepDefaults: boolean;
    /** The set-aside folders are deleted at the end without asking (chosen explicitly at the start: --delete-old). */
    deleteOld?: boolean;
    reportDirs: string[];
    encrypted: boolean;
    /** The service ticket this restore is for (asked before it started): on its report. */
    ticket?: TicketFields;
  };
  /** Facts from the backup's manifest, for the status view and the report. */
  backupFacts: {
    profileId: string;
    deviceId: string;
    hostname: string;
    productVersion: string | null;
    createdAt: string;
  } | null;
  /**
   * Set when the backup is an archive made by hand: `backup` then names the set this restore makes of it
   * in its own folder (read through and hashed in the verify step); the report records it as unverified.
   */
  handMade?: { file: string; source?: HandMadeSource; mapping?: string };
  /** The inner manifest saved while verifying, inside the journal's folder. */
  innerManifestFile: string;
  /** The service's state before the restore touched it; recorded once, before stopping it. */
  serviceBefore: ServiceState | null;
  items: ItemPlan[];
  renames: RenameRecord[];
  steps: Record<string, StepRecord>;
  /** Credential entries updated (names only, never values) and those still waiting for their secret. */
  credentials: { updated: CredentialUpdate[]; pending: string[] };
  /** Figures for the report, filled in as steps learn them. */
  facts: {
    files: number;
    contentBytes: number;
    /** Bytes per item as measured by reading the archive (the free-space check trusts these, not the manifest). */
    itemBytes?: Record<string, number>;
    checked: number;
    /**
     * The owners' check ran on the staging folders before the stop (see the extract step): after the swap only
     * the folders in place are looked at. Absent in journals of older versions: then the whole tree is walked.
     */
    checkedInStaging?: boolean;
    installedVersion: string | null;
    installedAfter: string | null;
    /** This machine's device id as the compatibility check found it (the product's own, when it has one). */
    thisDeviceId?: string;
  };
  warnings: string[];
  reports: string[];
  /**
   * The technician's last decision about the folders the restore set aside: deleted (asked, or --yes), or kept
   * (the default; `edge-recovery finish` deletes them later). Absent until the restore reaches its end.
   */
  oldFolders?: OldFolders;
  /** What the product's own steps remember (work folder, a second service's earlier state, steps to undo). */
  product?: ProductState;
  /** Set when a rollback runs: what it did, in plain words. */
  rollback?: { startedAt: string; finishedAt?: string; steps: string[]; error?: SerializedError };
}

export interface OldFolders {
  decision: 'kept' | 'deleted';
  at: string;
  paths: string[];
  files: number;
  bytes: number;
}

export function journalPath(stateDir: string): string {
  return path.join(stateDir, JOURNAL_NAME);
}

/** The folder for one restore's own files (inner manifest, journals of earlier restores). */
export function restoreDir(stateDir: string, id: string): string {
  return path.join(stateDir, 'restores', id);
}

export async function readJournal(stateDir: string): Promise<RestoreJournal | null> {
  let text: string;
  try {
    text = await fsp.readFile(journalPath(stateDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // A file given as the state folder (status --state-dir /etc/passwd): said so, not "ENOTDIR: not a directory".
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new RecoveryError(
        'BAD_INPUT',
        `The state folder ${stateDir} is not a folder, so it holds no restore journal. Nothing was read or changed.`,
        {
          hint: 'Give the folder the restore used (--state-dir, or EDGE_RECOVERY_STATE_DIR); by default /var/lib/edge-recovery.',
        },
      );
    }
    throw e;
  }
  let j: RestoreJournal;
  try {
    j = JSON.parse(text) as RestoreJournal;
  } catch {
    // writeFileAtomic never leaves a half-written journal; a broken one was edited by hand.
    throw new RecoveryError('INTERNAL', `The restore journal ${journalPath(stateDir)} is not valid JSON.`, {
      hint: 'Do not edit the journal. Compare the folders with their ".before-restore-" copies by hand.',
    });
  }
  if (j.version !== JOURNAL_VERSION) {
    throw new RecoveryError(
      'INTERNAL',
      `The restore journal ${journalPath(stateDir)} was written by another version of this tool.`,
    );
  }
  return j;
}

/** Holds the journal in memory and writes it durably (fsynced, atomic) on every change. */
export class JournalStore {
  constructor(
    readonly stateDir: string,
    public j: RestoreJournal,
  ) {}

  async save(label?: string): Promise<void> {
    if (label) crashPoint(`before-journal:${label}`);
    this.j.updatedAt = new Date().toISOString();
    await fsp.mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(journalPath(this.stateDir), JSON.stringify(this.j, null, 2) + '\n', 0o600);
    if (label) crashPoint(`after-journal:${label}`);
  }

  step(id: string): StepRecord | undefined {
    return this.j.steps[id];
  }
}

/**
 * After a crash, an 'intended' rename either happened or not: the filesystem tells. Both present or
 * both missing cannot come from our own rename; that is left as is and reported by the caller.
 */
export async function reconcileRenames(
  store: JournalStore,
  /** Where to look for a record's path: the path itself, or the same place through a held folder's descriptor. */
  at: (p: string, r: RenameRecord) => string = (p) => p,
): Promise<string[]> {
  const odd: string[] = [];
  let changed = false;
  const kept: RenameRecord[] = [];
  for (const r of store.j.renames) {
    if (r.state === 'done') {
      kept.push(r);
      continue;
    }
    const [fromThere, toThere] = await Promise.all([exists(at(r.from, r)), exists(at(r.to, r))]);
    changed = true;
    if (!fromThere && toThere) kept.push({ ...r, state: 'done' });
    else if (fromThere && !toThere)
      continue; // never happened: forget the intent
    else {
      kept.push(r);
      odd.push(`${r.from} → ${r.to}: ${fromThere ? 'both exist' : 'neither exists'}`);
    }
  }
  if (changed) {
    store.j.renames = kept;
    await store.save();
  }
  return odd;
}

/** Where a rollback moves the restored folder before deleting it. */
/** Where rollback renames what the restore put in place: inside the root-only work folder, then deleted there. */
export function discardName(i: ItemPlan): string {
  return path.join(path.dirname(i.staging), `discard-${i.id}`);
}

export function renameDone(j: RestoreJournal, itemId: string, purpose: RenameRecord['purpose']): boolean {
  return j.renames.some((r) => r.itemId === itemId && r.purpose === purpose && r.state === 'done');
}

/** Nothing at all at `stateDir` (a mistyped --state-dir): no restore ever ran with it. */
export async function stateDirMissing(stateDir: string): Promise<boolean> {
  return (await fsp.lstat(stateDir).catch(() => null)) === null;
}

/** What `status` and the commands that need a journal say of a state folder that does not exist. */
export function noStateDirWords(stateDir: string): string {
  return `No restore was ever run with the state folder ${stateDir}: it does not exist.`;
}

/**
 * rollback, resume, finish and credentials work on a journal in `stateDir`. A folder that does not exist (a
 * mistyped --state-dir) holds none: said before the job lock is taken, which would make the folder and its lock
 * file (the refusal "changed nothing" but left a new folder behind).
 */
export async function refuseMissingStateDir(stateDir: string): Promise<void> {
  if (!(await stateDirMissing(stateDir))) return;
  throw new RecoveryError('NO_UNFINISHED_RESTORE', `${noStateDirWords(stateDir)} Nothing was changed.`, {
    hint: 'If the restore was started with --state-dir, pass the same --state-dir here.',
  });
}
