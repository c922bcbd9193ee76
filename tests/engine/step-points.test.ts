import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import { summarize } from '../../src-main/host/profile-views.js';

/**
 * Where a product's own step runs, as the wizard lists it before a product practice (driven at 1366x768): EVC-net
 * Edge's "Download the backup from the Edge" read "(while the service is stopped)" and "Make a manual backup"
 * "(before the service stops)", but EVC-net Edge is never stopped (stopService: []: it backs itself up while it
 * runs). The words come from the engine now, knowing whether the service stops on that side.
 */
describe('product steps’ points in words', () => {
  it('a product that is never stopped is never said to stop', async () => {
    const steps = summarize(await loadProfile('evc-edge'), 'evc-edge').productSteps!;
    const when = Object.fromEntries(steps.map((s) => [s.id, s.when]));
    expect(steps.filter((s) => /stop/.test(s.when))).toEqual([]);
    expect(steps.map((s) => s.when)).toContain('while the service runs');
    expect(Object.values(when)).toContain('first, while the service runs');
  });

  it('a product stopped for its backup and restore keeps "while the service is stopped"', async () => {
    const steps = summarize(await loadProfile('stackstate-linux'), 'stackstate-linux').productSteps!;
    const byPoint = new Map(steps.map((s) => [s.at, s.when]));
    expect(byPoint.get('backup.after-stop')).toBe('while the service is stopped');
    expect(byPoint.get('backup.before-stop')).toBe('before the service stops');
    expect(byPoint.get('restore.after-stop')).toBe('while the service is stopped');
  });
});
