/**
 * How long a whole backup or restore takes, and how long the product's service is down, estimated from the
 * amount of data and a rate. Before a job runs the rates are assumed (this machine's measured figures, see
 * MACHINE-FACTS.md); while it runs the current step's measured speed scales the steps still to come. Pure:
 * the wizard's plan screens and its progress view use it; no Node, no Electron.
 */
import type { Progress } from '../engine/progress.js';
import type { StepInfo } from '../engine/runbook/types.js';

export interface WorkSize {
  /** Bytes of data in the folders (content, not the compressed archive). */
  bytes: number;
  files: number;
}

interface Rate {
  bytesPerSecond: number;
  secondsPerFile: number;
}

const MiB = 1024 * 1024;

/** The long steps' work per byte and per file, assumed before a job measured its own. */
export const ASSUMED_RATES: Readonly<Record<'archive' | 'verify' | 'extract', Rate>> = {
  // tar + gzip of mixed data (~30 MB/s for GNU tar -czf here), written to the stick.
  archive: { bytesPerSecond: 30 * MiB, secondsPerFile: 0.0005 },
  // Reading back, decompressing and hashing: faster than writing.
  verify: { bytesPerSecond: 100 * MiB, secondsPerFile: 0.0002 },
  // Unpacking with owner and mode per file: small files cost most.
  extract: { bytesPerSecond: 60 * MiB, secondsPerFile: 0.001 },
};

/** Stopping or starting a service and waiting for its health check, typically. */
export const SERVICE_SECONDS = 10;
/** A quick step (a check, a rename, a report). */
const QUICK_SECONDS = 2;

/** Which long steps a runbook has, by step id, and what kind of work each is. */
const HEAVY: Record<string, Record<string, keyof typeof ASSUMED_RATES>> = {
  backup: { archive: 'archive', verify: 'verify' },
  // The restore reads the backup once: its check is quick, the unpacking checks every hash.
  restore: { extract: 'extract' },
  verify: { verify: 'verify' },
  // Copying sets to a stick reads and writes every byte: about as slow as packing.
  mirror: { copy: 'archive' },
};
const SERVICE_STEPS = new Set(['stop-service', 'start-service', 'restart', 'rollback-stop', 'rollback-service']);

export function secondsFor(work: WorkSize, kind: keyof typeof ASSUMED_RATES): number {
  const r = ASSUMED_RATES[kind];
  return work.bytes / r.bytesPerSecond + work.files * r.secondsPerFile;
}

export interface PlanEstimate {
  /** The whole job, from start to the end (prompts answered at once). */
  totalSeconds: number;
  /** How long the product's service is stopped. */
  downtimeSeconds: number;
}

/**
 * Before a backup: the service is stopped through the archive and its read-back, then started again.
 * Before a restore: the backup is unpacked into staging (and every hash checked) while the service still runs;
 * it is down only from the stop through the swap, a look at the folders in place and the start (the owners'
 * check of every path runs on the staging folders before the stop).
 */
export function planEstimate(kind: 'backup' | 'restore', work: WorkSize): PlanEstimate {
  if (kind === 'backup') {
    const down = secondsFor(work, 'archive') + secondsFor(work, 'verify') + 2 * SERVICE_SECONDS;
    return { totalSeconds: down + 3 * QUICK_SECONDS, downtimeSeconds: down };
  }
  const down = 2 * SERVICE_SECONDS + 2 * QUICK_SECONDS;
  return {
    totalSeconds: secondsFor(work, 'extract') + down + SERVICE_SECONDS + 4 * QUICK_SECONDS,
    downtimeSeconds: down,
  };
}

export interface JobEstimate {
  /** Seconds until the whole job is done, or null while nothing is known yet. */
  remainingSeconds: number | null;
  /** While the job keeps the service stopped: seconds until it is started again; else null. */
  serviceBackSeconds: number | null;
  /** True once a step measured its own speed (the figure then rests on this machine's real rate). */
  measured: boolean;
}

/**
 * Time left for the whole job: the running long step's own time left (measured by the engine), plus the long
 * steps still to come at the assumed rates scaled by how fast this machine really is, plus the quick steps.
 * `work` is the job's size when the wizard knows it (the plan); otherwise the running step's totals stand in.
 */
export function jobEstimate(
  runbook: string | null,
  steps: readonly StepInfo[],
  current: { stepId: string; progress: Progress } | null,
  work: WorkSize | null,
): JobEstimate {
  const heavy = (runbook !== null ? HEAVY[runbook] : undefined) ?? {};
  const running = steps.find((s) => s.state === 'running') ?? null;
  const p = current && running && current.stepId === running.id ? current.progress : null;
  const size: WorkSize | null =
    work ?? (p && p.totalFiles !== null && p.totalBytes !== null ? { bytes: p.totalBytes, files: p.totalFiles } : null);
  let factor = 1;
  let measured = false;
  let now = 0;
  if (running) {
    const kind = heavy[running.id];
    if (kind && p && p.etaSeconds !== null && size) {
      // How this machine compares with the assumed rate, from the step's own projection.
      const projected = p.elapsedMs / 1000 + p.etaSeconds;
      const assumed = secondsFor(size, kind);
      if (assumed > 0 && p.elapsedMs >= 1000) {
        factor = Math.min(20, Math.max(0.05, projected / assumed));
        measured = true;
      }
      now = p.etaSeconds;
    } else if (kind) {
      if (!size) return { remainingSeconds: null, serviceBackSeconds: null, measured: false };
      now = secondsFor(size, kind);
    } else if (p && p.etaSeconds !== null) {
      // A step that is not one of the long ones but measures itself (a product's own copy step).
      now = p.etaSeconds;
    } else {
      now = SERVICE_STEPS.has(running.id) ? SERVICE_SECONDS : QUICK_SECONDS;
    }
  }
  const down =
    steps.some((s) => s.id === 'stop-service' && s.state === 'done') &&
    steps.some((s) => s.id === 'start-service' && (s.state === 'todo' || s.state === 'running'));
  let later = 0;
  let back: number | null = down && running?.id === 'start-service' ? now : null;
  for (const s of steps) {
    if (s.state !== 'todo') continue;
    const kind = heavy[s.id];
    if (kind) {
      if (!size) return { remainingSeconds: null, serviceBackSeconds: null, measured: false };
      later += secondsFor(size, kind) * factor;
    } else later += SERVICE_STEPS.has(s.id) ? SERVICE_SECONDS : QUICK_SECONDS;
    if (down && s.id === 'start-service') back = now + later;
  }
  return { remainingSeconds: now + later, serviceBackSeconds: back, measured };
}
