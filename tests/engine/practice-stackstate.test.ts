import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackupSet } from '../../src-main/engine/backup/manifest.js';
import { runProductPractice } from '../../src-main/practice/product-practice.js';
import { runCli } from '../helpers/cli.js';
import { runitServiceMaker } from '../helpers/practice-runit.js';
import { restoreTestsBlocked } from '../helpers/restore-driver.js';

const why = restoreTestsBlocked();

describe.skipIf(why !== undefined)('StackState 4.6 (Linux) end to end on its stand-in', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-stackstate-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('exports with StackGraph running and StackState stopped, imports on the new server, follows the log, starts it (runit)', async () => {
    const steps: string[] = [];
    const logs: string[] = [];
    const r = await runProductPractice(
      'stackstate-linux',
      {
        emit: (e) => {
          if (e.type === 'step' && e.step.state !== 'running') steps.push(`${e.step.id}:${e.step.state}`);
          if (e.type === 'log') logs.push(e.message);
        },
        interaction: { confirm: async () => true, credentials: async () => null },
      },
      { baseDir: dir, keep: true, makeService: runitServiceMaker },
    );
    expect(r.check).toContain('holds the old topology (120 components)');
    // The backup's plan: StackGraph checked before StackState stops; the export after; the file into the set.
    expect(steps.slice(0, 9)).toEqual([
      'prechecks:done',
      'version:done',
      'stackgraph-runs:done',
      'stop-service:done',
      'open-files:skipped',
      'graph-export:done',
      'archive:done',
      'graph-file:done',
      'verify:done',
    ]);
    expect(steps).toContain('graph-import:done');
    expect(steps).toContain('import-log:done');
    expect(logs.some((l) => l.includes("Export of graph 'default' finished"))).toBe(true);
    expect(logs.some((l) => l.includes("Import of graph 'default' completed successfully"))).toBe(true);
    const { manifest } = await readBackupSet(r.setDir);
    expect(manifest.productVersion).toBe('4.6.0');
    expect(manifest.artifacts).toHaveLength(1);
    expect(manifest.artifacts[0]!.path).toBe('artifacts/graph-file/stackstate-export.graph');
    for (const rep of r.reports) await fsp.access(rep);
    const html = await fsp.readFile(r.reports.find((p) => p.endsWith('.html'))!, 'utf8');
    expect(html).toContain('Wait until the import completes');
  });

  it('profiles lists the product profiles', async () => {
    const r = await runCli(['profiles']);
    expect(r.stdout).toContain('stackstate-linux');
    expect(r.stdout).toContain('opencrvs');
  });
});
