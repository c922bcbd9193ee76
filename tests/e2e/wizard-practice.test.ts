import { describe, expect, it } from 'vitest';
import { browserSkipReason } from './helpers/browser.js';
import { heading, LONG, practiceBackup, practiceRestoreToReady } from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';
import { useWizardSession } from './helpers/session.js';

const skip = browserSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

describe.skipIf(skip !== null)('wizard in a browser: practice backup and restore', () => {
  const session = useWizardSession();

  it('backs up the old machine (keyboard only up to the start) and restores it onto the replacement, with a wrong passphrase on the way', async () => {
    const rec = new ScreenRecorder(session.page, 'practice');
    const location = await practiceBackup(session.page, rec, {
      passphrase: 'correct horse battery staple',
      keyboard: true,
    });
    expect(location).toMatch(/Backup_/);
    await session.page.getByRole('button', { name: 'Safely remove the stick' }).click();
    const ejected = session.page.locator('.result.ok [role="status"]');
    await ejected.waitFor(LONG);
    expect((await ejected.textContent())?.length).toBeGreaterThan(0);
    await rec.capture('backup-eject');

    await practiceRestoreToReady(session.page, rec);
    await session.page.getByLabel('Passphrase of this backup').fill('not the passphrase');
    await rec.capture('restore-ready');
    await session.page.getByRole('button', { name: 'Start the restore' }).click();
    const alert = session.page.locator('.error-panel[data-error-code="WRONG_PASSPHRASE"]');
    await alert.waitFor(LONG);
    await rec.capture('restore-wrong-passphrase');
    expect(await alert.textContent()).not.toMatch(/\bat .*\.(ts|js):\d+/);
    await session.page.getByRole('button', { name: 'Enter the passphrase again' }).click();
    await heading(session.page, 'Practice restore: ready to start');
    await session.page.getByLabel('Passphrase of this backup').fill('correct horse battery staple');
    await session.page.getByRole('button', { name: 'Start the restore' }).click();

    await session.page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);
    await rec.capture('restore-confirm-stop');
    await session.page.getByRole('button', { name: 'Stop the service' }).click();
    await session.page.getByRole('button', { name: 'Replace the folders' }).waitFor(LONG);
    expect(await session.page.getByRole('list', { name: 'What this affects' }).textContent()).toMatch(/before-restore/);
    await rec.capture('restore-confirm-set-aside');
    await session.page.getByRole('button', { name: 'Replace the folders' }).click();

    const form = session.page.getByRole('form').or(session.page.locator('form.credentials'));
    await form.first().waitFor(LONG);
    const secrets = session.page.locator('form.credentials input[type="password"]');
    const n = await secrets.count();
    expect(n).toBeGreaterThan(0);
    for (let i = 0; i < n; i++) await secrets.nth(i).fill(`practice-secret-${i}`);
    await session.page
      .getByRole('button', { name: /^Show / })
      .first()
      .click();
    await rec.capture('restore-credentials');
    await session.page.getByRole('button', { name: 'Send to the appliance' }).click();

    // The old folders are deleted only on the technician's explicit, last decision (keeping them is the default).
    const del = session.page.getByRole('button', { name: /^Delete the old folders \(\d+ files?, / });
    await del.waitFor(LONG);
    await rec.capture('restore-delete-old-folders');
    await del.click();
    await session.page.getByRole('heading', { name: 'The restore is complete' }).waitFor(LONG);
    const states = await session.page
      .locator('.checklist-item')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    expect(states.every((s) => s === 'done' || s === 'skipped')).toBe(true);
    await rec.capture('restore-done');
    await session.page.getByRole('button', { name: 'View the recovery report' }).click();
    await heading(session.page, 'Recovery report');
    await session.page.locator('.report-view').waitFor(LONG);
    expect(await session.page.locator('.report-view').evaluate((el) => el.shadowRoot?.textContent ?? '')).toMatch(
      /SUCCEEDED[\s\S]*Deleted at the technician's explicit choice/,
    );
    await rec.capture('report');

    expect(session.errors).toEqual([]);
    expect(rec.findings).toEqual([]);
  });
});
