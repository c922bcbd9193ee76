import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPdfPrinter } from '../../src-main/engine/report/chromium-pdf.js';
import { PDF_MARGINS } from '../../src-main/engine/report/pdf.js';
import { uidForUser } from '../../src-main/engine/util/system-users.js';

/**
 * As root, the CLI's PDF printer runs Chromium as `nobody` in a fresh home folder owned by `nobody`, and deletes that
 * folder afterwards. `nobody` is shared by every daemon that runs as it, and Chromium itself renders the report there:
 * whatever runs as `nobody` can change that folder while root deletes it. Here the "Chromium" is a stand-in that does
 * just that (fills its home with folders, leaves a helper that swaps them for links to a root-only folder, and exits).
 */
const blocked =
  process.getuid?.() !== 0 ? 'needs root' : uidForUser('nobody') === undefined ? 'no nobody account' : undefined;
const RACER = fileURLToPath(new URL('../helpers/racer.mjs', import.meta.url));

describe.skipIf(blocked !== undefined)(
  `the PDF printer's home folder${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    const savedTmp = process.env.TMPDIR;
    beforeAll(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pdf-home-race-'));
      await fsp.chmod(dir, 0o755);
    });
    afterAll(async () => {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('is deleted without following the links that processes of nobody swap in meanwhile', async () => {
      const victim = path.join(dir, 'victim');
      await fsp.mkdir(victim, { mode: 0o700 });
      for (let i = 0; i < 400; i++) await fsp.writeFile(path.join(victim, `f${i}`), 'root only');
      const stop = path.join(dir, 'stop');
      const tmp = path.join(dir, 'tmp');
      await fsp.mkdir(tmp, { mode: 0o755 });
      const fake = path.join(dir, 'fake-chromium');
      await fsp.writeFile(
        fake,
        [
          '#!/bin/sh',
          'for d in 0 1 2 3 4 5 6 7; do mkdir "$HOME/sub$d"; i=0; while [ $i -lt 400 ]; do : > "$HOME/sub$d/f$i"; i=$((i+1)); done; done',
          `setsid ${process.execPath} ${RACER} toggle-dir "$(dirname "$HOME")" "$(basename "$HOME")" sub ${victim} ${stop} 30 </dev/null >/dev/null 2>&1 3>&- 4>&- &`,
          'sleep 0.3',
          'exit 1',
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      // The printer's home goes into the system temp folder: our own here, so nothing else's is touched.
      process.env.TMPDIR = tmp;
      const print = chromiumPdfPrinter({ executable: fake, timeoutMs: 20_000 });
      let error = '';
      try {
        await print({
          html: '<p>report</p>',
          headerTemplate: '',
          footerTemplate: '',
          paper: 'A4',
          margins: { ...PDF_MARGINS },
        }).catch((e: Error) => (error = e.message));
      } finally {
        await fsp.writeFile(stop, '');
      }
      expect(error).toMatch(/Chromium ended/);
      // The helper ends when the home is gone or it sees the stop file: give it a moment, then count.
      await new Promise((r) => setTimeout(r, 500));
      expect(existsSync(victim)).toBe(true);
      expect(readdirSync(victim).length).toBe(400);
    }, 60_000);
  },
);
