import { formatBytes } from '../../shared/size.js';
import type { ReportData, ReportStep } from './types.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Past this many, the HTML lists the first ones and says how many more; the JSON has them all. */
const MAX_MISMATCH_ROWS = 200;

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1b1f24;margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:1.75rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.result{display:inline-block;font-weight:700;padding:.15rem .6rem;border-radius:.3rem;border:2px solid}
.ok{color:#0a5c2b;border-color:#0a5c2b;background:#e6f4ea}
.failed{color:#8a1116;border-color:#8a1116;background:#fdecea}
.open{color:#6b4500;border-color:#8a5a00;background:#fff4e0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #e4e8ec}
th{font-weight:600;background:#f4f6f8}
dl{margin:0}
dd{margin:0}
.facts{display:grid;grid-template-columns:1fr 1fr;column-gap:1.5rem}
.fact{display:grid;grid-template-columns:10rem 1fr;column-gap:.5rem;padding:.25rem 0;border-bottom:1px solid #e4e8ec;break-inside:avoid}
.fact.wide{grid-column:1/-1}
.fact dt{font-weight:600}
dl.ticket{display:grid;grid-template-columns:repeat(3,auto);justify-content:start;column-gap:2rem;margin:.5rem 0 0}
dl.ticket .fact{grid-template-columns:auto auto;border:0;padding:0}
dl.ticket dd{font-weight:600}
.step-summary::before{content:"— ";color:#57606a}
td.path,td.mono,dd.path,dd.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;word-break:break-all}
.ts,td.when{white-space:nowrap;word-break:normal;font-variant-numeric:tabular-nums}
.state{font-weight:600;white-space:nowrap}
.state-done{color:#0a5c2b}.state-failed{color:#8a1116}.state-skipped,.state-todo{color:#57606a}
.err{color:#8a1116}
.muted{color:#57606a}
ul{padding-left:1.25rem}
@media print{
 body{margin:0;max-width:none;padding:0;font-size:8pt;line-height:1.25;color:#000}
 h1{font-size:12pt}
 h2{font-size:9.5pt;margin:.5rem 0 .2rem;padding-bottom:.1rem;break-after:avoid}
 th,td{padding:.08rem .3rem}
 .fact{grid-template-columns:8.5rem 1fr;padding:.05rem 0}
 .facts{column-gap:1rem}
 h1+p{margin:.1rem 0}
 p{margin:.25rem 0}
 ul{margin:.2rem 0}
 tr,li{break-inside:avoid}
 .ok,.failed,.open{background:none}
 th{background:none}
 .step-summary{color:#333}
}
`;

const KIND_TITLE: Record<ReportData['kind'], string> = {
  backup: 'Backup report',
  restore: 'Restore report',
  rollback: 'Rollback report',
};

const STATE_TEXT: Record<ReportStep['state'], string> = {
  todo: 'Not run',
  running: 'Interrupted',
  done: 'Done',
  failed: 'Failed',
  skipped: 'Skipped',
};

/** "941.9 MiB" is not enough for a ticket: the size by the one rule, then exactly ("942 MiB (987,654,321 bytes)"). */
export function formatBytesIec(n: number): string {
  return n < 1024 ? formatBytes(n) : `${formatBytes(n)} (${n.toLocaleString('en-US')} bytes)`;
}

function duration(from: string, to: string): string {
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

/** `2026-11-21 22:15:30 UTC`, never broken across lines (a `.ts` span is `white-space: nowrap`). */
export function timestamp(iso: string): string {
  const t = Date.parse(iso);
  const text = Number.isFinite(t) ? new Date(t).toISOString().slice(0, 19).replace('T', ' ') + ' UTC' : iso;
  return `<span class="ts">${escapeHtml(text)}</span>`;
}

/** One fact of the summary (label and value, the value already escaped); `wide` spans both columns. */
function fact(label: string, valueHtml: string, cls = '', wide = false): string {
  return `<div class="fact${wide ? ' wide' : ''}"><dt>${escapeHtml(label)}</dt><dd${cls ? ` class="${cls}"` : ''}>${valueHtml}</dd></div>`;
}

/**
 * A step's summary with its long absolute paths shortened to `…/<folder>/<name>`: the page stays one page for a
 * normal restore. The full paths are in the JSON and, for the folders set aside, in their own section.
 */
export function shortenSummaryPaths(text: string): string {
  return text.replace(/(?:\/[^\s/,;:()]+){4,}/g, (p) => `…/${p.split('/').slice(-2).join('/')}`);
}

function stepsTable(steps: ReportStep[]): string {
  if (steps.length === 0) return '<p class="muted">No steps were recorded.</p>';
  const rows = steps.map((s, i) => {
    const what = [
      `<strong>${escapeHtml(s.title)}</strong>`,
      s.summary ? ` <span class="step-summary">${escapeHtml(shortenSummaryPaths(s.summary))}</span>` : '',
      s.error
        ? `<div class="err">${escapeHtml(s.error.message)} <code>${escapeHtml(s.error.code)}</code></div>` +
          (s.error.hint ? `<div>${escapeHtml(s.error.hint)}</div>` : '')
        : '',
    ].join('');
    // Compact: the clock time it started (the date is in the summary) and how long it took.
    const clock = (iso: string | undefined) => (iso && /T(\d\d:\d\d:\d\d)/.exec(iso)?.[1]) || '';
    const took = s.startedAt && s.finishedAt ? duration(s.startedAt, s.finishedAt) : '';
    const when = escapeHtml([clock(s.startedAt), took && `(${took})`].filter(Boolean).join(' '));
    return `<tr><td>${i + 1}</td><td class="state state-${escapeHtml(s.state)}">${escapeHtml(STATE_TEXT[s.state] ?? s.state)}</td><td>${what}</td><td class="mono when">${when}</td></tr>`;
  });
  return `<table><thead><tr><th>#</th><th>Result</th><th>Step</th><th>Time (UTC)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function ownershipSection(d: ReportData): string {
  const { checked, mismatches } = d.ownershipCheck;
  if (checked === 0 && mismatches.length === 0)
    return '<p class="muted">Owners and permissions were not checked in this run.</p>';
  // The count is of paths: files, folders and links alike.
  const head = `<p>${escapeHtml(checked.toLocaleString('en-US'))} ${checked === 1 ? 'path' : 'paths'} (files, folders and links) checked against the owner and permission policy; ${
    mismatches.length === 0
      ? 'all match.'
      : `<strong class="err">${escapeHtml(mismatches.length.toLocaleString('en-US'))} ${mismatches.length === 1 ? 'does' : 'do'} not match</strong>.`
  }</p>`;
  if (mismatches.length === 0) return head;
  const shown = mismatches.slice(0, MAX_MISMATCH_ROWS);
  const rows = shown
    .map(
      (m) =>
        `<tr><td class="path">${escapeHtml(m.path)}</td><td class="mono">${escapeHtml(m.expected)}</td><td class="mono">${escapeHtml(m.actual)}</td></tr>`,
    )
    .join('');
  const more =
    mismatches.length > shown.length
      ? `<p class="muted">… and ${escapeHtml((mismatches.length - shown.length).toLocaleString('en-US'))} more, listed in the JSON report.</p>`
      : '';
  return `${head}<table><thead><tr><th>File</th><th>Expected</th><th>Found</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

function credentialsSection(d: ReportData): string {
  if (d.credentialsReentered.length === 0) return '<p class="muted">No credentials were re-entered.</p>';
  const rows = d.credentialsReentered
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.resourceTitle)}</td><td>${escapeHtml(c.entryName)}</td><td>${escapeHtml(c.fields.join(', '))}</td></tr>`,
    )
    .join('');
  return `<p class="muted">Only the names of the fields are recorded, never what was typed.</p><table><thead><tr><th>Resource</th><th>Entry</th><th>Fields re-entered</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function openItemsSection(d: ReportData): string {
  const items = d.openItems ?? [];
  if (items.length === 0) return '';
  return `<section><h2>Open items (${items.length})</h2><p>These still need doing: the job is done, with open items.</p><ul>${items
    .map((i) => `<li>${escapeHtml(i)}</li>`)
    .join('')}</ul></section>`;
}

function oldFoldersSection(d: ReportData): string {
  const o = d.oldFolders;
  if (!o) return '';
  const size = `${o.files.toLocaleString('en-US')} files, ${formatBytesIec(o.bytes)}`;
  const what =
    o.decision === 'deleted'
      ? `Deleted at the technician's explicit choice (${escapeHtml(size)}).`
      : `Kept (${escapeHtml(size)}): they can be deleted later with "edge-recovery finish" or from the wizard.`;
  const paths = o.paths.length
    ? `<ul>${o.paths.map((p) => `<li><code>${escapeHtml(p)}</code></li>`).join('')}</ul>`
    : '';
  return `<section><h2>Folders set aside by the restore</h2><p>${what}</p>${paths}</section>`;
}

/** Ticket number, site and technician at the top, "not given" where the technician left one empty. */
function ticketTable(d: ReportData): string {
  const t = d.ticket ?? {};
  const cell = (v: string | undefined) => (v ? escapeHtml(v) : '<span class="muted">not given</span>');
  return `<dl class="ticket" aria-label="Service ticket">${fact('Ticket number', cell(t.number))}${fact('Site', cell(t.site))}${fact('Technician', cell(t.technician))}</dl>`;
}

/** "Succeeded", "Done, with 2 open items" or "Failed". */
export function resultWords(d: Pick<ReportData, 'ok' | 'openItems'>): string {
  const n = d.openItems?.length ?? 0;
  if (!d.ok) return 'Failed';
  return n > 0 ? `Done, with ${n} open item${n === 1 ? '' : 's'}` : 'Succeeded';
}

/** A self-contained page: inline CSS, no script, no external reference; every value escaped. */
export function renderReportHtml(d: ReportData): string {
  const title = `${KIND_TITLE[d.kind]}: ${d.profile.productName} on ${d.hostname}`;
  const open = (d.openItems?.length ?? 0) > 0;
  const versions = [
    d.versions.backup ? `in the backup ${d.versions.backup}` : '',
    d.versions.installedBefore ? `installed before ${d.versions.installedBefore}` : '',
    d.versions.installedAfter ? `installed after ${d.versions.installedAfter}` : '',
  ].filter(Boolean);
  const facts = [
    fact('Product', escapeHtml(`${d.profile.productName} (profile ${d.profile.id})`)),
    fact('Machine', escapeHtml(d.hostname)),
    fact('Device id', escapeHtml(d.deviceId), 'mono'),
    d.sourceDeviceId !== null ? fact('Backup made on device', escapeHtml(d.sourceDeviceId), 'mono') : '',
    fact(d.kind === 'backup' ? 'Backup written to' : 'Backup', escapeHtml(d.backupPath), 'path', true),
    d.source
      ? fact(
          'Source',
          escapeHtml(
            `Made by hand (${d.source.format}, sha256 ${d.source.sha256}): UNVERIFIED, no checksums were recorded when it was made. ${d.source.mapping}`,
          ),
          '',
          true,
        )
      : '',
    fact('Started', timestamp(d.startedAt), 'mono'),
    fact('Finished', timestamp(d.finishedAt), 'mono'),
    fact('Duration', escapeHtml(duration(d.startedAt, d.finishedAt))),
    fact('Files', escapeHtml(d.files.toLocaleString('en-US'))),
    fact('Content size', escapeHtml(formatBytesIec(d.contentBytes))),
    fact('Tool version', escapeHtml(d.toolVersion)),
    versions.length > 0 ? fact('Product version', escapeHtml(versions.join(' · ')), '', true) : '',
  ].join('');
  // No notes, no section: the page stays one page for a normal restore.
  const notes =
    d.notes.length === 0
      ? ''
      : `<section><h2>Notes</h2><ul>${d.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p><span class="result ${d.ok ? (open ? 'open' : 'ok') : 'failed'}">${escapeHtml(resultWords(d).toUpperCase())}</span></p>
${ticketTable(d)}
</header>
<section><h2>Summary</h2><dl class="facts">${facts}</dl></section>
${openItemsSection(d)}
<section><h2>Steps</h2>${stepsTable(d.steps)}</section>
${d.kind === 'backup' ? '' : `<section><h2>Owners and permissions</h2>${ownershipSection(d)}</section>`}
${d.kind === 'backup' ? '' : `<section><h2>Credentials re-entered</h2>${credentialsSection(d)}</section>`}
${oldFoldersSection(d)}
${notes}
</body>
</html>
`;
}
