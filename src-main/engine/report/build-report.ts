import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { SafeDir, writeFileAtomic, writeInDir } from '../util/atomic-fs.js';
import { normalizeReport } from './normalize.js';
import { pdfRequest, reportPdfPrinter, type PaperSize, type PdfPrinter } from './pdf.js';
import { renderReportHtml } from './render-html.js';
import type { ReportData } from './types.js';
import { countOf } from '../progress.js';

/** Bumped when the JSON layout changes incompatibly. */
export const REPORT_FORMAT = 1;

export function buildReport(data: ReportData): { json: string; html: string } {
  const d = normalizeReport(data);
  return {
    json: JSON.stringify({ reportFormat: REPORT_FORMAT, ...d }, null, 2) + '\n',
    html: renderReportHtml(d),
  };
}

/** `20261121_221530Z` from an ISO time; the current time when it does not parse. */
export function utcStamp(iso: string): string {
  const t = Date.parse(iso);
  const s = new Date(Number.isFinite(t) ? t : Date.now()).toISOString();
  return `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)}_${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`;
}

async function freeBase(d: SafeDir, base: string): Promise<string> {
  // Two runs finishing in the same second must not overwrite each other's report.
  for (let n = 1; ; n += 1) {
    const b = n === 1 ? base : `${base}-${n}`;
    const taken = await Promise.all(['json', 'html', 'pdf'].map((x) => d.lstat(`${b}.${x}`)));
    if (taken.every((t) => t === null)) return b;
  }
}

/**
 * A folder where someone planted links named like our reports (e.g. one for every second a restore might
 * finish) is refused: whatever they point at, we do not write among them.
 */
async function refusePlantedLinks(d: SafeDir): Promise<void> {
  const planted: string[] = [];
  for (const n of await d.readdir()) {
    if (!n.startsWith('report-') && !n.startsWith('.report-')) continue;
    if ((await d.lstat(n))?.isSymbolicLink()) planted.push(n);
  }
  if (planted.length > 0) {
    throw new RecoveryError(
      'UNSAFE_PATH',
      `${d.dir} holds ${countOf(planted.length, 'link')} named like reports (e.g. ${planted[0]}): nothing was written there.`,
      {
        hint: 'Someone planted links on this medium. Check where they point, remove them, and keep the report from the other folder.',
        details: { path: d.dir, links: planted.slice(0, 20) },
      },
    );
  }
}

export interface WriteReportOptions {
  /** Makes the PDF beside each HTML; default: the printer the host configured (setReportPdfPrinter), if any. */
  pdf?: PdfPrinter | null;
  paper?: PaperSize;
  /** Told when the PDF could not be made or written (the HTML and JSON are there; it never fails the job). */
  onWarning?: (message: string) => void;
}

/**
 * The PDF of a report page, or null with a warning: a missing or failing Chromium never fails a restore.
 */
export async function renderReportPdf(
  data: ReportData,
  html: string,
  opts: WriteReportOptions = {},
): Promise<Uint8Array | null> {
  const printer = opts.pdf === undefined ? reportPdfPrinter() : opts.pdf;
  if (printer === null) return null;
  try {
    return await printer(pdfRequest(normalizeReport(data), html, opts.paper ?? 'A4'));
  } catch (e) {
    opts.onWarning?.(
      `The PDF of the report could not be made (${toRecoveryError(e).message}); open the HTML report and print it to PDF.`,
    );
    return null;
  }
}

/**
 * Writes the report as `report-<kind>-<UTC stamp>.json`, `.html` and (with a PDF printer) `.pdf` into every folder
 * (usually the stick's backup folder and the machine's own log folder), each durably (partial, fsync, rename),
 * 0600. Every folder is attempted; if any failed, throws after the others were written, with the written paths
 * in `details.written`. The PDF is made once, after the HTML and JSON are safe everywhere.
 */
export async function writeReport(
  data: ReportData,
  dirs: Array<string | SafeDir>,
  opts: WriteReportOptions = {},
): Promise<string[]> {
  if (dirs.length === 0) throw new RecoveryError('BAD_INPUT', 'No folder was given for the recovery report.');
  const { json, html } = buildReport(data);
  const base = `report-${data.kind}-${utcStamp(data.finishedAt)}`;
  const written: string[] = [];
  const bases: PdfPlace[] = [];
  const failed: { dir: string; error: RecoveryError }[] = [];
  for (const place of dirs) {
    // A folder the caller holds open (a stick's device folder) is written through its descriptor, never its path.
    const held = typeof place === 'string' ? null : place;
    const dir = held === null ? (place as string) : held.dir;
    try {
      if (held === null) await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      const d = held ?? (await SafeDir.open(dir));
      try {
        await refusePlantedLinks(d);
        const b = await freeBase(d, base);
        // 0600: a report travels on the stick and names machines, folders and accounts.
        await writeInDir(d, `${b}.json`, json, 0o600);
        written.push(path.join(dir, `${b}.json`));
        await writeInDir(d, `${b}.html`, html, 0o600);
        written.push(path.join(dir, `${b}.html`));
        bases.push({ base: path.join(dir, b), ...(held !== null ? { dir: held } : {}) });
      } finally {
        if (held === null) await d.close();
      }
    } catch (e) {
      failed.push({ dir, error: toRecoveryError(e, dir) });
    }
  }
  if (bases.length > 0) {
    const pdf = await renderReportPdf(data, html, opts);
    if (pdf !== null) written.push(...(await writePdfs(bases, pdf, opts)));
  }
  const first = failed[0];
  if (first !== undefined) {
    throw new RecoveryError(
      first.error.code,
      `The recovery report could not be written to ${failed.map((f) => f.dir).join(', ')}: ${first.error.message}`,
      {
        hint: written.length > 0 ? `It was written to ${written.join(', ')}.` : first.error.hint,
        details: { written, failed: failed.map((f) => f.dir) },
        cause: first.error,
      },
    );
  }
  return written;
}

/** Where a PDF goes: `<base>.pdf`, through `dir` when the caller holds that folder open. */
export interface PdfPlace {
  base: string;
  dir?: SafeDir;
}

/** `<base>.pdf` beside each `<base>.html` (replacing an earlier PDF of the same report); the paths written. */
export async function writePdfs(
  bases: Array<string | PdfPlace>,
  pdf: Uint8Array,
  opts: WriteReportOptions = {},
): Promise<string[]> {
  const out: string[] = [];
  for (const place of bases) {
    const { base: b, dir } = typeof place === 'string' ? { base: place, dir: undefined } : place;
    try {
      if (dir !== undefined) await writeInDir(dir, `${path.basename(b)}.pdf`, pdf, 0o600);
      else await writeFileAtomic(`${b}.pdf`, pdf, 0o600);
      out.push(`${b}.pdf`);
    } catch (e) {
      opts.onWarning?.(`The PDF could not be written beside ${b}.html: ${toRecoveryError(e, b).message}`);
    }
  }
  return out;
}
