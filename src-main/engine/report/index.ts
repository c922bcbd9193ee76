export { buildReport, writeReport, utcStamp, REPORT_FORMAT } from './build-report.js';
export { escapeHtml, renderReportHtml } from './render-html.js';
export type {
  ReportData,
  ReportKind,
  ReportStep,
  ReportStepError,
  OwnershipMismatch,
  CredentialReentered,
} from './types.js';
