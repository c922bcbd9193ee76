import { afterEach, describe, expect, it, vi } from 'vitest';
import { PROGRESS_INTERVAL_MS, type Progress } from '../../src-main/engine/progress.js';
import {
  autoConfirm,
  executeRunbook,
  HEARTBEAT_CHECK_MS,
  type StepContext,
} from '../../src-main/engine/runbook/runner.js';
import type { RunbookEvent } from '../../src-main/engine/runbook/types.js';

afterEach(() => {
  vi.useRealTimers();
});

const progressOf = (events: RunbookEvent[], stepId: string): Progress[] =>
  events.flatMap((e) => (e.type === 'progress' && e.stepId === stepId ? [e.progress] : []));

describe('progress from the first second of every step', () => {
  it('repeats progress on a timer while a step is silent, and stops when the step ends', async () => {
    vi.useFakeTimers();
    const events: RunbookEvent[] = [];
    let release!: () => void;
    let step!: StepContext;
    const slow = new Promise<void>((r) => (release = r));
    const run = executeRunbook(
      {
        kind: 'backup',
        title: 't',
        cancel: 'The test job stops.',
        steps: [
          {
            id: 'prechecks',
            title: 'Pre-checks',
            explain: () => 'a step that reports nothing by itself at first',
            async run(_c, s) {
              step = s;
              await slow;
              return 'done';
            },
          },
        ],
      },
      {},
      { emit: (e) => events.push(e), interaction: autoConfirm },
    );
    // One second of a step that says nothing: at least 4 progress events, the first within 250 ms.
    expect(PROGRESS_INTERVAL_MS + HEARTBEAT_CHECK_MS).toBeLessThan(250);
    await vi.advanceTimersByTimeAsync(PROGRESS_INTERVAL_MS + HEARTBEAT_CHECK_MS);
    expect(progressOf(events, 'prechecks').length).toBe(1);
    await vi.advanceTimersByTimeAsync(1000 - PROGRESS_INTERVAL_MS - HEARTBEAT_CHECK_MS);
    const first = progressOf(events, 'prechecks');
    expect(first.length).toBeGreaterThanOrEqual(4);
    expect(first[0]).toMatchObject({ phase: 'working', bytes: 0, files: 0 });
    expect(first.at(-1)!.elapsedMs).toBeGreaterThan(first[0]!.elapsedMs);

    // Its own progress goes out as given; the next silence repeats it (same counts, later elapsed time).
    const own: Progress = {
      phase: 'scanning',
      bytes: 10,
      totalBytes: null,
      files: 3,
      totalFiles: null,
      rate: 5,
      etaSeconds: null,
      elapsedMs: 1000,
    };
    step.progress(own);
    const n = progressOf(events, 'prechecks').length;
    await vi.advanceTimersByTimeAsync(PROGRESS_INTERVAL_MS - 50);
    expect(progressOf(events, 'prechecks').length).toBe(n);
    await vi.advanceTimersByTimeAsync(100);
    const repeated = progressOf(events, 'prechecks').slice(n);
    expect(repeated.length).toBe(1);
    expect(repeated[0]).toMatchObject({ phase: 'scanning', bytes: 10, files: 3 });
    expect(repeated[0]!.elapsedMs).toBeGreaterThanOrEqual(1000 + PROGRESS_INTERVAL_MS);

    release();
    await run;
    const atEnd = events.length;
    await vi.advanceTimersByTimeAsync(2000);
    expect(events.length).toBe(atEnd);
  });
});
