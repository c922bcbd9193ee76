import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { browserSkipReason } from './helpers/browser.js';
import { heading, LONG, pickNewestBackup, toPracticeRestore } from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';
import { useWizardSession } from './helpers/session.js';

const skip = browserSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

/** The practice sandbox `serve --practice` made inside the test server's folder. */
async function sandbox(serverDir: string): Promise<{ dir: string; oldPort: number; replacementRoot: string }> {
  const base = path.join(serverDir, 'practice');
  const name = (await fsp.readdir(base)).find((n) => n.startsWith('edge-recovery-practice-'));
  if (!name) throw new Error(`no practice sandbox under ${base}`);
  const dir = path.join(base, name);
  const profile = JSON.parse(await fsp.readFile(path.join(dir, 'old', 'profile.json'), 'utf8')) as {
    api: { baseUrl: string };
  };
  return {
    dir,
    oldPort: Number(new URL(profile.api.baseUrl).port),
    replacementRoot: path.join(dir, 'replacement', 'root'),
  };
}

/** The control is entirely inside the window: the technician sees it without scrolling. */
async function expectInView(page: Page, target: Locator): Promise<void> {
  await target.waitFor(LONG);
  const box = await target.boundingBox();
  const vp = page.viewportSize()!;
  expect(box, 'the control has a box').not.toBeNull();
  expect(box!.y).toBeGreaterThanOrEqual(0);
  expect(box!.y + box!.height).toBeLessThanOrEqual(vp.height);
  expect(box!.x + box!.width).toBeLessThanOrEqual(vp.width);
}

/**
 * The question box does not cover the step's "What happens now" above it (it is sticky at the window's bottom:
 * at 1366×768 it once hid that text's last line). Pixels of the step's text under the box; 0 when none.
 */
async function coveredByQuestion(page: Page): Promise<number> {
  return page.evaluate(() => {
    const box = document.querySelector('.runbook-main .prompt');
    const step = document.querySelector('.runbook-main .current-step .explain');
    if (!box || !step) return -1;
    return Math.max(0, step.getBoundingClientRect().bottom - box.getBoundingClientRect().top);
  });
}

async function expectExplanationUncovered(page: Page): Promise<void> {
  await expect.poll(() => coveredByQuestion(page), { timeout: 5000 }).toBe(0);
}

/**
 * The report's lines (text in its shadow root) that the screen's button bar lies over, with the page scrolled to
 * `where`. The bar was sticky at the window's bottom: at 1366×768 it hid the report's lines there at every scroll
 * position but the last.
 */
async function reportLinesUnderBar(page: Page, where: 'top' | 'bottom'): Promise<string[]> {
  return page.evaluate((where) => {
    const sc = document.scrollingElement!;
    sc.scrollTop = where === 'top' ? 0 : sc.scrollHeight;
    const bar = document.querySelector('.screen > .actions')!.getBoundingClientRect();
    const root = document.querySelector('.report-view')!.shadowRoot!;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    const out: string[] = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent?.trim() ?? '';
      if (text === '') continue;
      range.selectNodeContents(n);
      const under = [...range.getClientRects()].some(
        (r) => r.width > 0 && r.bottom > bar.top && r.top < bar.bottom && r.right > bar.left && r.left < bar.right,
      );
      if (under) out.push(text.slice(0, 60));
    }
    return out;
  }, where);
}

async function setAsideFolders(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isDirectory() && e.name.includes('.before-restore-')) out.push(path.join(e.parentPath, e.name));
  }
  return out;
}

/** From the practice backup's plan screen to its done screen, confirming what it asks. */
async function backupToDone(page: Page): Promise<void> {
  await heading(page, 'Practice backup: what will be copied');
  await page.getByRole('button', { name: 'Choose the USB stick' }).click();
  await page.getByRole('radio', { name: /Practice stick/ }).check(LONG);
  await page.getByRole('button', { name: 'Use this stick' }).click();
  await page.getByRole('button', { name: /Yes, write the backup/ }).click(LONG);
  await heading(page, 'Practice backup: ready to start');
  await page.getByRole('button', { name: 'Start the backup' }).click();
  await page.getByRole('button', { name: 'Stop the service' }).click(LONG);
  await page.getByRole('heading', { name: 'The backup is on the stick and checked' }).waitFor(LONG);
}

describe.skipIf(skip !== null)('wizard in a browser at 1366×768: the field dead ends', () => {
  const session = useWizardSession({ width: 1366, height: 768 });

  it('cancels a running backup after saying what cancelling does; the service runs again and no partial backup stays', async () => {
    const page = session.page;
    const rec = new ScreenRecorder(page, 'field-cancel');
    await heading(page, 'What do you want to do?');
    await page.getByRole('button', { name: 'Practice', exact: true }).click();
    await heading(page, 'Practice backup: what will be copied');
    const sb = await sandbox(session.server.dir);
    // The backup's archive worker holds after its first file until this file is deleted (its main thread, the one
    // that shows progress and takes the cancel, keeps running): the cancel surely lands mid-archive, whatever the
    // machine's speed. A backup of a few seconds' data raced the clicks, and lost on a faster machine.
    const pauseFile = path.join(sb.dir, 'archive-paused');
    process.env.EDGE_RECOVERY_PAUSE_AT = 'archive:first-file';
    process.env.EDGE_RECOVERY_PAUSE_FILE = pauseFile;
    const stick = path.join(sb.dir, 'stick');
    const sets = async () =>
      (await fsp.readdir(stick, { recursive: true })).filter((n) => /Backup_[^/]*$/.test(String(n)));
    try {
      await page.getByRole('button', { name: 'Choose the USB stick' }).click();
      await page.getByRole('radio', { name: /Practice stick/ }).check(LONG);
      await page.getByRole('button', { name: 'Use this stick' }).click();
      await page.getByRole('button', { name: /Yes, write the backup/ }).click(LONG);
      await heading(page, 'Practice backup: ready to start');
      await page.getByRole('button', { name: 'Start the backup' }).click();
      const stop = page.getByRole('button', { name: 'Stop the service' });
      await expectInView(page, stop);
      await stop.click();
      await expect.poll(() => existsSync(pauseFile), LONG).toBe(true);
      // Mid-archive: the unfinished set is on the stick.
      expect(await sets()).toHaveLength(1);
      // Progress shows, and with it the Cancel button that says what cancelling will do.
      await page.locator('#job-progress').waitFor(LONG);
      const cancel = page.getByRole('button', { name: 'Cancel the backup…' });
      await expectInView(page, cancel);
      expect(await page.locator('.cancel-job').textContent()).toMatch(
        /unfinished backup is removed from the stick, and the service is started again/,
      );
      await cancel.click();
      await rec.capture('cancel-question');
      await page.getByRole('button', { name: 'Yes, cancel the backup' }).click();
      const done = page.locator('.error-panel[data-error-code="CANCELLED"]');
      await done.waitFor(LONG);
      await rec.capture('cancelled');
      // Not an alarm: the technician's own choice.
      expect(await done.getAttribute('role')).toBe('status');
      // What was done, not only "cancelled": the checklist still shows "Start the service again" as not done.
      expect(await done.textContent()).toMatch(
        /The unfinished backup was removed from the stick\. The service was started again\. Earlier backups were not touched\./,
      );
      expect(await page.locator('.checklist-item[data-state="failed"]').count()).toBe(0);
      const r = await fetch(`http://127.0.0.1:${sb.oldPort}/api/v1/diagnostics/productinformation`);
      expect(r.ok).toBe(true);
      expect(await sets()).toEqual([]);
    } finally {
      delete process.env.EDGE_RECOVERY_PAUSE_AT;
      delete process.env.EDGE_RECOVERY_PAUSE_FILE;
      await fsp.rm(pauseFile, { force: true });
    }
    expect(rec.findings).toEqual([]);
  }, 300_000);

  it('re-attaches after a reload mid-restore and asks the pending question again; skipped credentials end as open items, entered later; the old folders go only on the explicit choice', async () => {
    const page = session.page;
    const rec = new ScreenRecorder(page, 'field-restore');
    await page.getByRole('button', { name: 'Back to start' }).click();
    await heading(page, 'What do you want to do?');
    await page.getByRole('button', { name: 'Practice a backup' }).click();
    await backupToDone(page);
    const sb = await sandbox(session.server.dir);
    await page.getByRole('button', { name: 'Back to start' }).click();
    await toPracticeRestore(page);
    await pickNewestBackup(page);
    await page.getByRole('button', { name: 'Start the restore' }).click();

    const stop = page.getByRole('button', { name: 'Stop the service' });
    await expectInView(page, stop);
    await expectExplanationUncovered(page);
    await rec.capture('confirm-stop');
    await stop.click();
    const replace = page.getByRole('button', { name: 'Replace the folders' });
    await expectInView(page, replace);
    await expectExplanationUncovered(page);
    // Short folder names on screen; the full paths one click away.
    const details = page.getByRole('list', { name: 'What this affects' });
    expect(await details.textContent()).toMatch(/…\/Configuration\.before-restore-/);
    await rec.capture('confirm-replace');

    // Leaving the page mid-job asks first (beforeunload); the technician leaves anyway.
    const dialogs: string[] = [];
    page.once('dialog', (d) => {
      dialogs.push(d.type());
      void d.accept();
    });
    await page.reload();
    expect(dialogs).toEqual(['beforeunload']);
    // The job went on in the host: the wizard re-attaches and shows the same question again.
    const again = page.getByRole('button', { name: 'Replace the folders' });
    await expectInView(page, again);
    expect(await page.getByRole('heading', { name: 'A restore did not finish' }).count()).toBe(0);
    await rec.capture('reattached-after-reload');
    await again.click();

    // Skip the credentials: the restore ends "done, with open items", never "complete".
    await page.getByRole('button', { name: /^Skip/ }).click(LONG);
    const keep = page.getByRole('button', { name: 'Keep them for now' });
    await expectInView(page, keep);
    await rec.capture('old-folders-question');
    await keep.click();
    await page.getByRole('heading', { name: /^Done, with 2 open items$/ }).waitFor(LONG);
    expect(await page.getByRole('list', { name: 'Open items' }).textContent()).toMatch(/ToAdh|egress/i);
    await rec.capture('done-open-items');
    // Kept means kept: the set-aside folders are still on disk.
    const kept = await setAsideFolders(sb.replacementRoot);
    expect(kept.length).toBeGreaterThan(0);

    await page.getByRole('button', { name: 'Enter them now' }).click();
    const secrets = page.locator('form.credentials input[type="password"]');
    await secrets.first().waitFor(LONG);
    for (let i = 0; i < (await secrets.count()); i++) await secrets.nth(i).fill(`later-secret-${i}`);
    await rec.capture('enter-them-now');
    await page.getByRole('button', { name: 'Send to the appliance' }).click();
    await page.getByRole('heading', { name: 'The restore is complete' }).waitFor(LONG);
    await rec.capture('credentials-entered');
    expect(kept.every((k) => existsSync(k))).toBe(true);

    await page.getByRole('button', { name: 'Delete the old folders…' }).click();
    const del = page.getByRole('button', { name: /^Delete the old folders \(\d+ files?, / });
    await expectInView(page, del);
    await rec.capture('delete-old-folders-question');
    await del.click();
    await page.getByRole('heading', { name: 'The restore is complete' }).waitFor(LONG);
    await page.getByRole('button', { name: 'View the recovery report' }).waitFor(LONG);
    expect(kept.some((k) => existsSync(k))).toBe(false);
    await page.getByRole('button', { name: 'View the recovery report' }).click();
    await page.locator('.report-view').waitFor(LONG);
    const text = await page.locator('.report-view').evaluate((el) => el.shadowRoot?.textContent ?? '');
    expect(text).toMatch(/SUCCEEDED/);
    expect(text).toMatch(/Deleted at the technician's explicit choice/);
    // The clean-up step kept them; the same report must not say only that: its row tells what came after.
    expect(text).toMatch(
      /Kept the old folders[^]*Deleted afterwards at the technician's explicit choice \(\d\d:\d\d:\d\d UTC\)/,
    );
    await rec.capture('report');
    // Every line of the report readable in the window: the buttons lie over none of it, at the top or the bottom.
    await expectInView(page, page.getByRole('button', { name: 'Print / Save as PDF' }));
    expect(await reportLinesUnderBar(page, 'top')).toEqual([]);
    expect(await reportLinesUnderBar(page, 'bottom')).toEqual([]);
    expect(session.errors).toEqual([]);
    expect(rec.findings).toEqual([]);
  }, 400_000);

  it('gets back in after the tab was closed mid-backup: serve --new-link prints a fresh link, the wizard re-attaches', async () => {
    const page = session.page;
    const rec = new ScreenRecorder(page, 'field-new-link');
    await page.getByRole('button', { name: 'Back to start' }).click();
    await heading(page, 'What do you want to do?');
    await page.getByRole('button', { name: 'Practice a backup' }).click();
    await heading(page, 'Practice backup: what will be copied');
    await page.getByRole('button', { name: 'Choose the USB stick' }).click();
    await page.getByRole('radio', { name: /Practice stick/ }).check(LONG);
    await page.getByRole('button', { name: 'Use this stick' }).click();
    await page.getByRole('button', { name: /Yes, write the backup/ }).click(LONG);
    await page.getByRole('button', { name: 'Start the backup' }).click(LONG);
    await page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);

    // The technician closes the tab (the whole browser context: its cookie is gone too).
    const browser = page.context().browser()!;
    await page.context().close({ reason: 'tab closed' });
    // The first link was spent: opening it again is refused.
    const spent = await fetch(session.server.url, { redirect: 'manual' });
    expect(spent.status).toBe(401);
    // On the box: the real CLI asks the running serve (root-only control socket) for a fresh one-time link.
    const r = await runCli(['serve', '--new-link', '--state-dir', session.server.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    const link = /http:\/\/127\.0\.0\.1:\d+\/\S+/.exec(r.stdout)?.[0];
    expect(link, r.stdout).toBeDefined();

    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const again = await context.newPage();
    again.on('pageerror', (e) => session.errors.push(e.message));
    session.page = again;
    await again.goto(link!);
    // Back in, on the running backup, with its question asked again.
    const stop = again.getByRole('button', { name: 'Stop the service' });
    await expectInView(again, stop);
    const rec2 = new ScreenRecorder(again, 'field-new-link-back');
    await rec2.capture('back-in-same-question');
    await stop.click();
    await again.getByRole('heading', { name: 'The backup is on the stick and checked' }).waitFor(LONG);
    await rec2.capture('backup-done');
    // The fresh link works once only.
    const twice = await fetch(link!, { redirect: 'manual' });
    expect(twice.status).toBe(401);
    expect(session.errors).toEqual([]);
    expect([...rec.findings, ...rec2.findings]).toEqual([]);
  }, 300_000);
});
