import { describe, expect, it } from 'vitest';
import { RESTORE_RUNBOOK } from '../../src-main/engine/restore/run-restore.js';
import { autoConfirm, cancelNow, executeRunbook } from '../../src-main/engine/runbook/runner.js';
import type { RunbookEvent, StepState } from '../../src-main/engine/runbook/types.js';

/**
 * What Cancel will do is the runbook's to say (each step declares what cancelling means while it runs and after
 * it), sent with the plan and every step change: the wizard shows it and knows no step ids.
 */
describe('cancelling: the runbook says what it will do', () => {
  const restoreNow = (states: Record<string, StepState>): string =>
    cancelNow(RESTORE_RUNBOOK, new Map(Object.entries(states).map(([id, state]) => [id, { state }])));

  it('tells a restore still unpacking (before the stop) from one past the stop', () => {
    expect(restoreNow({})).toBe('The restore stops before anything on this machine changed.');
    expect(restoreNow({ verify: 'done', compatibility: 'done', prechecks: 'done' })).toBe(
      'The restore stops before anything on this machine changed.',
    );
    expect(restoreNow({ verify: 'done', extract: 'running' })).toMatch(
      /partly unpacked copy is deleted; the service was never stopped\. Nothing on this machine changes/,
    );
    // Unpacked, the stop not confirmed yet (its question is open, the step still to do).
    expect(restoreNow({ verify: 'done', extract: 'done' })).toBe(
      'The restore stops before the service is stopped: the unpacked copy is deleted. Nothing on this machine changes.',
    );
    expect(restoreNow({ verify: 'done', extract: 'done', 'stop-service': 'running' })).toMatch(/roll back/);
    // Past the stop, every later step keeps that answer.
    expect(restoreNow({ extract: 'done', 'stop-service': 'done', swap: 'done', ownership: 'running' })).toMatch(
      /roll back .* or to resume later/,
    );
  });

  it('sends the answer with the plan and with every step change', async () => {
    const events: RunbookEvent[] = [];
    await executeRunbook(
      {
        kind: 'backup',
        title: 't',
        cancel: 'nothing changes yet',
        steps: [
          { id: 'a', title: 'A', explain: () => 'a', run: async () => 'a done' },
          {
            id: 'b',
            title: 'B',
            explain: () => 'b',
            cancel: { during: 'b is undone', after: 'b is kept' },
            run: async () => 'b done',
          },
          { id: 'c', title: 'C', explain: () => 'c', run: async () => 'c done' },
        ],
      },
      {},
      { emit: (e) => events.push(e), interaction: autoConfirm },
    );
    const said = events.flatMap((e) =>
      e.type === 'plan'
        ? [`plan: ${e.cancel}`]
        : e.type === 'step'
          ? [`${e.step.id} ${e.step.state}: ${e.cancel}`]
          : [],
    );
    expect(said).toEqual([
      'plan: nothing changes yet',
      'a running: nothing changes yet',
      'a done: nothing changes yet',
      'b running: b is undone',
      'b done: b is kept',
      'c running: b is kept',
      'c done: b is kept',
    ]);
  });
});
