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
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #e4e8ec}
th{font-weight:600;background:#f4f6f8}
table.facts th{width:14rem;background:none}
td.path,td.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;word-break:break-all}
.state{font-weight:600;white-space:nowrap}
.state-done{color:#0a5c2b}.state-failed{color:#8a1116}.state-skipped,.state-todo{color:#57606a}
.err{color:#8a1116}
.muted{color:#57606a}
ul{padding-left:1.25rem}
@media print{
 body{margin:0;max-width:none;font-size:11pt;color:#000}
 h2{break-after:avoid}
 tr,li{break-inside:avoid}
 .ok,.failed{background:none}
 th{background:none}
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

export function formatBytesIec(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]} (${n.toLocaleString('en-US')} bytes)`;
}

function duration(from: string, to: string): string {
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

function row(label: string, value: string, cls = ''): string {
  return `<tr><th scope="row">${escapeHtml(label)}</th><td${cls ? ` class="${cls}"` : ''}>${escapeHtml(value)}</td></tr>`;
}

function stepsTable(steps: ReportStep[]): string {
  if (steps.length === 0) return '<p class="muted">No steps were recorded.</p>';
  const rows = steps.map((s, i) => {
    const what = [
      `<strong>${escapeHtml(s.title)}</strong>`,
      s.summary ? `<div>${escapeHtml(s.summary)}</div>` : '',
      s.error
        ? `<div class="err">${escapeHtml(s.error.message)} <code>${escapeHtml(s.error.code)}</code></div>` +
          (s.error.hint ? `<div>${escapeHtml(s.error.hint)}</div>` : '')
        : '',
    ].join('');
    // Compact: the clock time it started (the date is in the summary) and how long it took.
    const clock = (iso: string | undefined) => (iso && /T(\d\d:\d\d:\d\d)/.exec(iso)?.[1]) || '';
    const took = s.startedAt && s.finishedAt ? duration(s.startedAt, s.finishedAt) : '';
    const when = escapeHtml([clock(s.startedAt), took && `(${took})`].filter(Boolean).join(' '));
    return `<tr><td>${i + 1}</td><td class="state state-${escapeHtml(s.state)}">${escapeHtml(STATE_TEXT[s.state] ?? s.state)}</td><td>${what}</td><td class="mono">${when}</td></tr>`;
  });
  return `<table><thead><tr><th>#</th><th>Result</th><th>Step</th><th>Time (UTC)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function ownershipSection(d: ReportData): string {
  const { checked, mismatches } = d.ownershipCheck;
  if (checked === 0 && mismatches.length === 0)
    return '<p class="muted">Owners and permissions were not checked in this run.</p>';
  const head = `<p>${escapeHtml(checked.toLocaleString('en-US'))} files checked against the owner and permission policy; ${
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

/** A self-contained page: inline CSS, no script, no external reference; every value escaped. */
export function renderReportHtml(d: ReportData): string {
  const title = `${KIND_TITLE[d.kind]}: ${d.profile.productName} on ${d.hostname}`;
  const facts = [
    row('Result', d.ok ? 'Succeeded' : 'Failed'),
    row('Product', `${d.profile.productName} (profile ${d.profile.id})`),
    row('Machine', d.hostname),
    row('Device id', d.deviceId, 'mono'),
    d.sourceDeviceId !== null ? row('Backup made on device', d.sourceDeviceId, 'mono') : '',
    row('Backup', d.backupPath, 'path'),
    d.source
      ? row(
          'Source',
          `Made by hand (${d.source.format}, sha256 ${d.source.sha256}): UNVERIFIED, no checksums were recorded when it was made. ${d.source.mapping}`,
        )
      : '',
    row('Started (UTC)', d.startedAt, 'mono'),
    row('Finished (UTC)', d.finishedAt, 'mono'),
    row('Duration', duration(d.startedAt, d.finishedAt)),
    d.versions.backup ? row('Product version in the backup', d.versions.backup) : '',
    d.versions.installedBefore ? row('Installed version before', d.versions.installedBefore) : '',
    d.versions.installedAfter ? row('Installed version after', d.versions.installedAfter) : '',
    row('Files', d.files.toLocaleString('en-US')),
    row('Content size', formatBytesIec(d.contentBytes)),
    row('Tool version', d.toolVersion),
  ].join('');
  const notes =
    d.notes.length === 0
      ? '<p class="muted">None.</p>'
      : `<ul>${d.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`;
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
<p><span class="result ${d.ok ? 'ok' : 'failed'}">${d.ok ? 'SUCCEEDED' : 'FAILED'}</span></p>
</header>
<section><h2>Summary</h2><table class="facts"><tbody>${facts}</tbody></table></section>
<section><h2>Steps</h2>${stepsTable(d.steps)}</section>
<section><h2>Owners and permissions</h2>${ownershipSection(d)}</section>
<section><h2>Credentials re-entered</h2>${credentialsSection(d)}</section>
<section><h2>Notes</h2>${notes}</section>
</body>
</html>
`;
}
