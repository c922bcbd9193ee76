import { describe, expect, it } from 'vitest';
import { runWorkerJob } from '../../src-main/engine/util/worker.js';

const entry = new URL('../fixtures/workers/late-crash-worker.ts', import.meta.url);

describe('a worker job that fails, then throws', () => {
  it("reports the job's own error, not the uncaught exception that follows it", async () => {
    // The job's answer comes on the worker's port, the uncaught exception as the worker's 'error' event: two
    // channels, so either may arrive first. Several runs, since the order varies.
    for (let i = 0; i < 12; i++) {
      const e = await runWorkerJob('lateCrash', {}, {}, { entry }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toMatchObject({ code: 'FILE_TOO_LARGE' });
    }
  }, 60_000);

  it('reports the uncaught exception when the job never answered', async () => {
    const e = await runWorkerJob('crashOnly', {}, {}, { entry }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'INTERNAL' });
    expect(String((e as Error).message)).toContain('an uncaught exception and no answer');
  }, 30_000);
});
