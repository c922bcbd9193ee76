import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from './helpers/browser.js';
import { heading, LONG, pickNewestBackup } from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';
import { useWizardSession, type WizardSession } from './helpers/session.js';

const skip = browserSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

/** Words of the CLI that must never reach a wizard screen. */
const CLI_WORDS = /(^|\s)--[a-z]|edge-recovery [a-z]|Error code|\bDECLINED\b/;

async function expectNoCliWords(page: Page): Promise<void> {
  const text = await page.locator('body').innerText();
  expect(text.match(CLI_WORDS)?.[0] ?? null, 'no CLI words on the screen').toBeNull();
}

/** Entirely inside the window: seen without scrolling. */
async function expectInView(page: Page, target: Locator): Promise<void> {
  await target.waitFor(LONG);
  const box = await target.boundingBox();
  const vp = page.viewportSize()!;
  expect(box).not.toBeNull();
  expect(box!.y).toBeGreaterThanOrEqual(0);
  expect(box!.y + box!.height).toBeLessThanOrEqual(vp.height);
  expect(box!.x + box!.width).toBeLessThanOrEqual(vp.width);
}

/** The step indicator marks `label` as the current stage. */
async function expectStage(page: Page, label: string): Promise<void> {
  // Waits for the indicator to move there (a screen changes after its job starts): fails if it never does.
  await page.locator('.step-indicator [aria-current="step"]', { hasText: label }).waitFor(LONG);
  expect(await page.locator('.step-indicator [aria-current="step"]').count()).toBe(1);
}

/** A disabled button that says why, beside it (aria-describedby), in visible words. */
async function expectDisabledWithReason(page: Page, name: string, reason: RegExp): Promise<void> {
  const b = page.getByRole('button', { name, exact: true });
  await b.waitFor(LONG);
  expect(await b.isDisabled()).toBe(true);
  const id = await b.getAttribute('aria-describedby');
  expect(id).toBeTruthy();
  const why = page.locator(`[id="${id}"]`);
  expect(await why.isVisible()).toBe(true);
  expect(await why.textContent()).toMatch(reason);
}

/** Records every state of the progress view the page shows, as `phase|label|files|whole job`. */
async function recordProgress(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { progressSeen: string[] }).progressSeen = seen;
    new MutationObserver(() => {
      const p = document.querySelector('.progress');
      if (!p) return;
      const line = [
        p.getAttribute('data-phase') ?? '',
        p.querySelector('.progress-label')?.textContent ?? '',
        p.querySelector('[data-testid="progress-files"]')?.textContent ?? '',
        document.querySelector('[data-testid="overall-eta"]')?.textContent ?? '',
      ].join('|');
      if (seen.at(-1) !== line) seen.push(line);
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

/** Files enough that verifying and unpacking each run long enough to be seen counting. */
async function addManyFiles(serverDir: string): Promise<void> {
  const base = path.join(serverDir, 'practice');
  const name = (await fsp.readdir(base)).find((n) => n.startsWith('edge-recovery-practice-'))!;
  const root = path.join(base, name, 'old', 'root');
  let storage = '';
  for (const e of await fsp.readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isDirectory() && e.name === 'Storage') storage = path.join(e.parentPath, e.name);
  }
  expect(storage).not.toBe('');
  const dir = path.join(storage, 'newcomer-data');
  await fsp.mkdir(dir, { recursive: true });
  const chunk = Buffer.alloc(2048, 7);
  for (let i = 0; i < 1500; i++) await fsp.writeFile(path.join(dir, `f${i}.dat`), chunk);
}

async function backupAndVerify(session: WizardSession, width: number, height: number): Promise<void> {
  const page = session.page;
  const rec = new ScreenRecorder(page, `newcomer-${width}x${height}`);
  await heading(page, 'What do you want to do?');
  await expectNoCliWords(page);
  await rec.capture('start');
  await page.getByRole('button', { name: 'Practice', exact: true }).click();
  await heading(page, 'Practice backup: what will be copied');
  await addManyFiles(session.server.dir);
  // Measured again with the added files.
  await page.getByRole('button', { name: 'Back' }).click();
  await page.getByRole('button', { name: 'Practice a backup' }).click();
  await heading(page, 'Practice backup: what will be copied');
  await page.getByRole('table', { name: 'Folders to back up' }).waitFor(LONG);
  await expectStage(page, 'What is copied');
  const estimate = page.getByTestId('time-estimate');
  await estimate.waitFor(LONG);
  expect(await estimate.textContent()).toMatch(/service is stopped for about .+An estimate from/);
  expect(await page.getByTestId('need-bytes').first().textContent()).toMatch(/MiB|KiB|GiB/);
  await page.getByRole('table', { name: 'Free space on each stick' }).waitFor(LONG);
  // The screen's own button is in the window without scrolling, however long the plan is.
  await expectInView(page, page.getByRole('button', { name: 'Choose the USB stick' }));
  await expectNoCliWords(page);
  await rec.capture('backup-plan');

  await page.getByRole('button', { name: 'Choose the USB stick' }).click();
  await heading(page, 'Practice backup: choose the stick');
  await expectStage(page, 'Choose the stick');
  await expectDisabledWithReason(page, 'Use this stick', /Choose a stick/);
  await rec.capture('backup-stick-why-disabled');
  await page.getByRole('radio', { name: /Practice stick/ }).check(LONG);
  await page.getByRole('button', { name: 'Use this stick' }).click();
  await page.getByRole('button', { name: /Yes, write the backup/ }).click(LONG);

  await heading(page, 'Practice backup: ready to start');
  await expectStage(page, 'Options');
  await page.getByLabel(/Encrypt the backup/).check();
  await expectDisabledWithReason(page, 'Start the backup', /Type a passphrase/);
  await page.getByLabel('Passphrase', { exact: true }).fill('one passphrase');
  await page.getByLabel('Type the passphrase again').fill('another');
  await expectDisabledWithReason(page, 'Start the backup', /not the same/);
  await rec.capture('backup-options-why-disabled');
  await page.getByLabel(/Encrypt the backup/).uncheck();
  await page.getByRole('button', { name: 'Start the backup' }).click();

  await heading(page, /^Practice backup$/);
  await expectStage(page, 'Back up');
  const stop = page.getByRole('button', { name: 'Stop the service' });
  await expectInView(page, stop);
  await rec.capture('backup-confirm-stop');
  await recordProgress(page);
  await stop.click();
  // Best effort: a picture of the progress while it runs (the assertions use the recording).
  await page
    .locator('.progress')
    .waitFor({ timeout: 10_000 })
    .then(() => rec.capture('backup-progress'))
    .catch(() => undefined);
  // What the progress said while the job ran, recorded on every change of the page (a phase can be shorter than
  // a poll): words for what it does, files counted against their total, the whole job's time left.
  const progressSeen = async (): Promise<string[]> =>
    page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
  await page.getByRole('heading', { name: 'The backup is on the stick and checked' }).waitFor(LONG);
  const seen = await progressSeen();
  expect(
    seen.some((l) =>
      /^archiving\|Packing the folders and writing to the stick.*\|[\d,]+ of [\d,]{4,}\|Whole job: /.test(l),
    ),
    seen.join('\n'),
  ).toBe(true);
  await expectNoCliWords(page);
  await rec.capture('backup-done');

  // Verify a backup, from the start screen: stick → backup → check, with progress and Cancel.
  await page.getByRole('button', { name: 'Back to start' }).click();
  await heading(page, 'What do you want to do?');
  await page.getByRole('button', { name: 'Verify a backup' }).click();
  await heading(page, 'Verify a backup: choose the stick');
  await expectStage(page, 'Choose the stick');
  await page.getByRole('radio', { name: /Practice stick/ }).check(LONG);
  await rec.capture('verify-stick');
  await page.getByRole('button', { name: 'Look for backups on this stick' }).click();
  await heading(page, 'Verify a backup: choose the backup');
  await expectDisabledWithReason(page, 'Check this backup', /Choose a backup/);
  await page.getByRole('radio').first().check(LONG);
  await rec.capture('verify-pick');
  await page.getByRole('button', { name: 'Check this backup' }).click();
  await heading(page, 'Verifying a backup');
  await expectStage(page, 'Check it');
  await page
    .getByRole('button', { name: 'Cancel the check…' })
    .or(page.getByTestId('verify-result'))
    .first()
    .waitFor(LONG);
  const result = page.getByTestId('verify-result');
  await result.waitFor(LONG);
  expect(await result.textContent()).toMatch(/All [\d,]{4,} files and every part were read back .* can be restored/);
  await expectNoCliWords(page);
  await rec.capture('verify-done');

  expect(session.errors).toEqual([]);
  expect(rec.findings).toEqual([]);
}

async function restoreWithOpenItems(session: WizardSession, width: number, height: number): Promise<void> {
  const page = session.page;
  const rec = new ScreenRecorder(page, `newcomer-restore-${width}x${height}`);
  await page.getByRole('button', { name: 'Back to start' }).click();
  await heading(page, 'What do you want to do?');
  await page.getByRole('button', { name: 'Practice a restore' }).click();
  await heading(page, 'Practice restore: choose the stick');
  await expectStage(page, 'Choose the stick');
  await expectDisabledWithReason(page, 'Look for backups on this stick', /Choose a stick/);
  await page.getByRole('radio', { name: /Practice stick/ }).check(LONG);
  await rec.capture('restore-stick');
  await page.getByRole('button', { name: 'Look for backups on this stick' }).click();
  await heading(page, 'Practice restore: choose the backup');
  await expectStage(page, 'Choose the backup');
  await rec.capture('restore-pick');
  await pickNewestBackup(page);
  await expectStage(page, 'Options');
  await page.getByRole('table', { name: 'Free space on this machine' }).waitFor(LONG);
  expect(await page.getByTestId('downtime').textContent()).toMatch(/\d+ (s|min)/);
  expect(await page.locator('.machine-space').textContent()).toMatch(/✓ enough/);
  await expectNoCliWords(page);
  await rec.capture('restore-ready');
  await page.getByRole('button', { name: 'Start the restore' }).click();

  await expectStage(page, 'Restore');
  const stop = page.getByRole('button', { name: 'Stop the service' });
  await expectInView(page, stop);
  await rec.capture('restore-confirm-stop');
  await stop.click();
  const replace = page.getByRole('button', { name: 'Replace the folders' });
  await expectInView(page, replace);
  await rec.capture('restore-confirm-replace');
  await replace.click();
  const skipCredentials = page.getByRole('button', { name: /^Skip/ });
  await expectInView(page, skipCredentials);
  await rec.capture('restore-credentials');
  await skipCredentials.click();
  const keep = page.getByRole('button', { name: 'Keep them for now' });
  await expectInView(page, keep);
  // Skipped credentials are open items in the checklist, never a plain "Done".
  const cred = page.locator('.checklist-item[data-step-id="credentials"]');
  expect(await cred.getAttribute('data-state')).toBe('open');
  expect(await cred.locator('.state').textContent()).toMatch(/^\d+ open items?$/);
  await expectNoCliWords(page);
  await rec.capture('restore-old-folders-question');
  await keep.click();
  await page.getByRole('heading', { name: /^Done, with \d+ open items?$/ }).waitFor(LONG);
  await rec.capture('restore-done-open-items');

  // The start screen offers what the restore left to do.
  await page.getByRole('button', { name: 'Back to start' }).click();
  const left = page.getByTestId('restore-leftovers');
  await left.waitFor(LONG);
  expect(await left.textContent()).toMatch(/Credential not entered yet[\s\S]*old folders/);
  await expectNoCliWords(page);
  await rec.capture('start-leftovers');

  expect(session.errors).toEqual([]);
  expect(rec.findings).toEqual([]);
}

const BACKUP_AND_VERIFY =
  'backs up with a step indicator, time and space estimates, reasons on disabled buttons and progress in words; then verifies that backup from the start screen';

describe.skipIf(skip !== null)('a newcomer in the wizard at 1366×768', () => {
  const session = useWizardSession({ width: 1366, height: 768 });
  it(BACKUP_AND_VERIFY, () => backupAndVerify(session, 1366, 768), 300_000);
  // The restore at 1366×768 (questions in view, skipped credentials as open items) is wizard-field's.
});

describe.skipIf(skip !== null)('a newcomer in the wizard at 1920×1080', () => {
  const session = useWizardSession({ width: 1920, height: 1080 });
  it(BACKUP_AND_VERIFY, () => backupAndVerify(session, 1920, 1080), 300_000);
  it(
    'restores with a step indicator, the space needed on this machine, the downtime estimate and the questions in view; skipped credentials are open items',
    () => restoreWithOpenItems(session, 1920, 1080),
    300_000,
  );
});
