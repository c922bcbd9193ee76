import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser } from './helpers/browser.js';
import { heading, LONG, pickNewestBackup, practiceBackup, practiceRestoreToReady } from './helpers/flows.js';
import { captureFailure, ScreenRecorder } from './helpers/screens.js';
import { serverSkipReason, startPracticeServer, type WizardServer } from './helpers/wizard-server.js';

const skip = browserSkipReason() ?? serverSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

async function findArchive(dir: string): Promise<string> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /^data\.tar\.gz(\.age)?(\.\d{3})?$/.test(e.name)) return path.join(e.parentPath, e.name);
  }
  throw new Error(`no archive under ${dir}`);
}

describe.skipIf(skip !== null)('wizard in a browser: failures and their ways out', () => {
  let server: WizardServer;
  let browser: Browser;
  let page: Page;
  let stickDir: string;
  const errors: string[] = [];
  const rec = { current: null as ScreenRecorder | null };

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

  it('offers the roll back of a restore that failed half-way, again after a reload, and rolls it back', async () => {
    const r = (rec.current = new ScreenRecorder(page, 'rollback'));
    const location = await practiceBackup(page, r);
    stickDir = location.slice(0, location.indexOf(`${path.sep}EdgeRecovery${path.sep}`));
    await practiceRestoreToReady(page, r);
    await page.getByRole('button', { name: 'Start the restore' }).click();
    await page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);
    await page.getByRole('button', { name: 'Stop the service' }).click();
    // Declining the swap fails that step after the service was stopped and the backup unpacked: the machine is
    // half-way, which is what a rollback is for.
    await page.getByRole('button', { name: 'Replace the folders' }).waitFor(LONG);
    await page.getByRole('button', { name: /Don’t do this/ }).click();
    const rollback = page.getByRole('button', { name: /Roll back/ });
    await rollback.waitFor(LONG);
    expect(await page.locator('.checklist-item[data-state="failed"]').count()).toBe(1);
    await r.capture('restore-failed');
    // A reload (or a crash of the window) loses all UI state: the engine's journal brings the choice back first.
    await page.reload();
    await heading(page, 'A restore did not finish');
    expect(await page.locator('.checklist-item[data-step-id="swap"]').getAttribute('data-state')).toBe('failed');
    await r.capture('unfinished-after-reload');
    await page.getByRole('button', { name: /Roll back/ }).click();
    await heading(page, 'Rolling back the restore');
    const confirm = page.getByRole('button', { name: 'Roll back', exact: true });
    await confirm.waitFor(LONG);
    await r.capture('rollback-confirm');
    await confirm.click();
    await page.getByRole('heading', { name: 'Rolled back' }).waitFor(LONG);
    await r.capture('rolled-back');
    await page.getByRole('button', { name: 'Back to start' }).click();
    // After a rollback nothing is unfinished, so the wizard opens at its start screen again.
    await heading(page, 'What do you want to do?');
    expect(r.findings).toEqual([]);
  });

  it('refuses a backup with one flipped byte, says it is damaged, and changes nothing', async () => {
    const r = (rec.current = new ScreenRecorder(page, 'corrupt'));
    const archive = await findArchive(stickDir);
    const fh = await fsp.open(archive, 'r+');
    try {
      const { size } = await fh.stat();
      const at = Math.floor(size / 2);
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, at);
    } finally {
      await fh.close();
    }
    await heading(page, 'What do you want to do?');
    if ((await page.getByRole('button', { name: 'Practice a restore' }).count()) === 0) {
      // The reload above forgot that practice was chosen; choosing it again reuses the same sandbox.
      await page.getByRole('button', { name: 'Practice', exact: true }).click();
      await heading(page, 'Practice backup: what will be copied');
      await page.getByRole('button', { name: 'Back' }).click();
    }
    await r.capture('start-practice-mode');
    await page.getByRole('button', { name: 'Practice a restore' }).click();
    await heading(page, 'Practice restore: choose the stick');
    await page.getByRole('radio', { name: /Practice stick/ }).check();
    await page.getByRole('button', { name: 'Look for backups on this stick' }).click();
    await pickNewestBackup(page);
    await page.getByRole('button', { name: 'Start the restore' }).click();
    const alert = page.locator('.error-panel[data-error-code="BACKUP_CORRUPT"]');
    await alert.waitFor(LONG);
    await r.capture('corrupt-refused');
    expect(await alert.textContent()).toMatch(/damaged/i);
    expect(await page.getByRole('button', { name: 'Choose another backup' }).count()).toBe(1);
    expect(await page.locator('.checklist-item[data-step-id="verify"]').getAttribute('data-state')).toBe('failed');
    for (const id of ['stop-service', 'swap']) {
      expect(await page.locator(`.checklist-item[data-step-id="${id}"]`).getAttribute('data-state')).toBe('todo');
    }
    expect(r.findings).toEqual([]);
    expect(errors).toEqual([]);
  });
});
