import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { exists, writeFileAtomic } from '../util/atomic-fs.js';
import { normalizeReport } from './normalize.js';
import { renderReportHtml } from './render-html.js';
import type { ReportData } from './types.js';

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

async function freeBase(dir: string, base: string): Promise<string> {
  // Two runs finishing in the same second must not overwrite each other's report.
  for (let n = 1; ; n += 1) {
    const b = n === 1 ? base : `${base}-${n}`;
    if (!(await exists(path.join(dir, `${b}.json`))) && !(await exists(path.join(dir, `${b}.html`)))) return b;
  }
}

/**
 * Writes the report as `report-<kind>-<UTC stamp>.json` and `.html` into every folder (usually the
 * stick's backup folder and the machine's own log folder), each durably (partial, fsync, rename).
 * Every folder is attempted; if any failed, throws after the others were written, with the
 * written paths in `details.written`.
 */
export async function writeReport(data: ReportData, dirs: string[]): Promise<string[]> {
  if (dirs.length === 0) throw new RecoveryError('BAD_INPUT', 'No folder was given for the recovery report.');
  const { json, html } = buildReport(data);
  const base = `report-${data.kind}-${utcStamp(data.finishedAt)}`;
  const written: string[] = [];
  const failed: { dir: string; error: RecoveryError }[] = [];
  for (const dir of dirs) {
    try {
      await fsp.mkdir(dir, { recursive: true });
      const b = await freeBase(dir, base);
      const jsonPath = path.join(dir, `${b}.json`);
      const htmlPath = path.join(dir, `${b}.html`);
      await writeFileAtomic(jsonPath, json);
      written.push(jsonPath);
      await writeFileAtomic(htmlPath, html);
      written.push(htmlPath);
    } catch (e) {
      failed.push({ dir, error: toRecoveryError(e, dir) });
    }
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
