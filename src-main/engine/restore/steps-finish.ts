import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import type { CredentialResource } from '../profiles/schema.js';
import type { Step } from '../runbook/runner.js';
import type { CredentialEntry } from '../runbook/types.js';
import { byHand, waitHealthy, type RestoreCtx } from './context.js';
import { crashPoint } from './crash-point.js';
import { reportFilesText } from '../report/saved-at.js';
import { rewriteRestoreReport, writeRestoreReport } from './restore-report.js';
import { formatBytes } from '../progress.js';
import { discardInto, removeTreeNoFollow } from '../util/safe-delete.js';
import { holdWorkDirs, releaseWorkDirs, removeStaging, removeWorkDirs, workDirFd, workDirOf } from './steps-swap.js';
import { removeWork } from '../runbook/product/product-steps.js';
import { sizeTrees } from '../archive/index.js';

export const startStep: Step<RestoreCtx> = {
  id: 'start-service',
  title: 'Start the service',
  explain: (c) =>
    `Start ${c.service.label} on the restored folders and wait until it runs and its API answers healthy.`,
  async run(c) {
    if ((await c.service.status()).state !== 'running') await c.service.start();
    crashPoint('start:started');
    const health = await waitHealthy(c);
    return byHand(c.profile) ? `Started by hand (confirmed by the technician). ${health}` : health;
  },
};

function entryLabel(e: CredentialEntry): string {
  return `${e.resourceTitle}: ${e.entryName}`;
}

export const credentialsStep: Step<RestoreCtx> = {
  id: 'credentials',
  title: 'Enter the credentials again',
  explain: (c) =>
    `Secrets from the old machine cannot be decrypted here. Ask ${c.profile.productName} which entries (${c.profile.credentials.map((r) => r.title).join(', ')}) need their secrets typed in again, and send them through its API. The values are never logged or saved by this tool.`,
  skip: (c) =>
    c.profile.credentials.length === 0
      ? 'The profile lists no credentials.'
      : c.api === null
        ? 'The profile has no API to re-enter credentials through.'
        : null,
  async run(c, s) {
    const j = c.store.j;
    const api = c.api!;
    const found: Array<{ resource: CredentialResource; entry: CredentialEntry }> = [];
    // Resources by installed version (EDS 1.0 PeriodicEgressEndpoints, 1.1 EgressEndpoints, HealthEndpoints,
    // each OPC UA adapter's DataSource); a version-bound resource the product does not have answers 404.
    const installed = await api.productVersion().catch(() => j.facts.installedVersion);
    for (const r of c.profile.credentials) {
      for (const x of await api.expand(r, installed)) {
        if (x.skipped !== undefined) continue;
        for (const entry of await api.credentialEntries(x.resource, x.objectId))
          found.push({ resource: x.resource, entry });
      }
    }
    // Entries updated before a crash no longer report "undecryptable", so they are not asked again.
    if (found.length === 0) {
      j.credentials.pending = [];
      return j.credentials.updated.length > 0
        ? `All credentials are set (${j.credentials.updated.map((u) => `${u.resourceTitle}: ${u.entryName}`).join(', ')}).`
        : 'No credential needs to be entered again.';
    }
    const values = await s.interaction.credentials({ stepId: 'credentials', entries: found.map((f) => f.entry) });
    if (values === null) {
      j.credentials.pending = found.map((f) => entryLabel(f.entry));
      const msg = `These entries still need their secrets: ${j.credentials.pending.join(', ')}. Enter them later with this tool, or in ${c.profile.productName}'s own tools.`;
      j.warnings.push(msg);
      s.log(msg, 'warn');
      return { summary: `Not entered (no values were given). ${msg}`, open: j.credentials.pending };
    }
    const pending: string[] = [];
    let n = 0;
    for (const f of found) {
      const v = values[f.entry.key];
      if (v === undefined) {
        pending.push(entryLabel(f.entry));
        continue;
      }
      try {
        await api.applyCredentials(f.resource, f.entry, v);
      } catch (e) {
        throw toRecoveryError(e, `${entryLabel(f.entry)}`);
      }
      j.credentials.updated = j.credentials.updated.filter((u) => u.key !== f.entry.key);
      j.credentials.updated.push({
        key: f.entry.key,
        resourceTitle: f.entry.resourceTitle,
        entryName: f.entry.entryName,
        fields: f.entry.fields.map((x) => x.name),
      });
      n++;
      await c.store.save(`credential:${n}`);
    }
    j.credentials.pending = pending;
    if (pending.length > 0) {
      const msg = `These entries still need their secrets: ${pending.join(', ')}.`;
      j.warnings.push(msg);
      s.log(msg, 'warn');
    }
    return {
      summary: `Updated ${n} entr${n === 1 ? 'y' : 'ies'}: ${found
        .filter((f) => values[f.entry.key] !== undefined)
        .map((f) => entryLabel(f.entry))
        .join(', ')}.${pending.length ? ` Still waiting: ${pending.join(', ')}.` : ''}`,
      open: pending,
    };
  },
};

export const restartStep: Step<RestoreCtx> = {
  id: 'restart',
  title: 'Restart and check health',
  explain: (c) =>
    `Restart ${c.service.label} so it reads the new credentials from a fresh start, and check its health again.`,
  // Only credentials re-entered make a restart worth its time: the start above already ran the product on the
  // restored folders and checked its health (a product such as StackState may take minutes to stop and start).
  skip: (c) =>
    c.profile.credentials.length > 0
      ? // Skipped ("I will enter them later") or none asked: nothing new to read, the start above was checked. It
        // restarted anyway, for nothing (a product such as StackState down for minutes more).
        c.store.j.credentials.updated.length > 0
        ? null
        : `No credential was entered, so ${c.profile.productName} is not restarted: it already runs on the restored folders (started and found healthy by the restore).${c.store.j.credentials.pending.length > 0 ? ' Entering the open ones later restarts it.' : ''}`
      : !c.profile.stopService.includes('restore')
        ? `${c.profile.productName} restored itself while running and no credential was re-entered: no restart is needed.`
        : `No credential is re-entered for ${c.profile.productName}: it was started on the restored folders and found healthy above, so it is not restarted.`,
  async run(c) {
    await c.service.stop();
    await c.service.waitFor('stopped', c.profile.service.stopTimeoutSeconds * 1000, c.signal);
    crashPoint('restart:stopped');
    await c.service.start();
    const health = await waitHealthy(c);
    if (c.api !== null) c.store.j.facts.installedAfter = await c.api.productVersion().catch(() => null);
    return health;
  },
};

export const reportStep: Step<RestoreCtx> = {
  id: 'report',
  title: 'Write the recovery report',
  explain: () =>
    'Write the recovery report (JSON, HTML and a PDF where this machine can make one; no secrets) beside the backup on the medium and on this machine.',
  async run(c, s) {
    crashPoint('report:before');
    const r = await writeRestoreReport(c.store);
    for (const w of r.warnings) {
      c.store.j.warnings.push(w);
      s.log(w, 'warn');
    }
    c.store.j.reports = r.written;
    if (r.written.length === 0)
      throw new RecoveryError('INTERNAL', `The report could not be written anywhere: ${r.warnings.join(' ')}`);
    return `Report written ${reportFilesText(r.written, path.join(c.store.stateDir, 'reports'))}.`;
  },
};

/** The folders the restore set aside that are still there, with their size (what deleting them frees). */
export async function setAsideFolders(
  c: Pick<RestoreCtx, 'store'>,
): Promise<{ paths: string[]; files: number; bytes: number }> {
  const out = { paths: [] as string[], files: 0, bytes: 0 };
  for (const i of c.store.j.items) {
    if (!i.hadOriginal) continue;
    // Sized on a worker thread: a set-aside Storage folder can hold many thousands of files, and this runs
    // inside the wizard's host (serve, Electron main), whose event loop must keep answering the page.
    const t = (await sizeTrees([i.setAside]))[0]!;
    if (!t.exists) continue;
    out.paths.push(i.setAside);
    out.files += t.files;
    out.bytes += t.bytes;
  }
  return out;
}

export function oldFoldersWords(f: { files: number; bytes: number }): string {
  return `${f.files.toLocaleString('en-US')} file${f.files === 1 ? '' : 's'}, ${formatBytes(f.bytes)}`;
}

/** Deletes the set-aside folders; from the first deletion on, the restore can no longer be rolled back. */
export async function deleteSetAside(c: Pick<RestoreCtx, 'store'>): Promise<string[]> {
  const j = c.store.j;
  // The work folders, judged root's own on their descriptors before the deletion is decided and used only through
  // them: an account that may write beside the targets can put its own folder by a work folder's name, but it
  // neither receives a set-aside folder nor stops the deletion.
  const held = await holdWorkDirs(j.items);
  try {
    if (j.status !== 'committing' && j.status !== 'finished') {
      j.status = 'committing';
      await c.store.save('committing');
    }
    const removed: string[] = [];
    for (const i of j.items) {
      if (i.hadOriginal) {
        // The service (its own account) runs again: a recursive delete by path could be redirected through a
        // folder swapped for a link. Renamed into the root-only work folder first, then deleted by descriptor.
        discardInto(workDirOf(i), i.setAside, `trash-${i.id}`, workDirFd(held, workDirOf(i)), i.setAsideId);
        removed.push(i.setAside);
        crashPoint(`finish:removed:${i.id}`);
      }
    }
    removeWorkDirs(j.items, held);
    return removed;
  } finally {
    releaseWorkDirs(held);
  }
}

export const finishStep: Step<RestoreCtx> = {
  id: 'finish',
  title: 'Clean up',
  // A deletion once chosen is not stopped (status 'committing': only resume may follow, never a rollback).
  cancel: {
    during:
      'The restore itself is done. Cancelled before you choose, the old folders stay and you can still roll back or resume later; once you chose to delete them, their deletion finishes.',
  },
  explain: (c) =>
    c.store.j.options.keepDefaults
      ? 'Remove leftover staging folders; the set-aside folders are kept (keep-defaults was chosen).'
      : c.store.j.options.deleteOld === true
        ? 'Remove leftover staging folders, then delete the folders the restore set aside (you chose that when the restore started: --delete-old). After that the restore cannot be rolled back.'
        : 'Remove leftover staging folders, then ask you one last time: delete the folders the restore set aside, or keep them. Until you delete them, nothing of the old state is lost.',
  async run(c, s) {
    const j = c.store.j;
    for (const i of j.items) removeStaging(i);
    await removeWork(c.product);
    // The copy made of a hand-made archive has served; the archive itself stays where it was.
    if (j.handMade) removeTreeNoFollow(j.backup);
    // A crash while deleting: the decision was made, finish the deletion without asking again.
    const decided = j.status === 'committing';
    const old = await setAsideFolders(c);
    if (old.paths.length === 0 && !decided) return 'There were no earlier folders to delete.';
    let remove = decided;
    if (!decided && !j.options.keepDefaults && j.options.deleteOld === true) remove = true;
    else if (!decided && !j.options.keepDefaults) {
      remove = await s.interaction.confirm({
        stepId: 'finish',
        title: 'Everything works? Delete the old folders',
        message: `The restored ${c.profile.productName} runs. The folders it replaced are still here (${oldFoldersWords(old)}). Delete them now, or keep them: kept folders can be deleted later with "edge-recovery finish". Once deleted, the restore cannot be rolled back.`,
        ui: {
          message: `The restored ${c.profile.productName} runs. The folders it replaced are still here (${oldFoldersWords(old)}). Delete them now, or keep them: kept folders can be deleted later from the wizard's start screen. Once deleted, the restore cannot be rolled back.`,
        },
        details: old.paths,
        action: `Delete the old folders (${oldFoldersWords(old)})`,
        decline: 'Keep them for now',
        // Set-aside folders go only by the technician's own choice: never by a script's blanket --yes.
        explicitOnly: {
          how: 'restore --delete-old deletes them at the end without asking; "edge-recovery finish" deletes them later',
        },
      });
    }
    if (!remove) {
      removeWorkDirs(j.items);
      j.oldFolders = { decision: 'kept', at: new Date().toISOString(), ...old };
      await c.store.save('old-folders-kept');
      await rewriteReport(c);
      return `Kept the old folders (${oldFoldersWords(old)}): ${old.paths.join(', ')}.`;
    }
    const removed = await deleteSetAside(c);
    j.oldFolders = {
      decision: 'deleted',
      at: new Date().toISOString(),
      paths: removed,
      files: old.files,
      bytes: old.bytes,
    };
    await c.store.save('old-folders-deleted');
    await rewriteReport(c);
    return removed.length > 0
      ? `Deleted the old folders (${oldFoldersWords(old)}): ${removed.join(', ')}.`
      : 'There were no earlier folders to delete.';
  },
};

/** The report written before the last decision is rewritten in place so it says what was decided. */
async function rewriteReport(c: RestoreCtx): Promise<void> {
  try {
    await rewriteRestoreReport(c.store);
  } catch {
    // The decision is in the journal; a stick pulled after the report was written must not fail the restore.
  }
}
