import type { Progress } from '../../src-main/shared/contract.js';
import type { JobEstimate } from '../../src-main/shared/estimate.js';
import { formatBytes, formatDuration, formatRate } from '../lib/format.js';
import { phaseWords } from '../lib/phase-words.js';

/**
 * What the running step is doing, in words; bytes and files with their totals ("1,234 of 30,007"), rate and
 * the step's time left; and, when known, the whole job's time left and how long the service has been down.
 * The live region only speaks every 10 %, so screen readers are not flooded.
 */
export function ProgressView({ progress, overall }: { progress: Progress; overall?: JobEstimate | undefined }) {
  const words = phaseWords(progress.phase);
  const pct =
    progress.totalBytes && progress.totalBytes > 0
      ? Math.min(100, Math.floor((progress.bytes / progress.totalBytes) * 100))
      : null;
  const spoken =
    pct === null
      ? `${words.doing}: ${progress.files.toLocaleString('en-US')} files so far`
      : `${words.doing}: ${Math.floor(pct / 10) * 10} percent`;
  // A step that measures nothing yet (a service stopping, a worker starting): only that it works, and for how long.
  if (progress.bytes === 0 && progress.files === 0 && progress.totalBytes === null && progress.totalFiles === null) {
    return (
      <div className="progress" data-phase={progress.phase}>
        <label className="progress-label" htmlFor="job-progress">
          {words.doing}… <span className="muted small">({formatDuration(progress.elapsedMs / 1000)} so far)</span>
        </label>
        <progress id="job-progress" />
        {overall ? <OverallLine overall={overall} /> : null}
      </div>
    );
  }
  return (
    <div className="progress" data-phase={progress.phase}>
      <label className="progress-label" htmlFor="job-progress">
        {words.doing}
        {pct !== null ? ` — ${pct} %` : ''}
      </label>
      {pct === null ? <progress id="job-progress" /> : <progress id="job-progress" max={100} value={pct} />}
      <dl className="progress-facts">
        <div>
          <dt>{words.filesLabel}</dt>
          <dd data-testid="progress-files">
            {progress.files.toLocaleString('en-US')}
            {progress.totalFiles !== null ? ` of ${progress.totalFiles.toLocaleString('en-US')}` : ''}
          </dd>
        </div>
        <div>
          <dt>{words.bytesLabel}</dt>
          <dd>
            {formatBytes(progress.bytes)}
            {progress.totalBytes !== null ? ` of ${formatBytes(progress.totalBytes)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{formatRate(progress.rate)}</dd>
        </div>
        <div>
          <dt>This step: time left</dt>
          <dd>{formatDuration(progress.etaSeconds)}</dd>
        </div>
      </dl>
      {overall ? <OverallLine overall={overall} /> : null}
      <p className="visually-hidden" role="status" aria-live="polite">
        {spoken}
      </p>
    </div>
  );
}

/** The whole job's time left and the service's downtime so far: both estimates, and said to be. */
export function OverallLine({ overall }: { overall: JobEstimate }) {
  return (
    <p className="overall" data-testid="overall-eta">
      <strong>Whole job: </strong>
      {overall.remainingSeconds === null
        ? 'estimating the time left…'
        : `about ${formatDuration(overall.remainingSeconds)} left (an estimate${overall.measured ? ' from the speed so far' : ''}).`}
      {overall.serviceBackSeconds !== null ? (
        <>
          {' '}
          <strong>The service is stopped</strong> and starts again in about {formatDuration(overall.serviceBackSeconds)}{' '}
          (an estimate).
        </>
      ) : null}
    </p>
  );
}
