import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  promises as fsp,
  readlinkSync,
  rmdirSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { extractArchive } from '../archive/index.js';
import { RecoveryError, toRecoveryError, unpackFailed } from '../errors.js';
import { countOf, formatBytes } from '../progress.js';
import type { Step } from '../runbook/runner.js';
import { findOpenFiles } from '../service/open-files.js';
import { manifestLimits } from '../backup/verify-backup.js';
import {
  exists,
  fsyncDir,
  makeFoldersTo,
  openFolderTo,
  procFdPath,
  sameFile,
  type SafeDir,
} from '../util/atomic-fs.js';
import { ensureFolder, openPrivateDir, removeHeldTree, removeTreeNoFollow } from '../util/safe-delete.js';
import { byHand, needAgeKey, needManifest, type RestoreCtx } from './context.js';
import { crashPoint } from './crash-point.js';
import { countsMatch } from './steps-prepare.js';
import {
  reconcileRenames,
  renameDone,
  type FolderId,
  type ItemPlan,
  type JournalStore,
  type RenameRecord,
  type RestoreJournal,
} from './journal.js';
import { journaledRename } from './renames.js';
import { checkOwnership, judgeOwnership, ownerIds, stagedMismatches, type Mismatch } from './repair-ownership.js';
import { compilePolicy } from './ownership-policy.js';
import { flushToDisk } from '../util/flush-to-disk.js';
import type { Ownership } from '../profiles/schema.js';

/** The root-only work folder of restore `restoreId` beside `target` (same filesystem, so the swap is a rename). */
export function workDirFor(target: string, restoreId: string): string {
  return path.join(path.dirname(target), `.edge-recovery-${restoreId}`);
}

export function stagingPath(target: string, itemId: string, restoreId: string): string {
  return path.join(workDirFor(target, restoreId), itemId);
}

/** The work folder an item's staging lives in (derived from the plan, whatever the target resolved to). */
export function workDirOf(i: ItemPlan): string {
  return path.dirname(i.staging);
}

/** holdWorkDirs' mark for a work folder whose parent does not exist (nothing is in it, nothing to hold). */
const NOWHERE = -1;

/**
 * Removes the restore's work folders (what is left in them is the restore's own: staging, trash): those in `held`
 * (opened and judged by holdWorkDirs) through their descriptors, the others once judged root's own (0700) on a
 * descriptor. Each is emptied by descriptor, and its name removed only while it still names that folder: a folder
 * another account put by that name (it may write beside the targets) is not the restore's and is left alone.
 */
export function removeWorkDirs(items: ItemPlan[], held?: Map<string, number>): void {
  for (const d of new Set(items.map(workDirOf))) {
    const fd = held?.get(d);
    if (fd === NOWHERE) continue;
    if (fd !== undefined) {
      removeHeldTree(d, fd);
      continue;
    }
    let own: number;
    try {
      own = openPrivateDir(d);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT' || code === 'UNSAFE_PATH') continue;
      throw e;
    }
    try {
      removeHeldTree(d, own);
    } finally {
      closeSync(own);
    }
  }
}

/**
 * Removes the staging folder of `i` left by an earlier run, inside its work folder opened and judged root's own on a
 * descriptor (openPrivateDir), never by the staging folder's path: an account that may write beside the targets can
 * move the work folder aside and put a link by its name, and root would delete whatever bears the staging folder's
 * name where that link leads. A work folder that is missing or not root's own (a link, another account's folder)
 * holds nothing of this restore's and is left alone, as in the clean-up.
 */
export function removeStaging(i: ItemPlan): void {
  let fd: number;
  try {
    fd = openPrivateDir(workDirOf(i));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'UNSAFE_PATH') return;
    throw e;
  }
  try {
    removeTreeNoFollow(process.platform === 'linux' ? procFdPath(fd, path.basename(i.staging)) : i.staging);
  } finally {
    closeSync(fd);
  }
}

/** The device and inode of what `p` (or a descriptor's /proc path) names, followed, as the journal keeps them. */
function idAt(p: string): FolderId {
  const st = statSync(p, { bigint: true });
  return { dev: String(st.dev), ino: String(st.ino) };
}

const sameId = (a: FolderId, b: FolderId): boolean => a.dev === b.dev && a.ino === b.ino;

function notOwnWorkDir(d: string, why: string): RecoveryError {
  return new RecoveryError(
    'UNSAFE_PATH',
    `${d} is not the restore's own work folder: ${why}. Nothing was changed there.`,
    {
      hint: `Another account may have moved folders in ${path.dirname(path.dirname(d))}: check ${path.dirname(d)} (a link, or a folder moved there), put the folders back as they were, then resume or roll back.`,
      details: { path: d },
    },
  );
}

/**
 * The work folder `d` opened (a descriptor; the caller closes it) through its parent folder (the targets' folder) held
 * open as makeFoldersTo reaches it (openFolderTo: each folder through the one above it held open, a link followed only
 * when no other account could have put it there), never by `d`'s path: an account that owns a folder above the
 * targets can move the targets' folder aside and put a link by its name to a root-only folder at any moment, and
 * root would make (and later rename in) the work folder where that link leads. `make`: the targets' folder and the
 * folders on the way are made (as mkdir -p) when missing. The work folder is made (0700) when missing, through the
 * held parent (mkdirat, as /proc/self/fd/<n>/name), and what is opened (never a link) must be what is there, root's,
 * 0700, inside that parent. `parentId`: the targets' folder recorded when the work folder was first made; a folder
 * now reached by that path that is another (moved there since) is refused. Null when the targets' folder does not
 * exist and `make` is not given (nothing of the restore can be there).
 */
export async function openWorkDir(
  d: string,
  opts: { make: 'all' | 'work-folder' | 'nothing'; parentId?: FolderId | undefined },
): Promise<number | null> {
  const { make, parentId } = opts;
  if (process.platform !== 'linux') {
    if (make === 'all') await makeFoldersTo(path.dirname(d));
    else if (!existsSync(path.dirname(d))) return null;
    return openPrivateDir(make === 'nothing' ? d : ensureFolder(d));
  }
  let parent: SafeDir;
  try {
    parent = await openFolderTo(path.dirname(d), make === 'all' ? 0o755 : undefined);
  } catch (e) {
    if (make !== 'all' && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    if (parentId !== undefined && !sameId(idAt(parent.self), parentId)) {
      throw notOwnWorkDir(
        d,
        `${path.dirname(d)} is not the folder the restore unpacked beside (another folder was put by its name since)`,
      );
    }
    const at = parent.at(path.basename(d));
    if (make !== 'nothing') {
      try {
        mkdirSync(at, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    const fd = openPrivateDir(at, d);
    try {
      const held = fstatSync(fd, { bigint: true });
      const there = lstatSync(at, { bigint: true, throwIfNoEntry: false });
      const p = idAt(parent.self);
      if (there === undefined || there.dev !== held.dev || there.ino !== held.ino || !sameId(parentIdOf(fd), p)) {
        throw notOwnWorkDir(d, 'it was moved or replaced while it was opened');
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return fd;
  } finally {
    await parent.close();
  }
}

/** What the targets' folder's path `p` names now that the folder was moved away from it, in words for a refusal. */
function whatIsThereNow(p: string): string {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (st === undefined) return 'nothing is there now';
  if (st.isSymbolicLink()) return `a link to ${readlinkSync(p)} is there now (uid ${st.uid})`;
  return `another folder is there now (uid ${st.uid})`;
}

/** What to do once the targets' folder `p` was moved to `now` by an account owning the folder above, then `what`. */
function movedBackHint(p: string, now: string, what: string): string {
  return `An account that may write in ${path.dirname(p)} moved it: find out which, then remove what is at ${p} now, move ${now} back to ${p}, and ${what}.`;
}

/**
 * The refusal when the path of `i`'s work folder no longer leads to the one just made through the targets' folder held
 * open (held as `fd`): an account that owns a folder above moved the targets' folder aside and put a link or a folder
 * by its name. The work folder just made (empty) is removed from where it is, through the descriptor; nothing else was
 * changed.
 */
function workDirMoved(c: RestoreCtx, fd: number, i: ItemPlan): RecoveryError {
  const p = path.dirname(i.target);
  const now = path.dirname(readlinkSync(procFdPath(fd)));
  const seen = whatIsThereNow(p);
  try {
    rmdirSync(`${procFdPath(fd)}/../${path.basename(workDirOf(i))}`);
  } catch {
    /* not empty, or gone: left, as the restore's own (root-only) */
  }
  return new RecoveryError(
    'UNSAFE_PATH',
    `${p} is no longer the folder the restore prepared its work folder in: it was moved to ${now} while the restore ran, and ${seen}. Nothing of ${c.profile.productName} was changed: nothing was unpacked, and the service was not stopped.`,
    {
      hint: movedBackHint(p, now, 'start the restore again'),
      details: { path: p, movedTo: now },
    },
  );
}

/** The targets' folder holding the work folder held open as `fd`, as the journal keeps it (device and inode). */
export function parentIdOf(fd: number): FolderId {
  return idAt(`${procFdPath(fd)}/..`);
}

/**
 * The work folders of `items`, each opened through its parent held open and judged (openWorkDir; made 0700 when
 * missing), for a rollback or a clean-up to rename into and delete in through (inWorkDir, besideWorkDir): an account
 * that may write beside the targets can rename a work folder away and put its own by that name at any moment after
 * this, and an account that owns a folder above the targets can move their folder aside and link another by its name.
 * A folder recorded by the swap (parentId) must still be the one reached. Close with releaseWorkDirs.
 */
export async function holdWorkDirs(items: ItemPlan[]): Promise<Map<string, number>> {
  const held = new Map<string, number>();
  try {
    for (const i of items) {
      const d = workDirOf(i);
      if (held.has(d)) continue;
      // A target whose parent folder was never made (a restore stopped before it unpacked): nothing of it exists.
      held.set(d, (await openWorkDir(d, { make: 'work-folder', parentId: i.parentId })) ?? NOWHERE);
    }
  } catch (e) {
    releaseWorkDirs(held);
    throw e;
  }
  return held;
}

/**
 * reconcileRenames (after a crash between a rename and its journal write) looking through the work folders held
 * (holdWorkDirs: reached as the restore reached them, in the targets' folders journaled), never by the journal's
 * paths: an account owning a folder above the targets can move their folder aside and link another by its name, and
 * by the paths a set-aside that happened looked as if it never had (the target's name found where the link leads,
 * the set-aside name not): the journal forgot it, and the earlier folder was neither put back by a rollback nor
 * known to the restore. A link or another folder on the way is refused (UNSAFE_PATH) before the journal changes.
 * Nothing is held when no rename is in doubt.
 */
export async function reconcileThroughWorkDirs(store: JournalStore): Promise<string[]> {
  const j = store.j;
  if (!j.renames.some((r) => r.state === 'intended')) return reconcileRenames(store);
  const held = await holdWorkDirs(j.items);
  try {
    return await reconcileRenames(store, (p, r) => {
      const i = j.items.find((x) => x.id === r.itemId);
      if (i === undefined) return p;
      if (path.dirname(p) === workDirOf(i)) return inWorkDir(held, p);
      if (path.dirname(p) === path.dirname(workDirOf(i))) return besideWorkDir(held, i, p);
      return p;
    });
  } finally {
    releaseWorkDirs(held);
  }
}

export function releaseWorkDirs(held: Map<string, number>): void {
  for (const fd of held.values()) if (fd !== NOWHERE) closeSync(fd);
  held.clear();
}

/** The descriptor of the held work folder `dir`, or undefined (not held, or its parent does not exist). */
export function workDirFd(held: Map<string, number>, dir: string): number | undefined {
  const fd = held.get(dir);
  return fd === NOWHERE ? undefined : fd;
}

/**
 * `p`, a path directly inside a held work folder, through that folder's descriptor (Linux; the path elsewhere, and
 * where the work folder's parent does not exist: nothing can be there).
 */
export function inWorkDir(held: Map<string, number>, p: string): string {
  const fd = held.get(path.dirname(p));
  if (fd === undefined) throw new RecoveryError('INTERNAL', `${p} is not in a work folder of this restore.`);
  return process.platform === 'linux' && fd !== NOWHERE ? procFdPath(fd, path.basename(p)) : p;
}

export const stopStep: Step<RestoreCtx> = {
  id: 'stop-service',
  title: 'Stop the service',
  cancel: {
    during:
      'The restore stops after what it is doing now. Nothing is lost: you then choose to roll back (everything as it was) or to resume later.',
  },
  explain: (c) =>
    `Stop ${c.service.label} and wait until it has stopped, then check that no program still has files open in ${c.store.j.items.map((i) => i.target).join(', ')}.`,
  confirm: (c) => ({
    message: `${c.profile.productName} will be stopped so its folders can be replaced. It is started again after the restore (or put back as it was by a rollback).`,
    details: [`Service: ${c.service.label}`],
    action: 'Stop the service',
  }),
  skip: (c) =>
    c.profile.stopService.includes('restore')
      ? null
      : `${c.profile.productName} restores itself while it runs: the service is not stopped.`,
  async run(c) {
    const j = c.store.j;
    // Recorded once: after a crash the service is already stopped, and rollback must put back what was there before us.
    if (j.serviceBefore === null) {
      const st = await c.service.status();
      if (st.state === 'not-found') {
        throw new RecoveryError(
          'SERVICE_NOT_FOUND',
          `${c.service.label} is not installed on this machine (${st.detail}).`,
          {
            hint: `Install ${c.profile.productName} first, then restore. Nothing was changed.`,
          },
        );
      }
      j.serviceBefore = st.state;
      await c.store.save('service-before');
    }
    const now = await c.service.status();
    if (now.state !== 'stopped') {
      await c.service.stop();
      await c.service.waitFor('stopped', c.profile.service.stopTimeoutSeconds * 1000, c.signal);
    }
    crashPoint('stop:stopped');
    const present: string[] = [];
    for (const i of j.items) if (await exists(i.target)) present.push(i.target);
    const open = await findOpenFiles(present);
    if (open.length > 0) {
      const who = [...new Set(open.map((o) => `${o.command} (pid ${o.pid})`))];
      throw new RecoveryError(
        'FILES_IN_USE',
        `${who.join(', ')} still has files open in the folders, e.g. ${open[0]!.file}.`,
        {
          hint: 'Close that program (or stop it), then resume the restore.',
          details: { processes: who },
        },
      );
    }
    return byHand(c.profile)
      ? `${c.profile.productName} was stopped by hand (confirmed by the technician); no program holds files in the folders.`
      : `${c.service.label} is stopped (it was ${j.serviceBefore}); no program holds files in the folders.`;
  },
};

/** When the unpacking is skipped: the product restores itself from a backup that holds no folders. */
const noFoldersToUnpack = (c: RestoreCtx): boolean => c.store.j.items.length === 0;

export const extractStep: Step<RestoreCtx> = {
  id: 'extract',
  title: 'Unpack into staging folders',
  cancel: {
    during:
      'The unpacking stops and its partly unpacked copy is deleted; the service was never stopped. Nothing on this machine changes.',
    // Skipped (a backup without folders) there is no unpacked copy to speak of.
    after: (c) =>
      noFoldersToUnpack(c)
        ? 'The restore stops before the service is stopped; nothing was unpacked (the backup holds no folders). Nothing on this machine changes.'
        : 'The restore stops before the service is stopped: the unpacked copy is deleted. Nothing on this machine changes.',
  },
  explain: (c) =>
    `Unpack the backup into ${c.store.j.items.map((i) => i.staging).join(', ')} (root-only, beside the current folders, on the same disk) while ${c.profile.productName} keeps running: every part's and every file's hash, and every entry against the backup's list of files, are checked as it is read; every file and folder gets the policy's owner and mode on its own descriptor as it is made, read back to check the disk kept them; then the data is written to disk. The current folders are not touched; if anything does not match, the staging folders are removed and nothing has changed.`,
  skip: (c) => (noFoldersToUnpack(c) ? 'The backup holds no folders: the product restores itself.' : null),
  async run(c, s) {
    const stepStart = Date.now();
    const m = await needManifest(c);
    if (m.archive.encryption !== null && (c.passphrase === undefined || c.passphrase === '')) {
      throw new RecoveryError(
        'PASSPHRASE_REQUIRED',
        'This backup is encrypted: the passphrase is needed to unpack it.',
        {
          hint: 'Give the passphrase again (resume asks for it: it is never stored).',
        },
      );
    }
    const key = await needAgeKey(c);
    const targets: Record<string, string> = {};
    await fsp.mkdir(path.dirname(c.store.j.innerManifestFile), { recursive: true, mode: 0o700 });
    for (const i of c.store.j.items) {
      // The target's folder made as mkdir -p would, but never through a link another account could have put on the
      // way (the product's account's folder holding a link to a root-only folder): refused before anything changes.
      // The work folder is made and opened through that folder held open, never by its path again: an account that
      // owns a folder above could swap a folder on the way for a link in between (openWorkDir).
      const fd = (await openWorkDir(workDirOf(i), { make: 'all' }))!;
      try {
        // Root-only (0700): nothing staged is reachable by another account until the swap. A staging folder left by
        // an interrupted run is incomplete by definition: start it afresh (removed inside the work folder judged).
        removeTreeNoFollow(process.platform === 'linux' ? procFdPath(fd, path.basename(i.staging)) : i.staging);
        if (process.platform === 'linux') {
          // The unpacking finds the work folder by its path: it must lead to the one made (see workDirMoved).
          if (!sameFile(fd, workDirOf(i))) throw workDirMoved(c, fd, i);
          // The folder the swap, the rollback and the clean-up must find the work folder in again.
          i.parentId = parentIdOf(fd);
        }
      } finally {
        closeSync(fd);
      }
      targets[i.id] = i.staging;
    }
    const o = c.profile.ownership;
    const owner =
      o && process.platform !== 'win32'
        ? { ...ownerIds(o), dirMode: o.dirMode, fileMode: o.fileMode, exceptions: o.exceptions }
        : undefined;
    let crashed = false;
    const r = await extractArchive(
      c.store.j.backup,
      {
        parts: m.archive.parts,
        ...(m.archive.gzipMembers ? { gzipMembers: m.archive.gzipMembers } : {}),
        ...(key !== null ? { ageKey: key } : {}),
        // One pass: unpacked and held to the inner manifest, which is kept for the report and the checks.
        manifestOut: c.store.j.innerManifestFile,
        // Flushed below, while the owners are checked.
        flush: false,
        targets,
        ...(owner ? { owner } : {}),
        limits: manifestLimits(m),
      },
      {
        onProgress: (p) => {
          if (!crashed && p.files > 0) {
            crashed = true;
            crashPoint('extract:mid');
          }
          s.progress(p);
        },
        signal: c.signal,
      },
    ).catch((e: unknown) => {
      // Writing goes to this machine's disk (beside the folders): say so, not "the stick"; and that nothing changed.
      throw unpackFailed(toRecoveryError(e), c.store.j.items.map((i) => path.dirname(i.staging)).join(', '));
    });
    countsMatch(r, m);
    // Owners and modes were set, and read back as the disk keeps them, on each entry's descriptor as it was made,
    // in staging folders only root can enter: nothing can change them before the swap renames them into place. A
    // disk that does not keep owners or modes is found here, before the stop. What is left is to get the data onto
    // the disk; most of it is there already (the extraction flushed as it went).
    s.progress({
      phase: 'writing to disk',
      bytes: r.contentBytes,
      totalBytes: r.contentBytes,
      files: r.files,
      totalFiles: r.files,
      rate: 0,
      etaSeconds: null,
      elapsedMs: Date.now() - stepStart,
    });
    // Through the work folders judged root's own on their descriptors, never the staging folders' paths.
    const held = await holdWorkDirs(c.store.j.items);
    try {
      await flushToDisk(c.store.j.items.map((i) => inWorkDir(held, i.staging))).catch((e: unknown) => {
        throw unpackFailed(toRecoveryError(e), c.store.j.items.map((i) => path.dirname(i.staging)).join(', '));
      });
    } finally {
      releaseWorkDirs(held);
    }
    const check = owner ? r.owners : undefined;
    if (check && check.wrong > 0) throw ownersNotKept(stagedMismatches(check.first, owner!, o!), o!, true, check.wrong);
    if (check) {
      c.store.j.facts.checked = check.checked;
      c.store.j.facts.checkedInStaging = true;
    }
    c.store.j.facts.files = r.files;
    c.store.j.facts.contentBytes = r.contentBytes;
    c.store.j.facts.itemBytes = Object.fromEntries(
      c.store.j.items.map((i) => [i.id, r.items?.[i.id]?.contentBytes ?? 0]),
    );
    for (const i of c.store.j.items) await fsyncDir(path.dirname(i.staging));
    crashPoint('extract:done');
    const own = check
      ? ` Owners ${o!.user}:${o!.group} and the policy's modes were set on each file as it was written, and ${check.checked === 1 ? 'the 1 path' : `all ${check.checked} paths`} checked against the policy.`
      : '';
    return `Unpacked ${countOf(r.files, 'file')} (${formatBytes(r.contentBytes)}) into the root-only staging folders while the service kept running; every part and every file matched its hash, and every entry the backup's list of files.${own}`;
  },
};

function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function setAsideName(target: string, id: string): string {
  // The id starts with its own time stamp: its random tail is what tells two restores in one second apart.
  return `${target}.before-restore-${stamp()}-${id.slice(-8)}`;
}

export const swapStep: Step<RestoreCtx> = {
  id: 'swap',
  title: 'Set the current folders aside and move the restored ones in',
  explain: () =>
    `Rename each current folder aside, then rename its staging folder into place. Renames only: nothing is deleted, and a rollback renames them back.`,
  confirm: (c) => ({
    message: 'The folders now in use are set aside (renamed, not deleted) and the restored folders take their place.',
    details: c.store.j.items.flatMap((i) => [`${i.target} → ${i.setAside}`, `${i.staging} → ${i.target}`]),
    action: 'Replace the folders',
  }),
  skip: (c) => (c.store.j.items.length === 0 ? 'The backup holds no folders to swap.' : null),
  async run(c) {
    const j = c.store.j;
    // Before anything is renamed, each work folder still to move from is opened and judged root's own (0700) on
    // its descriptor, and its staging folders are moved in through that descriptor: an account that may write
    // beside the targets can rename the work folder away and put its own by that name (the restore waits at the
    // confirmation for as long as the technician takes), but what is moved in is what the restore staged.
    const held = new Map<string, number>();
    try {
      for (const i of j.items) {
        const d = workDirOf(i);
        if (renameDone(j, i.id, 'move-in') || held.has(d)) continue;
        let fd: number | null;
        try {
          fd = await openWorkDir(d, { make: 'nothing', parentId: i.parentId });
        } catch (e) {
          throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? stagingMissing(i) : e;
        }
        if (fd === null) throw stagingMissing(i);
        held.set(d, fd);
      }
      return await swapItems(c, held);
    } finally {
      releaseWorkDirs(held);
    }
  },
};

function stagingMissing(i: ItemPlan): RecoveryError {
  return new RecoveryError('INTERNAL', `The staging folder ${i.staging} is missing, so ${i.target} cannot be filled.`, {
    hint: 'Roll back, then start the restore again.',
  });
}

/**
 * `p` (a target, or its set-aside name: beside the work folder) in the folder holding the work folder held for `i`,
 * as the kernel holds it (/proc/self/fd/<n>/..), not by the path's folders again: an account that owns a folder above
 * the targets' parent can move that parent aside and put a link by its name to a root-only folder once the work folder
 * is judged; by path, root set aside (and later deleted) that folder's entry named like the target and moved the
 * restored folder, the product account's, in there. Linux; elsewhere, or with no work folder held, the path.
 */
export function besideWorkDir(held: Map<string, number>, i: ItemPlan, p: string): string {
  const fd = workDirFd(held, workDirOf(i));
  if (process.platform !== 'linux' || fd === undefined) return p;
  if (path.dirname(p) !== path.dirname(workDirOf(i)))
    throw new RecoveryError('INTERNAL', `${p} is not beside the work folder ${workDirOf(i)}.`);
  return `${procFdPath(fd)}/../${path.basename(p)}`;
}

/** The renames of the journal `j` made so far, in words (which folder went where, by name). */
function renamesMade(j: RestoreJournal): string[] {
  return j.items.flatMap((x) => {
    const name = path.basename(x.target);
    const did = (p: RenameRecord['purpose']): boolean => renameDone(j, x.id, p);
    return [
      ...(did('set-aside') ? [`${name} was set aside as ${path.basename(x.setAside)}`] : []),
      ...(did('move-in') ? [`the restored ${name} was moved in`] : []),
      ...(did('discard') ? [`the restored ${name} was moved into the work folder to be deleted`] : []),
      ...(did('put-back') ? [`the earlier ${name} was put back`] : []),
    ];
  });
}

/**
 * Stops the swap or the rollback (UNSAFE_PATH) when the path of `i`'s target folder no longer leads to the folder they
 * rename in (the one holding the work folder held): an account that owns a folder above moved it aside and put a link,
 * or a folder of its own, by its name. The message says what was seen, exactly which renames were made (all in the
 * folder held, wherever it is now), that nothing was changed where the path leads now, and what to do. Linux.
 */
export function parentStillThere(
  productName: string,
  j: RestoreJournal,
  held: Map<string, number>,
  i: ItemPlan,
  job: 'restore' | 'rollback',
): void {
  const fd = workDirFd(held, workDirOf(i));
  if (process.platform !== 'linux' || fd === undefined) return;
  const real = parentIdOf(fd);
  const p = path.dirname(i.target);
  const there = statSync(p, { bigint: true, throwIfNoEntry: false });
  if (there !== undefined && String(there.dev) === real.dev && String(there.ino) === real.ino) return;
  // Where the folder held is now (the kernel's name for it), and what the path names instead.
  const now = path.dirname(readlinkSync(procFdPath(fd)));
  const seen = whatIsThereNow(p);
  const done = renamesMade(j);
  const changed =
    done.length === 0
      ? `Nothing of ${productName} was changed: no folder was renamed.`
      : `The folders were renamed only in the folder the ${job} had checked, now at ${now}: ${done.join('; ')}. Nothing else was renamed, and nothing where ${p} leads now was changed.`;
  const then =
    job === 'restore'
      ? {
          cli: 'roll back (edge-recovery rollback) to put the earlier folders back, or resume to finish the restore',
          ui: 'roll back or resume the restore from the start screen',
        }
      : {
          cli: 'run the rollback again (edge-recovery rollback) to finish putting the folders back',
          ui: 'run the rollback again from the start screen',
        };
  const hint = (what: string): string => movedBackHint(p, now, what);
  throw new RecoveryError(
    'UNSAFE_PATH',
    `${p} is no longer the folder the ${job} renames the folders in: it was moved to ${now} while the ${job} ran, and ${seen}. ${changed} ${productName} stays stopped.`,
    { hint: hint(then.cli), ui: { hint: hint(then.ui) }, details: { path: p, movedTo: now } },
  );
}

/** The swap's renames, each staging folder moved in through its work folder's descriptor in `held`. */
async function swapItems(c: RestoreCtx, held: Map<string, number>): Promise<string> {
  const j = c.store.j;
  const lines: string[] = [];
  for (const i of j.items) {
    parentStillThere(c.profile.productName, j, held, i, 'restore');
    if (i.hadOriginal === null) {
      if (renameDone(j, i.id, 'set-aside')) i.hadOriginal = true;
      else if (await exists(besideWorkDir(held, i, i.target))) {
        await journaledRename(
          c.store,
          { from: i.target, to: i.setAside, purpose: 'set-aside', itemId: i.id },
          besideWorkDir(held, i, i.target),
          besideWorkDir(held, i, i.setAside),
        );
        i.hadOriginal = true;
        // What "edge-recovery finish" may delete later: this folder, not another put by its name meanwhile.
        const st = lstatSync(besideWorkDir(held, i, i.setAside), { bigint: true });
        i.setAsideId = { dev: String(st.dev), ino: String(st.ino) };
      } else i.hadOriginal = false;
      await c.store.save(`set-aside-decided:${i.id}`);
    }
    if (!renameDone(j, i.id, 'move-in')) {
      const from = inWorkDir(held, i.staging);
      if (!(await exists(from))) throw stagingMissing(i);
      // What a rollback may delete from the target later: this folder, not another put by its name meanwhile.
      const st = lstatSync(from, { bigint: true });
      i.restoredId = { dev: String(st.dev), ino: String(st.ino) };
      await journaledRename(
        c.store,
        { from: i.staging, to: i.target, purpose: 'move-in', itemId: i.id },
        from,
        besideWorkDir(held, i, i.target),
      );
    }
    // Moved aside while this item was renamed: the renames happened in the folder held, which no longer is where the
    // target's path leads (the product would start on whatever is there now). Said before anything else is done.
    parentStillThere(c.profile.productName, j, held, i, 'restore');
    const via = i.link !== undefined ? ` (through the link ${i.link}, which is kept)` : '';
    lines.push(
      i.hadOriginal
        ? `${path.basename(i.target)}${via}: the old folder is at ${i.setAside}.`
        : `${path.basename(i.target)}${via}: there was no folder before.`,
    );
  }
  return `The restored folders are in place. ${lines.join(' ')}`;
}

/** Paths that do not hold the policy's owner or modes after they were set: the disk does not keep them. */
function ownersNotKept(
  mismatches: Mismatch[],
  o: Ownership,
  beforeStop: boolean,
  count = mismatches.length,
): RecoveryError {
  const shown = mismatches.slice(0, 10).map((m) => `${m.path}: ${m.problem}`);
  return new RecoveryError(
    'OWNERSHIP_MISMATCH',
    `${countOf(count, 'path')} ${count === 1 ? 'does' : 'do'} not match the ownership policy (${o.user}:${o.group}) after it was applied: ${shown.join('; ')}${
      beforeStop
        ? '. Nothing on this machine was changed: the service kept running and the unpacked copy was deleted.'
        : ''
    }`,
    {
      hint: beforeStop
        ? 'Is the disk mounted without owner support (FAT, exFAT, a network share)? Fix that, then start the restore again.'
        : 'Is the disk mounted without owner support (FAT, exFAT, a network share)? Fix that, then resume.',
      details: { mismatches: mismatches.slice(0, 100) },
    },
  );
}

export const ownershipStep: Step<RestoreCtx> = {
  id: 'ownership',
  title: 'Repair owners and permissions',
  explain: (c) => {
    const o = c.profile.ownership;
    if (!o) return 'The profile sets no ownership policy.';
    return `Every restored file was given to ${o.user}:${o.group} (looked up by name on this machine), folders mode ${o.dirMode.toString(8)}, files ${o.fileMode.toString(8)}${o.exceptions.length ? ` (with ${countOf(o.exceptions.length, 'exception')})` : ''}, as it was unpacked, and checked every path against that policy in the staging folders before the stop; now check the restored folders in place.`;
  },
  skip: (c) =>
    process.platform === 'win32'
      ? 'Windows: the folders inherit their permissions from their parent; nothing to repair.'
      : c.profile.ownership === undefined
        ? 'The profile sets no ownership policy.'
        : c.store.j.items.length === 0
          ? 'The backup holds no folders.'
          : null,
  async run(c, s) {
    const o = c.profile.ownership!;
    const targets = c.store.j.items.map((i) => ({ id: i.id, path: i.target }));
    // Owners and modes were applied on each descriptor at extraction, in root-only staging, before the
    // swap; nothing is changed by path here (a path can be swapped for a link by the service account).
    crashPoint('ownership:before-check');
    if (c.store.j.facts.checkedInStaging === true) {
      // Every path was checked in staging, where only root could reach it, and the swap only renamed the folders:
      // here the folders in place are looked at (what the renames produced), not the whole tree again.
      const ids = ownerIds(o);
      const policy = compilePolicy(o);
      const wrong: Mismatch[] = [];
      for (const t of targets) {
        const st = await fsp.lstat(t.path);
        if (!st.isDirectory()) wrong.push({ path: t.path, problem: 'not a folder' });
        else judgeOwnership(t.path, t.id, st, ids, policy, o, wrong);
      }
      if (wrong.length > 0) throw ownersNotKept(wrong, o, false);
      return `All ${c.store.j.facts.checked} paths were checked against the policy (${o.user}:${o.group}, its modes) in the staging folders before the stop; the ${countOf(targets.length, 'restored folder')} in place ${targets.length === 1 ? 'matches' : 'match'} it.`;
    }
    const r = await checkOwnership(targets, o, s.progress, c.signal);
    c.store.j.facts.checked = r.checked;
    if (r.mismatches.length > 0) throw ownersNotKept(r.mismatches, o, false);
    return `${r.checked === 1 ? 'The 1 path is' : `All ${r.checked} paths are`} owned by ${o.user}:${o.group} with the policy's modes (set as they were unpacked).`;
  },
};
