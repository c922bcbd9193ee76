import { useEffect, useRef, useState } from 'react';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import { renderReport } from '../lib/render-report.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';

/** The recovery report: shown in the page, saved as a file, or printed (the print CSS hides everything else). */
export function ReportScreen({ path }: { path: string }) {
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
      <p className="no-print">
        Saved on this machine at <code>{path}</code>.
      </p>
      {error ? <ErrorPanel error={error} /> : null}
      <div ref={host} className="report-view" role="document" aria-label="Recovery report" hidden={html === null} />
      <div className="actions no-print">
        <button type="button" className="primary" disabled={html === null} onClick={() => window.print()}>
          Print
        </button>
        <button type="button" className="secondary" disabled={html === null} onClick={save}>
          Save a copy…
        </button>
        <button type="button" className="secondary" onClick={() => go({ kind: 'loading' })}>
          Back to start
        </button>
      </div>
    </Screen>
  );
}
