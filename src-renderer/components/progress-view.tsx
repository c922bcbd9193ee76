import type { Progress } from '../../src-main/shared/contract.js';
import { formatBytes, formatCount, formatDuration, formatRate } from '../lib/format.js';

/** Bytes, files, rate and time left. The live region only speaks every 10 %, so screen readers are not flooded. */
export function ProgressView({ progress }: { progress: Progress }) {
  const pct =
    progress.totalBytes && progress.totalBytes > 0
      ? Math.min(100, Math.floor((progress.bytes / progress.totalBytes) * 100))
      : null;
  const spoken =
    pct === null
      ? `${progress.phase}: ${formatBytes(progress.bytes)} so far`
      : `${progress.phase}: ${Math.floor(pct / 10) * 10} percent`;
  return (
    <div className="progress">
      <label className="progress-label" htmlFor="job-progress">
        {capitalise(progress.phase)}
        {pct !== null ? ` — ${pct} %` : ''}
      </label>
      {pct === null ? <progress id="job-progress" /> : <progress id="job-progress" max={100} value={pct} />}
      <dl className="progress-facts">
        <div>
          <dt>Copied</dt>
          <dd>
            {formatBytes(progress.bytes)}
            {progress.totalBytes !== null ? ` of ${formatBytes(progress.totalBytes)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Files</dt>
          <dd>
            {formatCount(progress.files, 'file', 'files')}
            {progress.totalFiles !== null ? ` of ${progress.totalFiles.toLocaleString('en-US')}` : ''}
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{formatRate(progress.rate)}</dd>
        </div>
        <div>
          <dt>Time left</dt>
          <dd>{formatDuration(progress.etaSeconds)}</dd>
        </div>
      </dl>
      <p className="visually-hidden" role="status" aria-live="polite">
        {spoken}
      </p>
    </div>
  );
}

function capitalise(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}
