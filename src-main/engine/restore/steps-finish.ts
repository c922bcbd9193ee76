import { RecoveryError, toRecoveryError } from '../errors.js';
import type { CredentialResource } from '../profiles/schema.js';
import type { Step } from '../runbook/runner.js';
import type { CredentialEntry } from '../runbook/types.js';
import { byHand, waitHealthy, type RestoreCtx } from './context.js';
import { crashPoint } from './crash-point.js';
import { writeRestoreReport } from './restore-report.js';
import { discardInto, removeTreeNoFollow } from '../util/safe-delete.js';
import { removeWorkDirs, workDirOf } from './steps-swap.js';
import { removeWork } from '../runbook/product/product-steps.js';

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
      const msg = `These entries still need their secrets: ${j.credentials.pending.join(', ')}. Enter them in ${c.profile.productName}'s own tools, or resume here.`;
      j.warnings.push(msg);
      s.log(msg, 'warn');
      return `Not entered (no values were given). ${msg}`;
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
    return `Updated ${n} entr${n === 1 ? 'y' : 'ies'}: ${found
      .filter((f) => values[f.entry.key] !== undefined)
      .map((f) => entryLabel(f.entry))
      .join(', ')}.${pending.length ? ` Still waiting: ${pending.join(', ')}.` : ''}`;
  },
};

export const restartStep: Step<RestoreCtx> = {
  id: 'restart',
  title: 'Restart and check health',
  explain: (c) =>
    `Restart ${c.service.label} so it reads the new credentials from a fresh start, and check its health again.`,
  skip: (c) =>
    c.profile.credentials.length === 0 && !c.profile.stopService.includes('restore')
      ? `${c.profile.productName} restored itself while running and no credential was re-entered: no restart is needed.`
      : null,
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
    'Write the recovery report (JSON and HTML, no secrets) beside the backup on the medium and on this machine.',
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
    return `Report written: ${r.written.join(', ')}.`;
  },
};

export const finishStep: Step<RestoreCtx> = {
  id: 'finish',
  title: 'Clean up',
  explain: (c) =>
    c.store.j.options.keepDefaults
      ? 'Remove leftover staging folders; the set-aside folders are kept (--keep-defaults).'
      : `Delete the set-aside folders (${
          c.store.j.items
            .filter((i) => i.hadOriginal)
            .map((i) => i.setAside)
            .join(', ') || 'none'
        }) and any leftover staging folder. After this, the restore cannot be rolled back.`,
  async run(c) {
    const j = c.store.j;
    if (j.status !== 'committing') {
      j.status = 'committing';
      await c.store.save('committing');
    }
    const removed: string[] = [];
    for (const i of j.items) {
      if (!j.options.keepDefaults && i.hadOriginal) {
        // The service (its own account) runs again: a recursive delete by path could be redirected through a
        // folder swapped for a link. Renamed into the root-only work folder first, then deleted by descriptor.
        discardInto(workDirOf(i), i.setAside, `trash-${i.id}`);
        removed.push(i.setAside);
        crashPoint(`finish:removed:${i.id}`);
      }
      removeTreeNoFollow(i.staging);
    }
    removeWorkDirs(j.items);
    await removeWork(c.product);
    // The copy made of a hand-made archive has served; the archive itself stays where it was.
    if (j.handMade) removeTreeNoFollow(j.backup);
    return j.options.keepDefaults
      ? `Kept the earlier folders: ${
          j.items
            .filter((i) => i.hadOriginal)
            .map((i) => i.setAside)
            .join(', ') || 'none'
        }.`
      : removed.length > 0
        ? `Deleted the set-aside folders ${removed.join(', ')}.`
        : 'There were no earlier folders to delete.';
  },
};
