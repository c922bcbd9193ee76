import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ageWordsBetween } from '../helpers/age-words.js';
import { browserSkipReason } from './helpers/browser.js';
import { heading, LONG, practiceBackup } from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';
import { useWizardSession } from './helpers/session.js';

const skip = browserSkipReason();

describe.skipIf(skip !== null)('wizard in a browser: the start screen shows the last backup’s age', () => {
  const session = useWizardSession();

  it(
    'says when and where the last verified backup was made, and prints the emergency kit',
    { timeout: 600_000 },
    async () => {
      const page = session.page;
      const rec = new ScreenRecorder(page, 'backup-age');
      const location = await practiceBackup(page, rec);
      const { createdAt } = JSON.parse(await fsp.readFile(path.join(location.trim(), 'manifest.json'), 'utf8')) as {
        createdAt: string;
      };
      const from = Date.now();
      await page.getByRole('button', { name: 'Back to start' }).click();
      await heading(page, 'What do you want to do?');
      const note = page.getByTestId('last-backup');
      await note.waitFor(LONG);
      const text = (await note.textContent()) ?? '';
      // "just now" on a quick machine; a loaded one may be past the minute by the time the start screen asks.
      const age = ageWordsBetween(createdAt, from, Date.now());
      expect(text).toMatch(
        new RegExp(
          `Last verified backup of the “old” practice machine: ${age} \\(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, manual\\)`,
        ),
      );
      expect(text).toContain(location.trim());
      await rec.capture('start-last-backup');
      await page.getByRole('button', { name: 'Print the emergency kit' }).click();
      const kit = page.getByRole('region', { name: 'Emergency kit' });
      await kit.waitFor(LONG);
      await rec.capture('start-emergency-kit');
      await page.getByRole('button', { name: 'Copy backups to a stick' }).click();
      await heading(page, 'Copy backups to a stick');
      await rec.capture('mirror-drive');
    },
  );
});
