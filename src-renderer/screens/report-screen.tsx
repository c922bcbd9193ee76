import { useEffect, useRef, useState } from 'react';
import { useApi } from '../api.js';
import type { SavedReportView } from '../../src-main/shared/contract.js';
import { ErrorPanel } from '../components/error-panel.js';
import { ReportSaved } from '../components/report-saved.js';
import { Screen } from '../components/screen.js';
import { renderReport } from '../lib/render-report.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';

/**
 * The recovery report: shown in the page, where its copies were saved (the stick, this machine; with the PDF made
 * beside the HTML), and "Print / Save as PDF" through the browser's own print (the print CSS shows the report only).
 */
export function ReportScreen({ path, saved = [] }: { path: string; saved?: SavedReportView[] }) {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let live = true;
    api.invoke('report.read', { path }).then(
      (r) => live && setHtml(r.html),
      (e: unknown) => live && setError(toUiError(e)),
    );
    return () => {
      live = false;
    };
  }, [api, path]);

  useEffect(() => {
    if (html !== null && host.current) renderReport(host.current, html);
  }, [html]);
  const save = () => {
    if (html === null) return;
    const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = path.split(/[\\/]/).pop() || 'recovery-report.html';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <Screen title="Recovery report">
      <div className="no-print">
        {saved.length > 0 ? (
          <ReportSaved saved={saved} />
        ) : (
          <p>
            Saved at <code>{path}</code>.
          </p>
        )}
      </div>
      {/* Above the report, not the screen's usual bar stuck to the window's bottom: over a report longer than the
          window that bar hid the lines under it at every scroll position but the last (1366×768). */}
      <div className="actions no-print">
        <button type="button" className="primary" disabled={html === null} onClick={() => window.print()}>
          Print / Save as PDF
        </button>
        <button type="button" className="secondary" disabled={html === null} onClick={save}>
          Save a copy…
        </button>
        <button type="button" className="secondary" onClick={() => go({ kind: 'loading' })}>
          Back to start
        </button>
      </div>
      {error ? <ErrorPanel error={error} /> : null}
      <div ref={host} className="report-view" role="document" aria-label="Recovery report" hidden={html === null} />
    </Screen>
  );
}
