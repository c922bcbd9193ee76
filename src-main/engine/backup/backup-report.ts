import os from 'node:os';
import path from 'node:path';
import { toRecoveryError } from '../errors.js';
import { formatBytes } from '../progress.js';
import {
  buildReport,
  renderReportPdf,
  writePdfs,
  writeReport,
  type PdfPlace,
  type ReportData,
  type ReportStep,
} from '../report/index.js';
import { savedPlaces, type SavedReport } from '../report/saved-at.js';
import { cleanTicket, hasTicket, type TicketFields } from '../report/ticket.js';
import type { StepInfo } from '../runbook/types.js';
import { TOOL_VERSION } from '../version.js';
import type { BackupManifest } from './manifest.js';
import type { SafeDir } from '../util/atomic-fs.js';

export interface BackupReportInput {
  manifest: BackupManifest;
  setDir: string;
  /** The set's device folder on the stick, held open by the backup: the report goes in through it. */
  deviceFolder?: SafeDir;
  stateDir: string;
  steps: StepInfo[];
  times: Map<string, { startedAt?: string; finishedAt?: string }>;
  startedAt: string;
  warnings: string[];
  removedOld: string[];
  ticket?: TicketFields;
}

/** The report's data: the same device id and version the manifest records (what a restore checks against). */
export function backupReportData(b: BackupReportInput): ReportData {
  const m = b.manifest;
  const steps: ReportStep[] = b.steps.map((s) => {
    const t = b.times.get(s.id) ?? {};
    const out: ReportStep = { ...s };
    if (t.startedAt) out.startedAt = t.startedAt;
    if (t.finishedAt) out.finishedAt = t.finishedAt;
    return out;
  });
  const parts = m.archive.parts.length;
  const notes = [
    `Archive: ${parts} part${parts === 1 ? '' : 's'}, ${formatBytes(m.archive.parts.reduce((a, p) => a + p.size, 0))}, ${
      m.archive.encryption ? 'encrypted with a passphrase (age)' : 'not encrypted'
    }; every part and file checked against its SHA-256 after writing.`,
    `Items: ${m.items.map((i) => `${i.id} (${i.path})`).join(', ')}.`,
    ...(b.removedOld.length > 0
      ? [`Older backups removed by retention: ${b.removedOld.map((d) => path.basename(d)).join(', ')}.`]
      : []),
    ...b.warnings,
  ];
  return {
    kind: 'backup',
    ok: true,
    toolVersion: TOOL_VERSION,
    profile: { id: m.profile.id, productName: m.profile.productName },
    hostname: m.hostname || os.hostname(),
    deviceId: m.deviceId,
    sourceDeviceId: null,
    backupPath: b.setDir,
    startedAt: b.startedAt,
    finishedAt: new Date().toISOString(),
    versions: m.productVersion ? { backup: m.productVersion } : {},
    steps,
    files: m.files,
    contentBytes: m.contentBytes,
    ownershipCheck: { checked: 0, mismatches: [] },
    credentialsReentered: [],
    ...(b.ticket && hasTicket(cleanTicket(b.ticket)) ? { ticket: cleanTicket(b.ticket) } : {}),
    notes,
  };
}

/**
 * Writes the backup report beside the set on the stick (in the device's folder, like a restore's report) and in
 * this machine's report folder. The backup is already verified: a report that cannot be written is a warning.
 */
export async function writeBackupReport(
  b: BackupReportInput,
  warn: (message: string) => void,
): Promise<{ written: string[]; saved: SavedReport[] }> {
  const data = backupReportData(b);
  const machineDir = path.join(b.stateDir, 'reports');
  const written: string[] = [];
  const bases: PdfPlace[] = [];
  // On the stick, through the device folder the backup holds (another account may swap its path for a link).
  for (const place of [b.deviceFolder ?? path.dirname(b.setDir), machineDir]) {
    const dir = typeof place === 'string' ? place : place.dir;
    try {
      const files = await writeReport(data, [place], { pdf: null });
      written.push(...files);
      for (const f of files.filter((x) => x.endsWith('.html'))) {
        bases.push({ base: f.slice(0, -'.html'.length), ...(typeof place === 'string' ? {} : { dir: place }) });
      }
    } catch (e) {
      warn(`The backup report could not be written to ${dir}: ${toRecoveryError(e, dir).message}`);
    }
  }
  if (bases.length > 0) {
    const pdf = await renderReportPdf(data, buildReport(data).html, { onWarning: warn });
    if (pdf !== null) written.push(...(await writePdfs(bases, pdf, { onWarning: warn })));
  }
  return { written, saved: await savedPlaces(written, machineDir).catch(() => []) };
}
