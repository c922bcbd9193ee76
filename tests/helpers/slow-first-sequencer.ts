import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Orders the test files longest first, so the two workers finish together instead of one of them starting a
 * 285 s file near the end. vitest's own order needs its results cache, which a fresh CI machine does not have
 * (it then runs the biggest *source* files first, a poor guess here). The seconds come from
 * tests/helpers/file-seconds.json (one full `vitest run` on this 2-core machine, rounded); a file missing from it
 * runs first, as vitest does with files it has not seen. Refresh the table after big changes:
 *   npx vitest run --reporter=json --outputFile=/tmp/v.json, then take each file's endTime - startTime.
 */
const TABLE = path.join(import.meta.dirname, 'file-seconds.json');

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = JSON.parse(readFileSync(TABLE, 'utf8')) as Record<string, number>;
    const root = this.ctx.config.root;
    const known = (f: TestSpecification) => seconds[path.relative(root, f.moduleId).split(path.sep).join('/')];
    const base = await super.sort(files);
    // Stable: files with equal (or no) figures keep vitest's order among themselves.
    return base
      .map((f, i) => ({ f, i, s: known(f) ?? Number.POSITIVE_INFINITY }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .map((x) => x.f);
  }
}
