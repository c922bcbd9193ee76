import type { Locator, Page } from 'playwright-core';
import type { ScreenRecorder } from './screens.js';

const LONG = { timeout: Number(process.env.E2E_WAIT_MS ?? 90_000) };

export async function heading(page: Page, name: string | RegExp): Promise<void> {
  await page.getByRole('heading', { level: 1, name }).waitFor(LONG);
}

/** Presses Tab until `target` has focus, and checks the focus is visible (an outline is drawn). */
export async function tabTo(page: Page, target: Locator, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) {
      const outline = await target.evaluate((el) => getComputedStyle(el).outlineStyle);
      if (outline === 'none') throw new Error('the focused control shows no focus outline');
      return;
    }
  }
  throw new Error(`Tab never reached ${String(target)}`);
}

/** Clicks, or with `keyboard` reaches the control with Tab and presses Enter (Space for radios). */
async function act(page: Page, target: Locator, keyboard: boolean): Promise<void> {
  await target.waitFor(LONG);
  if (!keyboard) return target.click();
  await tabTo(page, target);
  const role = await target.evaluate((el) => (el as HTMLInputElement).type);
  await page.keyboard.press(role === 'radio' ? 'Space' : 'Enter');
}

/** Start → Practice → plan → practice stick (confirmed) → options → runbook with its confirmation → done. */
export async function practiceBackup(
  page: Page,
  rec: ScreenRecorder,
  opts: { passphrase?: string; keyboard?: boolean } = {},
): Promise<string> {
  const kb = opts.keyboard === true;
  await heading(page, 'What do you want to do?');
  await rec.capture('start');
  await act(page, page.getByRole('button', { name: 'Practice', exact: true }), kb);
  await heading(page, 'Practice backup: what will be copied');
  await page.getByRole('table', { name: 'Folders to back up' }).waitFor(LONG);
  await rec.capture('backup-plan');
  await act(page, page.getByRole('button', { name: 'Choose the USB stick' }), kb);
  await heading(page, 'Practice backup: choose the stick');
  const stick = page.getByRole('radio', { name: /Practice stick/ });
  await stick.waitFor(LONG);
  if (await stick.isChecked()) throw new Error('a drive was selected before the technician chose one');
  await rec.capture('backup-drive');
  await act(page, stick, kb);
  if (!(await stick.isChecked())) throw new Error('the stick could not be chosen');
  await act(page, page.getByRole('button', { name: 'Use this stick' }), kb);
  await page.getByRole('heading', { name: 'Is this the right stick?' }).waitFor(LONG);
  await rec.capture('backup-confirm-stick');
  await act(page, page.getByRole('button', { name: /Yes, write the backup/ }), kb);
  await heading(page, 'Practice backup: ready to start');
  if (opts.passphrase) {
    await page.getByLabel(/Encrypt the backup/).check();
    await page.getByLabel('Passphrase', { exact: true }).fill(opts.passphrase);
    await page.getByLabel('Type the passphrase again').fill(opts.passphrase);
  }
  await rec.capture('backup-options');
  await page.getByRole('button', { name: 'Start the backup' }).click();
  await heading(page, 'Practice backup');
  await page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);
  await rec.capture('backup-confirm-stop');
  await page.getByRole('button', { name: 'Stop the service' }).click();
  await page.getByRole('heading', { name: 'The backup is on the stick and checked' }).waitFor(LONG);
  await rec.capture('backup-done');
  return (await page.getByTestId('backup-location').textContent()) ?? '';
}

/** From the backup's done screen (or the start screen in practice) to the restore's ready screen. */
export async function practiceRestoreToReady(page: Page, rec: ScreenRecorder): Promise<void> {
  await page.getByRole('button', { name: /Next: restore onto/ }).click();
  await heading(page, 'Practice restore: choose the stick');
  const stick = page.getByRole('radio', { name: /Practice stick/ });
  await stick.waitFor(LONG);
  await rec.capture('restore-drive');
  await stick.check();
  await page.getByRole('button', { name: 'Look for backups on this stick' }).click();
  await pickNewestBackup(page, rec);
}

/** On the backup list: unlock the other device's group if the backup came from one, pick the newest set. */
export async function pickNewestBackup(page: Page, rec?: ScreenRecorder): Promise<void> {
  await heading(page, 'Practice restore: choose the backup');
  await page.locator('.backup-group').first().waitFor(LONG);
  const sw = page.getByRole('switch');
  if ((await sw.count()) > 0) {
    await rec?.capture('restore-pick-other-device');
    await sw.first().check();
  }
  await rec?.capture('restore-pick');
  await page.getByRole('radio').first().check();
  await page.getByRole('button', { name: 'Restore this backup' }).click();
  await heading(page, 'Practice restore: ready to start');
}

export { LONG };

/**
 * From the start screen to the practice restore's stick screen. A reload forgets that practice was chosen;
 * choosing it again reuses the same sandbox.
 */
export async function toPracticeRestore(page: Page): Promise<void> {
  await heading(page, 'What do you want to do?');
  if ((await page.getByRole('button', { name: 'Practice a restore' }).count()) === 0) {
    await page.getByRole('button', { name: 'Practice', exact: true }).click();
    await heading(page, 'Practice backup: what will be copied');
    await page.getByRole('button', { name: 'Back' }).click();
    await heading(page, 'What do you want to do?');
  }
  await page.getByRole('button', { name: 'Practice a restore' }).click();
  await heading(page, 'Practice restore: choose the stick');
  await page.getByRole('radio', { name: /Practice stick/ }).check();
  await page.getByRole('button', { name: 'Look for backups on this stick' }).click();
}
