import type { HelperClient } from '../host/helper-client.js';
import type { RequestHost } from '../host/handlers.js';
import type { Envelope, JobEventEnvelope } from '../shared/contract.js';

/**
 * What the window's IPC talks to: the local (unprivileged) handler table until the technician grants
 * administrator rights, then the privileged helper for everything, except the jobs that were already running here.
 */
export class RequestRouter {
  private helper: HelperClient | null = null;
  private readonly localJobs = new Set<string>();
  private readonly listeners = new Set<(e: JobEventEnvelope) => void>();
  private readonly busyListeners = new Set<(busy: boolean) => void>();
  private unsubscribeHelper: (() => void)[] = [];

  constructor(private readonly local: RequestHost) {
    local.jobs.subscribe((e) => this.emit(e));
    local.jobs.onBusyChange(() => this.notifyBusy());
  }

  get elevated(): boolean {
    return this.helper?.running === true;
  }

  attachHelper(helper: HelperClient): void {
    this.helper = helper;
    this.unsubscribeHelper = [helper.subscribe((e) => this.emit(e)), helper.onBusyChange(() => this.notifyBusy())];
  }

  /** The helper ended (or was never started): back to the local table. */
  detachHelper(): void {
    for (const u of this.unsubscribeHelper) u();
    this.unsubscribeHelper = [];
    this.helper = null;
    this.notifyBusy();
  }

  async dispatch(name: string, input: unknown): Promise<Envelope<unknown>> {
    const jobId = (input as { jobId?: unknown } | null)?.jobId;
    const useLocal =
      this.helper === null ||
      !this.helper.running ||
      name === 'app.relaunchElevated' ||
      (typeof jobId === 'string' && this.localJobs.has(jobId));
    const env = useLocal ? await this.local.dispatch(name, input) : await this.helper!.dispatch(name, input);
    if (useLocal && env.ok) {
      // Jobs started here stay here: their events, answers and cancel go to this table.
      const id = (env.value as { jobId?: unknown } | null)?.jobId;
      if (typeof id === 'string') this.localJobs.add(id);
    }
    return env;
  }

  subscribe(listener: (e: JobEventEnvelope) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onBusyChange(listener: (busy: boolean) => void): () => void {
    this.busyListeners.add(listener);
    return () => this.busyListeners.delete(listener);
  }

  get busy(): boolean {
    return this.local.jobs.busy || this.helper?.busy === true;
  }

  async shutdown(): Promise<void> {
    this.helper?.close();
    await this.local.jobs.shutdown();
  }

  private emit(e: JobEventEnvelope): void {
    for (const l of this.listeners) l(e);
  }

  private notifyBusy(): void {
    const b = this.busy;
    for (const l of this.busyListeners) l(b);
  }
}
