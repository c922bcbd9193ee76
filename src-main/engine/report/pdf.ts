import { escapeHtml } from './render-html.js';
import type { ReportData } from './types.js';

export type PaperSize = 'A4' | 'Letter';

/**
 * What a PDF printer gets: the report page (self-contained, no script) and the header and footer templates in
 * Chromium's format (its `<span class="pageNumber">`/`totalPages` are filled per page). Electron's
 * `webContents.printToPDF` and Chromium's DevTools `Page.printToPDF` take the same templates.
 */
export interface PdfRequest {
  html: string;
  headerTemplate: string;
  footerTemplate: string;
  paper: PaperSize;
  /** Page margins in inches; header and footer are drawn inside the top and bottom ones. */
  margins: { top: number; bottom: number; left: number; right: number };
}

/** Renders a report page to PDF bytes. Each host brings its own (Electron: a hidden window; CLI/serve: Chromium). */
export type PdfPrinter = (req: PdfRequest) => Promise<Uint8Array>;

export const PDF_MARGINS = { top: 0.5, bottom: 0.45, left: 0.45, right: 0.45 } as const;

const KIND: Record<ReportData['kind'], string> = {
  backup: 'Backup report',
  restore: 'Restore report',
  rollback: 'Rollback report',
};

// Templates render in their own tiny document: everything inline, a font size set (Chromium's default is ~0).
const BOX =
  'font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;font-size:8px;color:#444;' +
  'width:100%;margin:0 0.45in;display:flex;justify-content:space-between;gap:12px;white-space:nowrap';

/** `2026-11-21 22:15 UTC` from an ISO time (the report's date in the header). */
export function shortUtc(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** Header: product and report kind left, device id and date right. Footer: ticket left, page X of Y right. */
export function pdfTemplates(d: ReportData): { headerTemplate: string; footerTemplate: string } {
  const ticket = d.ticket ?? {};
  const left = [ticket.number ? `Ticket ${ticket.number}` : '', ticket.site ?? '', ticket.technician ?? '']
    .filter(Boolean)
    .join(' · ');
  return {
    headerTemplate:
      `<div style='${BOX}'><span>Edge Recovery Wizard · ${escapeHtml(KIND[d.kind])} · ${escapeHtml(d.profile.productName)}</span>` +
      `<span>Device ${escapeHtml(d.deviceId)} · ${escapeHtml(shortUtc(d.finishedAt))}</span></div>`,
    footerTemplate:
      `<div style='${BOX}'><span>${escapeHtml(left)}</span>` +
      `<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`,
  };
}

export function pdfRequest(d: ReportData, html: string, paper: PaperSize = 'A4'): PdfRequest {
  return { html, ...pdfTemplates(d), paper, margins: { ...PDF_MARGINS } };
}

/** Paper sizes in inches (Chromium's DevTools protocol wants inches). */
export const PAPER_INCHES: Record<PaperSize, { width: number; height: number }> = {
  A4: { width: 8.27, height: 11.69 },
  Letter: { width: 8.5, height: 11 },
};

let configured: PdfPrinter | null = null;

/**
 * The printer this process's reports are made with, set once by the host at start-up (Electron main and its
 * helper: a hidden window; the CLI and `serve`: Chromium when installed). Without one, reports are HTML and JSON
 * only, and the wizard offers the browser's "Print → Save as PDF".
 */
export function setReportPdfPrinter(p: PdfPrinter | null): void {
  configured = p;
}

export function reportPdfPrinter(): PdfPrinter | null {
  return configured;
}
