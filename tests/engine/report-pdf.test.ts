import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPdfPrinter, findChromium } from '../../src-main/engine/report/chromium-pdf.js';
import { pdfTemplates, writeReport, type ReportData, type ReportStep } from '../../src-main/engine/report/index.js';

const chromium = findChromium();
const poppler = (() => {
  try {
    execFileSync('pdfinfo', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = chromium === null ? 'Chromium is not installed' : !poppler ? 'poppler-utils is not installed' : null;
if (skip) {
  if (process.env.CI) throw new Error(skip);
  console.warn(`report PDF test skipped: ${skip}`);
}

/** A normal restore of the practice EDS: every step of the runbook, summaries as the engine writes them. */
function normalRestore(): ReportData {
  const t = (m: number) => new Date(Date.UTC(2026, 10, 21, 22, 10, m)).toISOString();
  const titles = [
    ['verify', 'Verify the backup', 'All 30,007 files and 3 parts match their checksums.'],
    ['compatibility', 'Check compatibility', 'Profile eds-linux fits. Installed 1.1.2, backup 1.1.2: same release.'],
    ['prechecks', 'Pre-checks', 'The owner edsuser:edsgroup exists; 1.2 GiB free beside each folder.'],
    ['stop', 'Stop the service', 'The service has stopped (runit: down 0 s).'],
    ['extract', 'Unpack into staging', '30,007 files unpacked and checked (941.9 MiB).'],
    ['swap', 'Set the defaults aside and move the backup in', 'Storage and Configuration replaced by renames.'],
    ['ownership', 'Repair owners and permissions', '30,007 files set to edsuser:edsgroup 0640/0750; all match.'],
    ['start', 'Start the service', 'The service runs and its API answers healthy.'],
    ['credentials', 'Re-enter credentials', 'Entered 2 of 2: PI Web API, ADH egress.'],
    ['restart', 'Restart and check', 'The service runs and its API answers healthy.'],
    ['report', 'Write the recovery report', 'This report.'],
    ['finish', 'Clean up', 'The old folders were deleted, as the technician decided.'],
  ];
  const steps: ReportStep[] = titles.map(([id, title, summary], i) => ({
    id: id!,
    title: title!,
    explain: '',
    destructive: false,
    state: 'done',
    summary: summary!,
    startedAt: t(i * 3),
    finishedAt: t(i * 3 + 2),
  }));
  return {
    kind: 'restore',
    ok: true,
    toolVersion: '0.1.0',
    profile: { id: 'eds-linux', productName: 'AVEVA Edge Data Store' },
    hostname: 'eds-replacement-01',
    deviceId: 'eds-replacement-01-9f8e7d6c',
    sourceDeviceId: 'eds-edge01-1a2b3c4d',
    backupPath: '/media/tech/EDGEBACKUP/EdgeRecovery/eds-edge01-1a2b3c4d/Backup_eds-linux_20261121_2100Z',
    startedAt: t(0),
    finishedAt: t(40),
    versions: { backup: '1.1.2', installedBefore: '1.1.2', installedAfter: '1.1.2' },
    steps,
    files: 30_007,
    contentBytes: 987_654_321,
    ownershipCheck: { checked: 30_007, mismatches: [] },
    credentialsReentered: [
      { resourceTitle: 'PI Web API', entryName: 'OMF egress', fields: ['ClientSecret'] },
      { resourceTitle: 'AVEVA Data Hub', entryName: 'ADH egress', fields: ['ClientId', 'ClientSecret'] },
    ],
    oldFolders: {
      decision: 'deleted',
      paths: [
        '/usr/share/OSIsoft/EdgeDataStore/Storage.before-restore-20261121T221000-1a2b3c4d',
        '/usr/share/OSIsoft/EdgeDataStore/Configuration.before-restore-20261121T221000-1a2b3c4d',
      ],
      files: 1_234,
      bytes: 45_678_901,
    },
    ticket: { number: 'INC-0042-7781', site: 'Plant 4, Hall B', technician: 'Ana Lima' },
    notes: ['The service took 4 s to answer after the restart.'],
  };
}

describe.skipIf(skip !== null)('report PDF through the machine Chromium', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-pdf-'));
  });
  afterAll(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('writes a one-page PDF beside the HTML with header, footer, ticket and unbroken times', async () => {
    const stick = path.join(tmp, 'stick');
    const machine = path.join(tmp, 'machine');
    const printer = chromiumPdfPrinter({ executable: chromium! });
    const warnings: string[] = [];
    const written = await writeReport(normalRestore(), [stick, machine], {
      pdf: printer,
      onWarning: (w) => warnings.push(w),
    });
    expect(warnings).toEqual([]);
    const pdfs = written.filter((f) => f.endsWith('.pdf'));
    expect(pdfs.map((f) => path.relative(tmp, f))).toEqual([
      'stick/report-restore-20261121_221040Z.pdf',
      'machine/report-restore-20261121_221040Z.pdf',
    ]);
    for (const f of written) expect((await fsp.stat(f)).mode & 0o777).toBe(0o600);
    const info = execFileSync('pdfinfo', [pdfs[0]!], { encoding: 'utf8' });
    expect(info).toMatch(/^Pages:\s+1$/m);
    expect(info).toMatch(/^Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)/m);
    const text = execFileSync('pdftotext', ['-layout', pdfs[0]!, '-'], { encoding: 'utf8' });
    for (const s of [
      'Restore report',
      'AVEVA Edge Data Store',
      'Device eds-replacement-01-9f8e7d6c',
      'Ticket INC-0042-7781',
      'Plant 4, Hall B',
      'Ana Lima',
      'Page 1 of 1',
      '2026-11-21 22:10:40 UTC',
    ]) {
      expect(text).toContain(s);
    }
    // The same bytes in both places.
    expect(await fsp.readFile(pdfs[1]!)).toEqual(await fsp.readFile(pdfs[0]!));
  });

  it('fits Letter paper on one page too', async () => {
    const printer = chromiumPdfPrinter({ executable: chromium! });
    const out = path.join(tmp, 'letter');
    await writeReport(normalRestore(), [out], { pdf: printer, paper: 'Letter' });
    const pdf = path.join(out, 'report-restore-20261121_221040Z.pdf');
    const info = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' });
    expect(info).toMatch(/^Pages:\s+1$/m);
    expect(info).toMatch(/\(letter\)/);
  });

  it('a printer that fails leaves HTML and JSON and says how to print by hand', async () => {
    const warnings: string[] = [];
    const written = await writeReport(normalRestore(), [path.join(tmp, 'broken')], {
      pdf: () => Promise.reject(new Error('no display')),
      onWarning: (w) => warnings.push(w),
    });
    expect(written.map((f) => path.extname(f))).toEqual(['.json', '.html']);
    expect(warnings.join(' ')).toMatch(/PDF of the report could not be made \(no display\).*print it to PDF/);
  });

  it('escapes report values in the header and footer templates', () => {
    const d = normalRestore();
    d.ticket = { number: '<img src=x>' };
    d.deviceId = 'dev"<b>';
    const t = pdfTemplates(d);
    expect(t.footerTemplate).toContain('Ticket &lt;img src=x&gt;');
    expect(t.headerTemplate).toContain('Device dev&quot;&lt;b&gt;');
    expect(t.footerTemplate).toContain('<span class="pageNumber"></span> of <span class="totalPages"></span>');
  });
});
