import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toRecoveryError } from '../errors.js';
import { localDeviceId } from '../media/device-id.js';
import { buildReport, renderReportPdf, writePdfs, writeReport, type PdfPlace } from '../report/index.js';
import { cleanTicket, hasTicket } from '../report/ticket.js';
import { writeInDir, type SafeDir } from '../util/atomic-fs.js';
import { openFolderNoForeignLinks } from '../util/no-foreign-links.js';
import type { ReportData, ReportStep } from '../report/types.js';
import { TOOL_VERSION } from '../version.js';
import type { JournalStore } from './journal.js';
import { restoreStepTitles } from './step-titles.js';

export function reportDirsFor(store: JournalStore): string[] {
  const j = store.j;
  return j.options.reportDirs.length > 0
    ? j.options.reportDirs
    : [path.dirname(j.handMade?.file ?? j.backup), path.join(store.stateDir, 'reports')];
}

/** The report's data, from the journal only (so a resumed restore reports the whole run). */
export async function restoreReportData(store: JournalStore, ok = true): Promise<ReportData> {
  const j = store.j;
  const steps: ReportStep[] = restoreStepTitles(j.profile).map(({ id, title, explain, destructive }) => {
    const r = j.steps[id];
    const s: ReportStep = {
      id,
      title,
      explain,
      destructive,
      state: r?.state ?? 'todo',
    };
    if (r?.summary !== undefined) s.summary = r.summary;
    // The report is written by its own step, which is still running at that moment: it is this document. Once
    // done, its summary lists every file written; the report says where it is in its own words instead.
    if (id === 'report' && (s.state === 'running' || s.state === 'done')) {
      s.state = 'done';
      s.summary = 'This report (JSON, HTML and PDF where made), beside the backup and on this machine.';
    }
    // Rewritten by the clean-up step once the technician decided about the old folders.
    if (id === 'finish' && s.state === 'running' && j.oldFolders) {
      s.state = 'done';
      s.summary =
        j.oldFolders.decision === 'deleted'
          ? 'The old folders were deleted, as the technician decided.'
          : 'The old folders were kept, as the technician decided.';
    }
    // Kept at the clean-up step, deleted later at the technician's choice (`finish`, the wizard's question): the
    // step's own words stay true for their moment, and the row says what came after, as the set-aside section does.
    if (
      id === 'finish' &&
      s.state === 'done' &&
      j.oldFolders?.decision === 'deleted' &&
      r?.finishedAt !== undefined &&
      j.oldFolders.at > r.finishedAt
    ) {
      s.summary =
        `${s.summary ?? ''} Deleted afterwards at the technician's explicit choice (${j.oldFolders.at.slice(11, 19)} UTC).`.trim();
    }
    if (r?.error !== undefined)
      s.error = { code: r.error.code, message: r.error.message, ...(r.error.hint ? { hint: r.error.hint } : {}) };
    if (r?.startedAt !== undefined) s.startedAt = r.startedAt;
    if (r?.finishedAt !== undefined) s.finishedAt = r.finishedAt;
    return s;
  });
  const versions: ReportData['versions'] = {};
  if (j.backupFacts?.productVersion) versions.backup = j.backupFacts.productVersion;
  if (j.facts.installedVersion) versions.installedBefore = j.facts.installedVersion;
  if (j.facts.installedAfter) versions.installedAfter = j.facts.installedAfter;
  // The id the compatibility check compared with the backup's (j.facts.thisDeviceId: in practice mode the
  // replacement's own id, for a product that names its own device the product's); this machine's otherwise.
  const dev = j.facts.thisDeviceId
    ? { id: j.facts.thisDeviceId }
    : await localDeviceId().catch(() => ({ id: 'unknown', hostname: os.hostname() }));
  return {
    kind: 'restore',
    ok,
    toolVersion: TOOL_VERSION,
    profile: { id: j.profile.id, productName: j.profile.productName },
    hostname: os.hostname(),
    deviceId: dev.id,
    sourceDeviceId: j.backupFacts?.deviceId ?? null,
    backupPath: j.handMade?.file ?? j.backup,
    ...(j.handMade?.source
      ? {
          source: {
            kind: 'hand-made' as const,
            format: j.handMade.source.format,
            sha256: j.handMade.source.sha256,
            verified: false as const,
            mapping: j.handMade.mapping ?? '',
          },
        }
      : {}),
    startedAt: j.startedAt,
    finishedAt: new Date().toISOString(),
    versions,
    steps,
    files: j.facts.files,
    contentBytes: j.facts.contentBytes,
    ownershipCheck: { checked: j.facts.checked, mismatches: [] },
    credentialsReentered: j.credentials.updated.map((u) => ({
      resourceTitle: u.resourceTitle,
      entryName: u.entryName,
      fields: u.fields,
    })),
    ...(j.credentials.pending.length > 0
      ? { openItems: j.credentials.pending.map((p) => `Credential not entered: ${p}`) }
      : {}),
    ...(j.oldFolders
      ? {
          oldFolders: {
            decision: j.oldFolders.decision,
            paths: j.oldFolders.paths,
            files: j.oldFolders.files,
            bytes: j.oldFolders.bytes,
          },
        }
      : {}),
    ...(j.options.ticket && hasTicket(j.options.ticket) ? { ticket: cleanTicket(j.options.ticket) } : {}),
    // The open credentials are listed as open items already; the same warning again would only take room.
    notes:
      j.credentials.pending.length > 0 ? j.warnings.filter((w) => !OPEN_CREDENTIALS_WARNING.test(w)) : [...j.warnings],
  };
}

const OPEN_CREDENTIALS_WARNING = /^These entries still need their secrets/;

/**
 * A report folder held open: the stick's (beside the backup) is whoever may write the stick's, who could put a link
 * in place of one of its folders between our checks and the writes (root would then write the report where the link
 * leads), so it is opened without following such a link (UNSAFE_PATH: a warning, the machine's copy is written).
 * The machine's own report folder (in the root-only state folder) is made when missing.
 */
async function openReportDir(store: JournalStore, dir: string): Promise<SafeDir> {
  if (path.resolve(dir) === path.resolve(store.stateDir, 'reports')) {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  return openFolderNoForeignLinks(dir);
}

/** Writes the report to each folder on its own: a read-only stick is a warning, not a failed restore. */
export async function writeRestoreReport(store: JournalStore): Promise<{ written: string[]; warnings: string[] }> {
  const data = await restoreReportData(store);
  const written: string[] = [];
  const warnings: string[] = [];
  const places: PdfPlace[] = [];
  const held: SafeDir[] = [];
  try {
    for (const dir of reportDirsFor(store)) {
      try {
        const d = await openReportDir(store, dir);
        held.push(d);
        // The PDF is made once below, for every folder that took the HTML.
        const files = await writeReport(data, [d], { pdf: null });
        written.push(...files);
        for (const f of files.filter((x) => x.endsWith('.html')))
          places.push({ base: f.slice(0, -'.html'.length), dir: d });
      } catch (e) {
        warnings.push(`The report could not be written to ${dir}: ${toRecoveryError(e, dir).message}`);
      }
    }
    if (places.length > 0) {
      const { html } = buildReport(data);
      const pdf = await renderReportPdf(data, html, { onWarning: (w) => warnings.push(w) });
      if (pdf !== null) written.push(...(await writePdfs(places, pdf, { onWarning: (w) => warnings.push(w) })));
    }
  } finally {
    for (const d of held) await d.close();
  }
  return { written, warnings };
}

/**
 * Writes the report again over the files the report step wrote (same names), after a later decision (old
 * folders deleted or kept, credentials entered): a ticket gets one report, and it is the last word. Through each
 * folder opened as in writeRestoreReport, never by the stick's path.
 */
export async function rewriteRestoreReport(store: JournalStore): Promise<string[]> {
  const html = store.j.reports.filter((r) => r.endsWith('.html'));
  if (html.length === 0) return [];
  const data = await restoreReportData(store);
  const { json, html: page } = buildReport(data);
  const written: string[] = [];
  const places: PdfPlace[] = [];
  const held: SafeDir[] = [];
  try {
    for (const h of html) {
      const base = h.slice(0, -'.html'.length);
      try {
        const d = await openReportDir(store, path.dirname(h));
        held.push(d);
        // 0600 like the first writing: the report names machines, folders and accounts.
        await writeInDir(d, `${path.basename(base)}.json`, json, 0o600);
        await writeInDir(d, path.basename(h), page, 0o600);
        written.push(`${base}.json`, h);
        places.push({ base, dir: d });
      } catch {
        // A stick that is gone keeps the earlier report; the machine's copy is rewritten.
      }
    }
    if (places.length > 0) {
      const pdf = await renderReportPdf(data, page);
      if (pdf !== null) written.push(...(await writePdfs(places, pdf)));
    }
  } finally {
    for (const d of held) await d.close();
  }
  // The journal lists every file of the report (a PDF made only now included).
  for (const f of written) if (!store.j.reports.includes(f)) store.j.reports.push(f);
  return written;
}
