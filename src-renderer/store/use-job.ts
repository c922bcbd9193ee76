import { useEffect, useMemo } from 'react';
import { useApi } from '../api.js';
import { deriveRunbook, EMPTY_VIEW, type RunbookView } from '../lib/runbook-view.js';
import { selectAnswered, selectJobEvents, useWizard } from './wizard-store.js';

/** The job as its events describe it; recomputed only when its events or the answered prompts change. */
export function useJobView(jobId: string): RunbookView {
  const envs = useWizard(selectJobEvents(jobId));
  const answered = useWizard(selectAnswered);
  return useMemo(() => (envs ? deriveRunbook(envs, answered) : EMPTY_VIEW), [envs, answered]);
}

/**
 * Fetches the events a job emitted before this screen subscribed (or while the page was reloading), then keeps
 * asking every few seconds until the job is done, in case the event stream dropped (a reconnecting WebSocket).
 */
export function useJobCatchUp(jobId: string): void {
  const api = useApi();
  const addEvents = useWizard((s) => s.addEvents);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const last = useWizard.getState().events[jobId]?.at(-1)?.seq ?? -1;
        const r = await api.invoke('job.events', { jobId, afterSeq: last });
        if (stopped) return;
        addEvents(r.events);
        if (r.done) return;
      } catch {
        // The live stream is the main path; a failed catch-up is retried below.
      }
      if (!stopped) timer = setTimeout(() => void tick(), 3000);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [api, jobId, addEvents]);
}

export type PromptAnswer =
  | { kind: 'confirm'; ok: boolean }
  | { kind: 'credentials'; values: Record<string, Record<string, string>> | null };
