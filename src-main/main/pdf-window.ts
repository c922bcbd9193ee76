import { BrowserWindow, session } from 'electron';
import { setReportPdfPrinter, type PdfPrinter, type PdfRequest } from '../engine/report/pdf.js';

/** A session of its own for the PDF window: in memory, no permission, no request leaves it except the page itself. */
const PARTITION = 'report-pdf';

function pdfSession(): Electron.Session {
  const s = session.fromPartition(PARTITION, { cache: false });
  s.setPermissionRequestHandler((_wc, _p, cb) => cb(false));
  s.setPermissionCheckHandler(() => false);
  s.webRequest.onBeforeRequest((details, cb) => cb({ cancel: !details.url.startsWith('data:text/html') }));
  return s;
}

/**
 * Electron's printer: the report page in a hidden, sandboxed window without JavaScript, preload or Node, loaded from
 * memory as a data: URL, printed with `webContents.printToPDF` and the engine's header and footer, then closed.
 * Used in the wizard's main process and in the privileged helper (the same binary, root, no window otherwise).
 */
export const electronPdfPrinter: PdfPrinter = async (req: PdfRequest) => {
  const win = new BrowserWindow({
    show: false,
    width: 900,
    height: 1200,
    webPreferences: {
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      javascript: false,
      webSecurity: true,
      spellcheck: false,
      devTools: false,
      // No middle-click navigation either (there is no link in a report, but nothing may open a window).
      disableBlinkFeatures: 'Auxclick',
      session: pdfSession(),
    },
  });
  const timer = setTimeout(() => {
    if (!win.isDestroyed()) win.destroy();
  }, 60_000);
  try {
    await win.loadURL(`data:text/html;charset=utf-8;base64,${Buffer.from(req.html, 'utf8').toString('base64')}`);
    const pdf = await win.webContents.printToPDF({
      pageSize: req.paper,
      printBackground: true,
      displayHeaderFooter: true,
      headerTemplate: req.headerTemplate,
      footerTemplate: req.footerTemplate,
      margins: { marginType: 'custom', ...req.margins },
    });
    return new Uint8Array(pdf);
  } finally {
    clearTimeout(timer);
    if (!win.isDestroyed()) win.destroy();
  }
};

/** Reports written by this process (the main side's jobs, or the helper's) get their PDF from Electron. */
export function setupReportPdf(): void {
  setReportPdfPrinter(electronPdfPrinter);
}
