import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser } from './helpers/browser.js';
import { heading, LONG, practiceBackup, practiceRestoreToReady } from './helpers/flows.js';
import { captureFailure, ScreenRecorder } from './helpers/screens.js';
import { serverSkipReason, startPracticeServer, type WizardServer } from './helpers/wizard-server.js';

const skip = browserSkipReason() ?? serverSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

describe.skipIf(skip !== null)('wizard in a browser: practice backup and restore', () => {
  let server: WizardServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await startPracticeServer();
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
  });
  afterEach(async (ctx) => {
    // A failing test leaves a picture of where it stopped, beside the step screenshots.
    if (ctx.task.result?.state === 'fail') await captureFailure(page, ctx.task.name);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('backs up the old machine (keyboard only up to the start) and restores it onto the replacement, with a wrong passphrase on the way', async () => {
    const rec = new ScreenRecorder(page, 'practice');
    const location = await practiceBackup(page, rec, { passphrase: 'correct horse battery staple', keyboard: true });
    expect(location).toMatch(/Backup_/);
    await page.getByRole('button', { name: 'Safely remove the stick' }).click();
    const ejected = page.locator('.result.ok [role="status"]');
    await ejected.waitFor(LONG);
    expect((await ejected.textContent())?.length).toBeGreaterThan(0);
    await rec.capture('backup-eject');

    await practiceRestoreToReady(page, rec);
    await page.getByLabel('Passphrase of this backup').fill('not the passphrase');
    await rec.capture('restore-ready');
    await page.getByRole('button', { name: 'Start the restore' }).click();
    const alert = page.locator('.error-panel[data-error-code="WRONG_PASSPHRASE"]');
    await alert.waitFor(LONG);
    await rec.capture('restore-wrong-passphrase');
    expect(await alert.textContent()).not.toMatch(/\bat .*\.(ts|js):\d+/);
    await page.getByRole('button', { name: 'Enter the passphrase again' }).click();
    await heading(page, 'Practice restore: ready to start');
    await page.getByLabel('Passphrase of this backup').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Start the restore' }).click();

    await page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);
    await rec.capture('restore-confirm-stop');
    await page.getByRole('button', { name: 'Stop the service' }).click();
    await page.getByRole('button', { name: 'Replace the folders' }).waitFor(LONG);
    expect(await page.getByRole('list', { name: 'What this affects' }).textContent()).toMatch(/before-restore/);
    await rec.capture('restore-confirm-set-aside');
    await page.getByRole('button', { name: 'Replace the folders' }).click();

    const form = page.getByRole('form').or(page.locator('form.credentials'));
    await form.first().waitFor(LONG);
    const secrets = page.locator('form.credentials input[type="password"]');
    const n = await secrets.count();
    expect(n).toBeGreaterThan(0);
    for (let i = 0; i < n; i++) await secrets.nth(i).fill(`practice-secret-${i}`);
    await page.getByRole('button', { name: /^Show / }).first().click();
    await rec.capture('restore-credentials');
    await page.getByRole('button', { name: 'Send to the appliance' }).click();

    await page.getByRole('heading', { name: 'The restore is complete' }).waitFor(LONG);
    const states = await page.locator('.checklist-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    expect(states.every((s) => s === 'done' || s === 'skipped')).toBe(true);
    await rec.capture('restore-done');
    await page.getByRole('button', { name: 'View the recovery report' }).click();
    await heading(page, 'Recovery report');
    await page.locator('.report-view').waitFor(LONG);
    expect(await page.locator('.report-view').evaluate((el) => el.shadowRoot?.textContent ?? '')).toMatch(/SUCCEEDED/);
    await rec.capture('report');

    expect(errors).toEqual([]);
    expect(rec.findings).toEqual([]);
  });
});
