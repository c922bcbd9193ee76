import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from './helpers/browser.js';
import {
  heading,
  LONG,
  pickNewestBackup,
  practiceBackup,
  practiceRestoreToReady,
  toPracticeRestore,
} from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';
import { useWizardSession } from './helpers/session.js';

const skip = browserSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

async function findArchive(dir: string): Promise<string> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /^data\.tar\.gz(\.age)?(\.\d{3})?$/.test(e.name)) return path.join(e.parentPath, e.name);
  }
  throw new Error(`no archive under ${dir}`);
}

describe.skipIf(skip !== null)('wizard in a browser: failures and their ways out', () => {
  const session = useWizardSession();
  let stickDir: string;

  it('offers the roll back of a restore that failed half-way, again after a reload, and rolls it back', async () => {
    const r = new ScreenRecorder(session.page, 'rollback');
    const location = await practiceBackup(session.page, r);
    stickDir = location.slice(0, location.indexOf(`${path.sep}EdgeRecovery${path.sep}`));
    await practiceRestoreToReady(session.page, r);
    await session.page.getByRole('button', { name: 'Start the restore' }).click();
    await session.page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);
    await session.page.getByRole('button', { name: 'Stop the service' }).click();
    // Declining the swap fails that step after the service was stopped and the backup unpacked: the machine is
    // half-way, which is what a rollback is for.
    await session.page.getByRole('button', { name: 'Replace the folders' }).waitFor(LONG);
    await session.page.getByRole('button', { name: /Don’t do this/ }).click();
    const rollback = session.page.getByRole('button', { name: /Roll back/ });
    await rollback.waitFor(LONG);
    // Declining is the technician's choice, shown as "Not done", not as a red failure.
    expect(await session.page.locator('.checklist-item[data-state="declined"]').count()).toBe(1);
    expect(await session.page.locator('.checklist-item[data-state="failed"]').count()).toBe(0);
    await r.capture('restore-failed');
    // A reload (or a crash of the window) loses all UI state: the engine's journal brings the choice back first.
    await session.page.reload();
    await heading(session.page, 'A restore did not finish');
    expect(await session.page.locator('.checklist-item[data-step-id="swap"]').getAttribute('data-state')).toBe(
      'declined',
    );
    await r.capture('unfinished-after-reload');
    await session.page.getByRole('button', { name: /Roll back/ }).click();
    await heading(session.page, 'Rolling back the restore');
    const confirm = session.page.getByRole('button', { name: 'Roll back', exact: true });
    await confirm.waitFor(LONG);
    await r.capture('rollback-confirm');
    await confirm.click();
    await session.page.getByRole('heading', { name: 'Rolled back' }).waitFor(LONG);
    await r.capture('rolled-back');
    await session.page.getByRole('button', { name: 'Back to start' }).click();
    // After a rollback nothing is unfinished, so the wizard opens at its start screen again.
    await heading(session.page, 'What do you want to do?');
    expect(r.findings).toEqual([]);
  });

  it('offers to resume a restore that stopped half-way, again after a reload, and finishes it', async () => {
    const r = new ScreenRecorder(session.page, 'resume');
    await toPracticeRestore(session.page);
    await pickNewestBackup(session.page);
    await session.page.getByRole('button', { name: 'Start the restore' }).click();
    await session.page.getByRole('button', { name: 'Stop the service' }).waitFor(LONG);
    await session.page.getByRole('button', { name: 'Stop the service' }).click();
    await session.page.getByRole('button', { name: 'Replace the folders' }).waitFor(LONG);
    await session.page.getByRole('button', { name: /Don’t do this/ }).click();
    await session.page.getByRole('button', { name: /Roll back/ }).waitFor(LONG);
    // The window is reloaded (or the app restarted): the journal brings the unfinished restore back first.
    await session.page.reload();
    await heading(session.page, 'A restore did not finish');
    await r.capture('unfinished-after-reload');
    await session.page.getByRole('button', { name: 'Resume the restore' }).click();
    // Resuming asks again before the folders are swapped, then goes on where it stopped.
    const replace = session.page.getByRole('button', { name: 'Replace the folders' });
    await replace.waitFor(LONG);
    await r.capture('resume-confirm-set-aside');
    await replace.click();
    const secrets = session.page.locator('form.credentials input[type="password"]');
    await secrets.first().waitFor(LONG);
    for (let i = 0; i < (await secrets.count()); i++) await secrets.nth(i).fill(`resumed-secret-${i}`);
    await session.page.getByRole('button', { name: 'Send to the appliance' }).click();
    // The last question: the old folders stay unless the technician deletes them.
    await session.page.getByRole('button', { name: 'Keep them for now' }).click(LONG);
    await session.page.getByRole('heading', { name: 'The restore is complete' }).waitFor(LONG);
    await r.capture('resumed-done');
    expect(await session.page.locator('.checklist-item[data-state="failed"]').count()).toBe(0);
    await session.page.reload();
    await heading(session.page, 'What do you want to do?');
    expect(r.findings).toEqual([]);
  });

  it('refuses a backup with one flipped byte, says it is damaged, and changes nothing', async () => {
    const r = new ScreenRecorder(session.page, 'corrupt');
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
    await heading(session.page, 'What do you want to do?');
    await r.capture('start-practice-mode');
    await toPracticeRestore(session.page);
    await pickNewestBackup(session.page);
    await session.page.getByRole('button', { name: 'Start the restore' }).click();
    const alert = session.page.locator('.error-panel[data-error-code="BACKUP_CORRUPT"]');
    await alert.waitFor(LONG);
    await r.capture('corrupt-refused');
    expect(await alert.textContent()).toMatch(/damaged/i);
    expect(await session.page.getByRole('button', { name: 'Choose another backup' }).count()).toBe(1);
    // The stick is read once, by the unpacking (before the service is stopped): that is where the damage shows.
    expect(await session.page.locator('.checklist-item[data-step-id="verify"]').getAttribute('data-state')).toBe(
      'done',
    );
    expect(await session.page.locator('.checklist-item[data-step-id="extract"]').getAttribute('data-state')).toBe(
      'failed',
    );
    for (const id of ['stop-service', 'swap']) {
      expect(await session.page.locator(`.checklist-item[data-step-id="${id}"]`).getAttribute('data-state')).toBe(
        'todo',
      );
    }
    expect(r.findings).toEqual([]);
    expect(session.errors).toEqual([]);
  });
});
