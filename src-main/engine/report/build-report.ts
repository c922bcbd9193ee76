import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { SafeDir, writeInDir } from '../util/atomic-fs.js';
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

async function freeBase(d: SafeDir, base: string): Promise<string> {
  // Two runs finishing in the same second must not overwrite each other's report.
  for (let n = 1; ; n += 1) {
    const b = n === 1 ? base : `${base}-${n}`;
    if ((await d.lstat(`${b}.json`)) === null && (await d.lstat(`${b}.html`)) === null) return b;
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
      `${d.dir} holds ${planted.length} link(s) named like reports (e.g. ${planted[0]}): nothing was written there.`,
      {
        hint: 'Someone planted links on this medium. Check where they point, remove them, and keep the report from the other folder.',
        details: { path: d.dir, links: planted.slice(0, 20) },
      },
    );
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
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      const d = await SafeDir.open(dir);
      try {
        await refusePlantedLinks(d);
        const b = await freeBase(d, base);
        // 0600: a report travels on the stick and names machines, folders and accounts.
        await writeInDir(d, `${b}.json`, json, 0o600);
        written.push(path.join(dir, `${b}.json`));
        await writeInDir(d, `${b}.html`, html, 0o600);
        written.push(path.join(dir, `${b}.html`));
      } finally {
        await d.close();
      }
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
