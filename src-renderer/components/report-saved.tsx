import type { SavedReportView } from '../../src-main/shared/contract.js';

function base(p: string | null): string | null {
  return p === null ? null : (p.split(/[\\/]/).pop() ?? p);
}

/** "On the stick "EDGEBACKUP" (mounted at /media/usb)" / "On this machine". */
export function savedWhere(s: SavedReportView): string {
  if (s.where === 'machine') return 'On this machine';
  const which = [s.label ? `"${s.label}"` : '', s.mount ? `mounted at ${s.mount}` : ''].filter(Boolean).join(', ');
  return `On the stick${which ? ` (${which})` : ''}`;
}

/**
 * Where the report was saved, the stick's copy told apart from this machine's: folder and file names (PDF first).
 * Without a PDF, says how to make one from the page.
 */
export function ReportSaved({ saved }: { saved: SavedReportView[] }) {
  if (saved.length === 0) return null;
  const pdf = saved.some((s) => s.pdf !== null);
  return (
    <div className="report-saved" data-testid="report-saved">
      <p>The report was saved:</p>
      <ul>
        {saved.map((s) => (
          <li key={s.dir} data-where={s.where}>
            <span className="where">{savedWhere(s)}</span>: <code className="path">{s.dir}</code>
            <ul>
              {[s.pdf, s.html, s.json]
                .map(base)
                .filter((f): f is string => f !== null)
                .map((f) => (
                  <li key={f}>
                    <code>{f}</code>
                  </li>
                ))}
            </ul>
          </li>
        ))}
      </ul>
      {pdf ? null : (
        <p className="muted">
          No PDF was made on this machine: open the report and use “Print / Save as PDF” (choose “Save as PDF” as the
          printer).
        </p>
      )}
    </div>
  );
}
