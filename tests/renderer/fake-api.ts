import type {
  JobEvent,
  JobEventEnvelope,
  RecoveryApi,
  RequestInput,
  RequestName,
  RequestOutput,
} from '../../src-main/shared/contract.js';

type Handlers = { [K in RequestName]?: (input: RequestInput<K>) => RequestOutput<K> | Promise<RequestOutput<K>> };

/** A stand-in for window.recovery: records every call, answers from `handlers`, and lets a test emit job events. */
export function fakeApi(handlers: Handlers) {
  const calls: { name: RequestName; input: unknown }[] = [];
  const listeners = new Set<(e: JobEventEnvelope) => void>();
  const seqs = new Map<string, number>();
  const api: RecoveryApi = {
    async invoke(name, input) {
      calls.push({ name, input });
      // No job running unless a test says so (every start of the wizard asks).
      const h = (handlers[name] ?? (name === 'job.running' ? () => [] : undefined)) as
        | ((i: unknown) => unknown)
        | undefined;
      if (!h) throw Object.assign(new Error(`fake API has no handler for ${name}`), { code: 'INTERNAL' });
      return (await h(input)) as never;
    },
    onJobEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const emit = (jobId: string, event: JobEvent) => {
    const seq = (seqs.get(jobId) ?? -1) + 1;
    seqs.set(jobId, seq);
    for (const l of listeners) l({ jobId, seq, event });
  };
  return { api, calls, emit, callsOf: (n: RequestName) => calls.filter((c) => c.name === n).map((c) => c.input) };
}
