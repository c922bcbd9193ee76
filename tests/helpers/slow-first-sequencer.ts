import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Orders the test files longest first, so the workers finish together instead of one of them starting a 200 s
 * file near the end. vitest's own order needs its results cache, which a fresh CI machine does not have (it then
 * runs the biggest *source* files first, a poor guess here). The seconds come from tests/helpers/file-seconds.json
 * (one full `vitest run` on this 2-core machine, rounded); a file missing from it runs first, as vitest does with
 * files it has not seen. Refresh the table after big changes:
 *   npx vitest run --reporter=json --outputFile=/tmp/v.json, then each file's endTime - startTime.
 *
 * Browser files (tests/e2e: Chromium plus a whole engine each) are kept from running two at a time where the
 * estimate allows: the order is made by playing the run through on the workers, and while a browser file is
 * estimated to be running on one worker, the other takes the longest engine file instead of the next browser file.
 */
const TABLE = path.join(import.meta.dirname, 'file-seconds.json');
/** A file's start-up (fork, imports) on top of its tests, for the play-through. */
const START_UP_S = 2;

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = JSON.parse(readFileSync(TABLE, 'utf8')) as Record<string, number>;
    const root = this.ctx.config.root;
    const rel = (f: TestSpecification) => path.relative(root, f.moduleId).split(path.sep).join('/');
    const base = await super.sort(files);
    // Stable: files with equal (or no) figures keep vitest's order among themselves.
    const queue = base
      .map((f, i) => ({
        f,
        i,
        s: seconds[rel(f)] ?? Number.POSITIVE_INFINITY,
        browser: rel(f).startsWith('tests/e2e/'),
      }))
      .sort((a, b) => b.s - a.s || a.i - b.i);
    const workers: number[] = new Array<number>(Math.max(1, this.ctx.config.maxWorkers || 1)).fill(0);
    let browserUntil = 0;
    const out: TestSpecification[] = [];
    while (queue.length > 0) {
      const w = workers.indexOf(Math.min(...workers));
      const now = workers[w]!;
      let k = browserUntil > now ? queue.findIndex((x) => !x.browser) : 0;
      if (k < 0) k = 0;
      const [x] = queue.splice(k, 1);
      out.push(x!.f);
      workers[w] = now + (Number.isFinite(x!.s) ? x!.s : 0) + START_UP_S;
      if (x!.browser) browserUntil = workers[w]!;
    }
    return out;
  }
}
