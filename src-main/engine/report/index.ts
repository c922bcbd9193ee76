export {
  buildReport,
  writeReport,
  writePdfs,
  renderReportPdf,
  utcStamp,
  REPORT_FORMAT,
  type PdfPlace,
  type WriteReportOptions,
} from './build-report.js';
export { escapeHtml, renderReportHtml } from './render-html.js';
export {
  pdfRequest,
  pdfTemplates,
  setReportPdfPrinter,
  reportPdfPrinter,
  type PdfPrinter,
  type PdfRequest,
} from './pdf.js';
export type {
  ReportData,
  ReportKind,
  ReportStep,
  ReportStepError,
  OwnershipMismatch,
  CredentialReentered,
} from './types.js';
