import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPdfPrinter, findChromium } from '../../src-main/engine/report/chromium-pdf.js';
import { pdfTemplates, reportPdfPrinter, setReportPdfPrinter } from '../../src-main/engine/report/index.js';
import type { ReportData } from '../../src-main/engine/report/index.js';
import { browserSkipReason } from './helpers/browser.js';
import {
  heading,
  LONG,
  pickNewestBackup,
  practiceBackup,
  practiceRestoreToReady,
  toPracticeRestore,
} from './helpers/flows.js';
import { ScreenRecorder, SCREENSHOT_DIR } from './helpers/screens.js';
import { useWizardSession } from './helpers/session.js';

function popplerMissing(): string | null {
  try {
    execFileSync('pdfinfo', ['-v'], { stdio: 'ignore' });
    return null;
  } catch {
    const reason = 'poppler-utils (pdfinfo, pdftoppm, pdftotext) is not installed: apt-get install poppler-utils';
    if (process.env.CI) throw new Error(reason);
    return reason;
  }
}

const skip = browserSkipReason() ?? popplerMissing();
if (skip) console.warn(`report e2e skipped: ${skip}`);

const TICKET = { number: 'INC-0042-7781', site: 'Plant 4, Hall B', technician: 'Ana Lima' };

function pages(pdf: string): number {
  return Number(/^Pages:\s+(\d+)$/m.exec(execFileSync('pdfinfo', [pdf], { encoding: 'utf8' }))?.[1]);
}

/** Share of the first page's pixels that carry ink (rendered in grey at 30 dpi): a blank page is ~0. */
function inkShare(pdf: string): number {
  const pgm = execFileSync('pdftoppm', ['-r', '30', '-gray', '-f', '1', '-l', '1', pdf]);
  // Binary PGM: "P5\n<w> <h>\n255\n" then one byte per pixel.
  const m = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(pgm.subarray(0, 40).toString('latin1'));
  if (!m) throw new Error('pdftoppm did not give a PGM');
  const [w, h] = [Number(m[1]), Number(m[2])];
  const px = pgm.subarray(pgm.length - w * h);
  let ink = 0;
  for (const v of px) if (v < 200) ink++;
  return ink / (w * h);
}

/** Renders page 1 to a PNG in the e2e artifacts folder (what a person would look at). */
function renderPng(pdf: string, name: string): string {
  const prefix = path.join(SCREENSHOT_DIR, name);
  execFileSync('pdftoppm', ['-r', '80', '-png', '-singlefile', '-f', '1', '-l', '1', pdf, prefix]);
  return `${prefix}.png`;
}

describe.skipIf(skip !== null)('the report in a browser: ticket fields, one-page PDF beside the HTML', () => {
  const session = useWizardSession({ width: 1366, height: 768 });
  let before: ReturnType<typeof reportPdfPrinter>;

  beforeAll(() => {
    // What `edge-recovery serve` sets up at start (cli/report-options.ts): Chromium makes the PDF beside the HTML.
    before = reportPdfPrinter();
    setReportPdfPrinter(chromiumPdfPrinter({ executable: findChromium()! }));
  });
  afterAll(() => setReportPdfPrinter(before));

  it('asks ticket, site and technician before the restore, remembers them, and saves a one-page PDF on the stick and on this machine', async () => {
    const page = session.page;
    const rec = new ScreenRecorder(page, 'report');
    await practiceBackup(page, rec);
    // The backup has its own report, beside the set on the stick and on this machine.
    const backupSaved = page.getByTestId('report-saved');
    await backupSaved.waitFor(LONG);
    expect(await backupSaved.locator('li[data-where="stick"] code').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^report-backup-\d{8}_\d{6}Z\.pdf$/)]),
    );
    expect(await backupSaved.locator('li[data-where="machine"]').count()).toBe(1);
    await rec.capture('backup-report-saved');

    await practiceRestoreToReady(page, rec);
    const fields = page.getByRole('group', { name: 'For the report (optional)' });
    await fields.waitFor(LONG);
    await page.getByLabel('Ticket number').fill(`  ${TICKET.number} `);
    await page.getByLabel('Site').fill(TICKET.site);
    await page.getByLabel('Technician').fill(TICKET.technician);
    await rec.capture('restore-ticket-fields');
    await page.getByRole('button', { name: 'Start the restore' }).click();

    await page.getByRole('button', { name: 'Stop the service' }).click(LONG);
    await page.getByRole('button', { name: 'Replace the folders' }).click(LONG);
    const secrets = page.locator('form.credentials input[type="password"]');
    await secrets.first().waitFor(LONG);
    for (let i = 0; i < (await secrets.count()); i++) await secrets.nth(i).fill(`practice-secret-${i}`);
    await page.getByRole('button', { name: 'Send to the appliance' }).click();
    await page.getByRole('button', { name: /^Delete the old folders \(\d+ files?, / }).click(LONG);
    await page.getByRole('heading', { name: 'The restore is complete' }).waitFor(LONG);

    // "Saved at": the stick's copy and this machine's, told apart, each with its PDF.
    const saved = page.getByTestId('report-saved');
    await saved.waitFor(LONG);
    const stick = saved.locator('li[data-where="stick"]');
    const machine = saved.locator('li[data-where="machine"]');
    expect(await stick.locator('.where').textContent()).toMatch(/^On the stick/);
    expect(await machine.locator('.where').textContent()).toBe('On this machine');
    await rec.capture('restore-report-saved');
    const dirOf = async (li: typeof stick) => (await li.locator('code.path').textContent())!;
    const pdfOf = async (li: typeof stick) =>
      path.join(await dirOf(li), (await li.locator('code').allTextContents()).find((f) => f.endsWith('.pdf'))!);
    const stickPdf = await pdfOf(stick);
    const machinePdf = await pdfOf(machine);
    expect(path.basename(stickPdf)).toMatch(/^report-restore-\d{8}_\d{6}Z\.pdf$/);
    expect(machinePdf.startsWith(session.server.dir)).toBe(true);

    // The PDF is the last word (written again after the old folders were deleted), the same on both sides.
    expect(await fsp.readFile(stickPdf)).toEqual(await fsp.readFile(machinePdf));
    for (const f of [stickPdf, machinePdf]) expect((await fsp.stat(f)).mode & 0o777).toBe(0o600);
    // Kept in the e2e artifacts first, so a failure below can be looked at.
    await fsp.mkdir(SCREENSHOT_DIR, { recursive: true });
    await fsp.copyFile(stickPdf, path.join(SCREENSHOT_DIR, 'report-restore.pdf'));
    await fsp.copyFile(stickPdf.replace(/\.pdf$/, '.html'), path.join(SCREENSHOT_DIR, 'report-restore.html'));
    renderPng(stickPdf, 'report-restore-pdf-page1');
    expect(pages(stickPdf)).toBe(1);
    expect(inkShare(stickPdf)).toBeGreaterThan(0.01);

    const json = JSON.parse(await fsp.readFile(stickPdf.replace(/\.pdf$/, '.json'), 'utf8')) as ReportData & {
      reportFormat: number;
    };
    expect(json.ticket).toEqual(TICKET);
    // The same device id as the compatibility check compared (the practice replacement's own id).
    const check = await page.locator('.checklist-item').filter({ hasText: 'fits this machine' }).textContent();
    expect(check).toContain(json.deviceId);
    expect(json.deviceId).toMatch(/^practice-replacement-/);

    const text = execFileSync('pdftotext', [stickPdf, '-'], { encoding: 'utf8' });
    for (const s of [TICKET.number, TICKET.site, TICKET.technician, json.deviceId, 'Page 1 of 1', 'Restore report']) {
      expect(text).toContain(s);
    }
    // A timestamp is never broken across lines.
    const finished = new Date(json.finishedAt).toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
    expect(text.split('\n')).toContain(finished);

    // Remembered by the host for the next job, 0600 in its state folder.
    const remembered = path.join(session.server.stateDir, 'ticket.json');
    expect(JSON.parse(await fsp.readFile(remembered, 'utf8'))).toEqual(TICKET);
    expect((await fsp.stat(remembered)).mode & 0o777).toBe(0o600);

    // In the page: the report with "Print / Save as PDF" (the browser's print, print CSS shows the report only).
    await page.getByRole('button', { name: 'View the recovery report' }).click();
    await heading(page, 'Recovery report');
    await page.locator('.report-view').waitFor(LONG);
    expect(await page.locator('.report-view').evaluate((el) => el.shadowRoot?.textContent ?? '')).toContain(
      TICKET.number,
    );
    await rec.capture('report-screen');
    await page.evaluate(() => {
      (window as unknown as { printed: number }).printed = 0;
      window.print = () => {
        (window as unknown as { printed: number }).printed++;
      };
    });
    await page.getByRole('button', { name: 'Print / Save as PDF' }).click();
    expect(await page.evaluate(() => (window as unknown as { printed: number }).printed)).toBe(1);
    // What the browser's "Save as PDF" makes of this page: one page, the report only.
    await page.emulateMedia({ media: 'print' });
    await rec.capture('report-print-media');
    const printed = path.join(SCREENSHOT_DIR, 'report-browser-print.pdf');
    await page.pdf({
      path: printed,
      format: 'A4',
      displayHeaderFooter: true,
      ...pdfTemplates(json),
      margin: { top: '0.5in', bottom: '0.45in', left: '0.45in', right: '0.45in' },
    });
    await page.emulateMedia({ media: 'screen' });
    expect(pages(printed)).toBe(1);
    expect(inkShare(printed)).toBeGreaterThan(0.01);
    renderPng(printed, 'report-browser-print-page1');
    const printedText = execFileSync('pdftotext', [printed, '-'], { encoding: 'utf8' });
    expect(printedText).toContain(TICKET.technician);
    expect(printedText).not.toContain('Back to start');

    // Asked once: after a reload the next job shows the remembered values as one line, with "Change".
    await page.reload();
    await toPracticeRestore(page);
    await pickNewestBackup(page);
    const summary = page.getByLabel('For the report');
    await summary.waitFor(LONG);
    expect(await summary.textContent()).toMatch(
      /Ticket number INC-0042-7781.*Site Plant 4, Hall B.*Technician Ana Lima/,
    );
    await rec.capture('restore-ticket-remembered');

    expect(session.errors).toEqual([]);
    expect(rec.findings).toEqual([]);
  }, 400_000);
});
