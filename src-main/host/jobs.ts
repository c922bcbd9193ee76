import { randomUUID } from 'node:crypto';
import { RecoveryError, toRecoveryError } from '../engine/errors.js';
import type { EventSink, Interaction, RunbookEvent } from '../engine/runbook/types.js';
import type { JobEvent, JobEventEnvelope, JobKind, JobPrompt, ParsedInput, RunningJob } from '../shared/contract.js';

/**
 * Runs runbooks as jobs that any transport (Electron IPC, the loopback WebSocket) can watch, answer and
 * cancel. The host knows nothing about Electron or HTTP: it emits envelopes to subscribers and keeps a
 * replayable log so a renderer that reloaded can catch up with `job.events`.
 */
export type { JobKind };

export interface JobIo {
  emit: EventSink;
  interaction: Interaction;
  signal: AbortSignal;
}

export type JobRunner = (io: JobIo) => Promise<unknown>;

export type JobAnswer = ParsedInput<'job.respond'>['answer'];

interface PendingPrompt {
  promptId: string;
  prompt: JobPrompt;
  resolve: (a: JobAnswer) => void;
  reject: (e: unknown) => void;
}

interface Job {
  id: string;
  kind: JobKind;
  startedAt: string;
  changesMachine: boolean;
  log: JobEventEnvelope[];
  seq: number;
  done: boolean;
  /**
   * The runbook's own `finished`, held back until the job has really ended (its lock released, `done` true): a
   * page that starts the next job on `finished` would otherwise be refused as "still running".
   */
  finished: RunbookEvent | null;
  controller: AbortController;
  pending: Map<string, PendingPrompt>;
}

export type JobListener = (e: JobEventEnvelope) => void;

/** Finished jobs kept for replay; older ones are forgotten so a long-running serve stays small. */
const KEEP_FINISHED = 20;

const MACHINE_JOB_LABEL: Record<JobKind, string> = {
  backup: 'A backup',
  verify: 'A verification',
  restore: 'A restore',
  resume: 'A resumed restore',
  rollback: 'A rollback',
  credentials: 'Entering credentials',
  finish: 'Deleting the old folders',
  mirror: 'A copy of backups to a stick',
  practice: 'A practice run',
};

export class JobHost {
  private readonly jobs = new Map<string, Job>();
  private readonly listeners = new Set<JobListener>();
  private readonly busyListeners = new Set<(busy: boolean) => void>();

  /** Delivers every event of every job, live. Returns the unsubscribe function. */
  subscribe(listener: JobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with true when the first job starts and false when the last one ends (keep-awake, close guard). */
  onBusyChange(listener: (busy: boolean) => void): () => void {
    this.busyListeners.add(listener);
    return () => this.busyListeners.delete(listener);
  }

  get busy(): boolean {
    for (const j of this.jobs.values()) if (!j.done) return true;
    return false;
  }

  /** The running job that changes the machine (backup stops the service; restore moves folders), if any. */
  runningMachineJob(): { id: string; kind: JobKind } | null {
    for (const j of this.jobs.values()) if (!j.done && j.changesMachine) return { id: j.id, kind: j.kind };
    return null;
  }

  /**
   * Starts `run` as a job. Only one job that changes the machine may run at a time: two runbooks
   * stopping and starting the same service, or moving the same folders, would undo each other.
   */
  start(kind: JobKind, run: JobRunner, opts: { changesMachine: boolean }): string {
    if (opts.changesMachine) {
      const other = this.runningMachineJob();
      if (other) {
        const restoreLike = other.kind !== 'backup' && other.kind !== 'verify';
        throw new RecoveryError(
          restoreLike ? 'RESTORE_IN_PROGRESS' : 'BAD_INPUT',
          `${MACHINE_JOB_LABEL[other.kind]} is still running (${other.id}); only one job that changes this machine can run at a time.`,
          { hint: 'Wait for it to finish, or cancel it, then start again.', details: { runningJobId: other.id } },
        );
      }
    }
    const wasBusy = this.busy;
    const job: Job = {
      id: `job-${randomUUID()}`,
      kind,
      startedAt: new Date().toISOString(),
      changesMachine: opts.changesMachine,
      log: [],
      seq: 0,
      done: false,
      finished: null,
      controller: new AbortController(),
      pending: new Map(),
    };
    this.jobs.set(job.id, job);
    this.forgetOldJobs();
    if (!wasBusy) this.notifyBusy(true);

    const emit: EventSink = (e: RunbookEvent) => {
      if (job.done) return;
      if (e.type !== 'finished') return this.record(job, e);
      // Only the last one waits (a job of two runbooks says both, in order).
      if (job.finished !== null) this.record(job, job.finished);
      job.finished = e;
    };
    const interaction: Interaction = {
      confirm: async (request) => {
        const a = await this.ask(job, { kind: 'confirm', request });
        return a.kind === 'confirm' && a.ok;
      },
      credentials: async (request) => {
        const a = await this.ask(job, { kind: 'credentials', request });
        return a.kind === 'credentials' ? a.values : null;
      },
    };

    // Deferred so the caller has the id (and can subscribe) before the first event.
    setImmediate(() => {
      void this.drive(job, run, { emit, interaction, signal: job.controller.signal });
    });
    return job.id;
  }

  /**
   * The registry of jobs that are still running, oldest first, with the prompt each waits on: a renderer that
   * reloaded (or a second window) re-attaches to them instead of taking the machine for idle.
   */
  running(): RunningJob[] {
    const out: RunningJob[] = [];
    for (const j of this.jobs.values()) {
      if (j.done) continue;
      const first = j.pending.values().next();
      out.push({
        jobId: j.id,
        kind: j.kind,
        startedAt: j.startedAt,
        changesMachine: j.changesMachine,
        pending: first.done ? null : { promptId: first.value.promptId, prompt: first.value.prompt },
      });
    }
    return out;
  }

  /** Passes an answer to the runbook waiting on `promptId`. The answer (credentials!) is never recorded. */
  respond(jobId: string, promptId: string, answer: JobAnswer): boolean {
    const job = this.jobs.get(jobId);
    const p = job?.pending.get(promptId);
    if (!job || !p || p.prompt.kind !== answer.kind) return false;
    job.pending.delete(promptId);
    p.resolve(answer);
    return true;
  }

  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.done) return false;
    job.controller.abort(new RecoveryError('CANCELLED', 'Cancelled by the technician.'));
    // A runbook waiting on a prompt would never see the abort otherwise.
    for (const p of job.pending.values()) p.reject(new RecoveryError('CANCELLED', 'Cancelled by the technician.'));
    job.pending.clear();
    return true;
  }

  events(
    jobId: string,
    afterSeq = -1,
  ): { events: JobEventEnvelope[]; done: boolean; pending: { promptId: string; prompt: JobPrompt } | null } {
    const job = this.jobs.get(jobId);
    if (!job) {
      throw new RecoveryError('BAD_INPUT', `There is no job ${jobId}.`, {
        hint: 'The app was restarted or the job is too old; start again or check "restore status".',
      });
    }
    const first = job.pending.values().next();
    return {
      events: job.log.filter((e) => e.seq > afterSeq),
      done: job.done,
      pending: first.done ? null : { promptId: first.value.promptId, prompt: first.value.prompt },
    };
  }

  /** Cancels every running job and waits up to `timeoutMs` for them to end (app quit, server close). */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    for (const j of this.jobs.values()) if (!j.done) this.cancel(j.id);
    const until = Date.now() + timeoutMs;
    while (this.busy && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  private async drive(job: Job, run: JobRunner, io: JobIo): Promise<void> {
    let ok = true;
    let error: ReturnType<RecoveryError['toJSON']> | undefined;
    try {
      await run(io);
    } catch (e) {
      ok = false;
      const aborted = job.controller.signal.aborted;
      error = (
        aborted && !(e instanceof RecoveryError)
          ? new RecoveryError('CANCELLED', 'Cancelled by the technician.')
          : toRecoveryError(e)
      ).toJSON();
    }
    // Runbooks normally say `finished` themselves; the host only fills in when one threw before it could.
    // Runbooks declare their own result (RunbookResult); the host never guesses one from a return value.
    const fin: RunbookEvent =
      job.finished ?? (ok ? { type: 'finished', ok: true } : { type: 'finished', ok: false, error });
    // Done first, then `finished`: whoever hears it (or asks job.events) finds the job over and may start the next.
    job.done = true;
    for (const p of job.pending.values()) p.reject(new RecoveryError('CANCELLED', 'The job has ended.'));
    job.pending.clear();
    this.record(job, fin);
    if (!this.busy) this.notifyBusy(false);
  }

  private ask(job: Job, prompt: JobPrompt): Promise<JobAnswer> {
    if (job.controller.signal.aborted)
      return Promise.reject(new RecoveryError('CANCELLED', 'Cancelled by the technician.'));
    const promptId = randomUUID().slice(0, 8) + '-' + String(job.seq + 1);
    return new Promise<JobAnswer>((resolve, reject) => {
      job.pending.set(promptId, { promptId, prompt, resolve, reject });
      this.record(job, { type: 'prompt', promptId, prompt });
    });
  }

  private record(job: Job, event: JobEvent): void {
    const env: JobEventEnvelope = { jobId: job.id, seq: ++job.seq, event };
    // Progress arrives 5×/s; for replay only the latest of a run of progress events for one step matters.
    const last = job.log[job.log.length - 1];
    if (
      event.type === 'progress' &&
      last !== undefined &&
      last.event.type === 'progress' &&
      last.event.stepId === event.stepId
    ) {
      job.log[job.log.length - 1] = env;
    } else {
      job.log.push(env);
    }
    for (const l of this.listeners) {
      try {
        l(env);
      } catch {
        // A broken subscriber (closed window, dropped socket) must not stop the job.
      }
    }
  }

  private notifyBusy(busy: boolean): void {
    for (const l of this.busyListeners) {
      try {
        l(busy);
      } catch {
        // Same as above: a listener's failure is not the job's.
      }
    }
  }

  private forgetOldJobs(): void {
    const finished = [...this.jobs.values()].filter((j) => j.done);
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.id);
  }
}
