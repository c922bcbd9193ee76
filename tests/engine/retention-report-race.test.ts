import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { giveTo, shAs } from '../helpers/as-account.js';
import { isRoot } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { watchOpens } from '../helpers/open-watch.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * Retention removes the reports of the sets it removed, each found by the set it names: it read every
 * report-backup-*.json in the device folder, judged by lstat and then read by its name (following a link). An account
 * that may write the device folder (its own stick's) swaps a report for a link to a device node between the two: root
 * opened the device (a watchdog starts on open), or waited on a FIFO for ever. The moment of the swap is the test's
 * (the account swaps right after root's first look at the report, whatever that look is), not the machine's timing.
 */
const OWNER = 'edge-rrr';

describe.skipIf(!isRoot)('retention reading the reports in a device folder another account may write', () => {
  let work = '';

  beforeAll(() => {
    ensureTestOwner(OWNER);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('never opens what a report was swapped for after it was judged', async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'retention-report-race-'));
    await fsp.chmod(work, 0o755);
    const root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration', 'app.conf'), 'setting=1\n');
    const stick = path.join(work, 'stick');
    const dev = path.join(stick, 'EdgeRecovery', 'box');
    await fsp.mkdir(dev, { recursive: true, mode: 0o755 });
    await giveTo(OWNER, stick, path.dirname(dev), dev);
    const node = path.join(work, 'watchdog-like');
    execFileSync('mknod', ['-m', '666', node, 'c', '1', '3']);
    const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');
    const backup = (at: string, keep?: number): Promise<string> =>
      runBackup(
        {
          profile,
          to: stick,
          root,
          deviceId: 'box',
          stateDir: path.join(work, 'state'),
          now: new Date(at),
          ...(keep !== undefined ? { keep } : {}),
        },
        { emit: () => undefined, interaction: autoConfirm },
      ).then(
        (r) => `ok: ${r.removedOld.length} removed`,
        (e: unknown) => String((e as { code?: string }).code ?? e),
      );
    expect(await backup('2026-11-01T10:00:00Z')).toBe('ok: 0 removed');
    const reports = (await fsp.readdir(dev)).filter((n) => /^report-backup-.*\.json$/.test(n));
    expect(reports).toHaveLength(1);
    const report = path.join(dev, reports[0]!);
    // Right after root's first look at the report (lstat, or open), the account swaps it for a link to the node.
    let swapped = false;
    const swapAfter =
      <A extends unknown[], R>(real: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const r = await real(...a);
        if (!swapped && typeof a[0] === 'string' && path.basename(a[0]) === path.basename(report)) {
          swapped = true;
          shAs(OWNER, 'ln -s "$1" "$2.new" && mv -f "$2.new" "$2"', node, report);
        }
        return r;
      };
    const realLstat = fsp.lstat.bind(fsp);
    const realOpen = fsp.open.bind(fsp);
    vi.spyOn(fsp, 'lstat').mockImplementation(swapAfter(realLstat) as typeof fsp.lstat);
    vi.spyOn(fsp, 'open').mockImplementation(swapAfter(realOpen) as typeof fsp.open);
    const watch = await watchOpens([node], path.join(work, 'sentinel'));
    let outcome: string;
    try {
      outcome = await backup('2026-11-02T10:00:00Z', 1);
      await watch.settle();
    } finally {
      watch.stop();
      vi.restoreAllMocks();
    }
    // The race was live (the old set removed, its report looked at, then swapped), and the node never opened.
    expect({ outcome, swapped }).toEqual({ outcome: 'ok: 1 removed', swapped: true });
    expect(watch.saw(node)).toBe(false);
  }, 180_000);
});
