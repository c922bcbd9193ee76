import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Envelope, JobEventEnvelope } from '../shared/contract.js';
import type { HelperMessage } from './helper-channel.js';

/**
 * The unprivileged side of the helper channel (Electron main): sends contract requests to the helper and relays
 * its job events. Same surface as the local handler table, so the window's IPC does not care which one answers.
 */
export class HelperClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (e: Envelope<unknown>) => void>();
  private readonly listeners = new Set<(e: JobEventEnvelope) => void>();
  private readonly busyListeners = new Set<(busy: boolean) => void>();
  private isBusy = false;
  private closed = false;
  readonly ready: Promise<{ pid: number; elevated: boolean }>;

  constructor(
    input: Readable,
    private readonly output: Writable,
    onEnd: () => void = () => undefined,
  ) {
    let ready!: (v: { pid: number; elevated: boolean }) => void;
    let failed!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      ready = res;
      failed = rej;
    });
    const lines = createInterface({ input, crlfDelay: Infinity });
    lines.on('line', (line) => {
      let m: HelperMessage;
      try {
        m = JSON.parse(line) as HelperMessage;
      } catch {
        return;
      }
      if ('ready' in m) ready(m.ready);
      else if ('jobEvent' in m) for (const l of this.listeners) l(m.jobEvent);
      else if ('busy' in m) {
        this.isBusy = m.busy;
        for (const l of this.busyListeners) l(m.busy);
      } else if ('id' in m) {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.(m.envelope);
      }
    });
    lines.on('close', () => {
      this.closed = true;
      failed(new Error('the privileged helper ended before it was ready'));
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        w({
          ok: false,
          error: { code: 'INTERNAL', message: 'The privileged helper has ended.', hint: 'Start the wizard again.' },
        });
      }
      if (this.isBusy) {
        this.isBusy = false;
        for (const l of this.busyListeners) l(false);
      }
      onEnd();
    });
  }

  get running(): boolean {
    return !this.closed;
  }

  dispatch(name: string, input: unknown): Promise<Envelope<unknown>> {
    if (this.closed) {
      return Promise.resolve({
        ok: false,
        error: { code: 'INTERNAL', message: 'The privileged helper is not running.' },
      });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.output.write(JSON.stringify({ id, name, input }) + '\n');
    });
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
    return this.isBusy;
  }

  /** Ends the channel: the helper cancels its jobs and exits. */
  close(): void {
    if (!this.closed) this.output.end();
  }
}
