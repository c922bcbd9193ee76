import { useEffect, useRef, useState } from 'react';
import { useApi } from '../api.js';
import { ErrorPanel } from '../components/error-panel.js';
import { Screen } from '../components/screen.js';
import { toUiError, type UiError } from '../lib/ui-error.js';
import { useWizard } from '../store/wizard-store.js';

/**
 * The recovery report, shown in a frame that runs no scripts (sandbox without allow-scripts), saved as a file, or
 * printed with the print style sheet, which hides everything but the report.
 */
export function ReportScreen({ path }: { path: string }) {
  const api = useApi();
  const go = useWizard((s) => s.go);
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const frame = useRef<HTMLIFrameElement>(null);
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

  const fit = () => {
    const doc = frame.current?.contentDocument;
    if (frame.current && doc?.documentElement) frame.current.style.height = `${doc.documentElement.scrollHeight + 16}px`;
  };
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
      {html !== null ? (
        <iframe
          ref={frame}
          className="report-frame"
          title="Recovery report"
          sandbox="allow-same-origin"
          srcDoc={html}
          onLoad={fit}
        />
      ) : null}
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
