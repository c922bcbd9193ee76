// Sizes are written by the one rule the wizard's screens use too.
export { formatBytes } from '../shared/size.js';

/** Progress of a long job, emitted at least 4 times a second while it runs. */
export interface Progress {
  /** What is being done now, in a few words ("archiving", "verifying", "unpacking"). */
  phase: string;
  bytes: number;
  totalBytes: number | null;
  files: number;
  totalFiles: number | null;
  /** Bytes per second over the last few seconds. */
  rate: number;
  etaSeconds: number | null;
  elapsedMs: number;
  /** The file being worked on, relative to the item root. */
  current?: string;
}

export type ProgressSink = (p: Progress) => void;

/**
 * Emit interval: 10 per second. The UI needs 4/s, i.e. no silence over 250 ms, as the technician sees it: after
 * the hops from a worker to the main thread to the output. At 200 ms the full-scale bench saw silences of
 * 203–256 ms on a quiet machine; at 150 ms 151–242 ms quiet, and 208–278 ms with the machine's two cores shared
 * with a test run (load 4): each hop waits its turn for a core. At 100 ms that leaves 150 ms for those waits.
 */
export const PROGRESS_INTERVAL_MS = 100;

/**
 * Counts bytes and files and calls `sink` at most every `intervalMs`, checked on every `add`
 * (so it works inside a worker whose loop does synchronous I/O and never yields to timers).
 */
/** Progress before any figure is known (a step or worker that has not reported yet): only the phase and the clock. */
export function progressWithoutFigures(phase: string, elapsedMs: number): Progress {
  return { phase, bytes: 0, totalBytes: null, files: 0, totalFiles: null, rate: 0, etaSeconds: null, elapsedMs };
}

export class ProgressMeter {
  private bytes = 0;
  private files = 0;
  private readonly start = Date.now();
  private lastEmit = 0;
  private readonly samples: Array<{ t: number; b: number }> = [];
  private current: string | undefined;

  constructor(
    private readonly phase: string,
    private readonly totals: { bytes: number | null; files: number | null },
    private readonly sink: ProgressSink,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  add(bytes: number, files = 0, current?: string): void {
    this.bytes += bytes;
    this.files += files;
    if (current !== undefined) this.current = current;
    const now = Date.now();
    if (now - this.lastEmit >= this.intervalMs) this.emit(now);
  }

  /** Emits now, whatever the interval (used at the end of a phase). */
  flush(): void {
    this.emit(Date.now());
  }

  snapshot(now = Date.now()): Progress {
    this.samples.push({ t: now, b: this.bytes });
    while (this.samples.length > 2 && now - this.samples[0]!.t > 3000) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    const elapsed = now - this.start;
    const rate = dt > 0.05 ? (this.bytes - first.b) / dt : elapsed > 0 ? (this.bytes / elapsed) * 1000 : 0;
    const total = this.totals.bytes;
    const eta = total !== null && rate > 0 ? Math.max(0, (total - this.bytes) / rate) : null;
    const p: Progress = {
      phase: this.phase,
      bytes: this.bytes,
      totalBytes: total,
      files: this.files,
      totalFiles: this.totals.files,
      rate,
      etaSeconds: eta,
      elapsedMs: elapsed,
    };
    if (this.current !== undefined) p.current = this.current;
    return p;
  }

  private emit(now: number): void {
    this.lastEmit = now;
    this.sink(this.snapshot(now));
  }
}

/** `1 file`, `3 files`: a count with its noun, for messages a technician reads (never "file(s)"). */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
