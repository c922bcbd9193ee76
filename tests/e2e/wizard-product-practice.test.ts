import { describe, expect, it } from 'vitest';
import { browserSkipReason } from './helpers/browser.js';
import { heading, LONG } from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';
import { useWizardSession } from './helpers/session.js';

const skip = browserSkipReason();
if (skip) console.warn(`wizard e2e skipped: ${skip}`);

describe.skipIf(skip !== null)('wizard in a browser at 1366×768: the Practice offers a choice of product', () => {
  const session = useWizardSession({ width: 1366, height: 768 });

  it("shows EVC-net Edge's own steps in the plan and the checklist, and runs its practice to the report", async () => {
    const page = session.page;
    const rec = new ScreenRecorder(page, 'product-practice-1366x768');
    await heading(page, 'What do you want to do?');
    const choice = page.getByRole('group', { name: 'Practise another product' });
    // Every product with a stand-in is offered.
    for (const name of ['EVC-net Edge', 'WISE-DeviceOn', 'StackState', 'OpenCRVS'])
      expect(await choice.getByRole('button', { name: new RegExp(`^Practice: .*${name}`) }).count()).toBe(1);
    // Buttons, not a bulleted list: no list marker beside them (a stray bullet once showed beside each).
    const markers = await choice.locator('li').evaluateAll((els) => els.map((e) => getComputedStyle(e).listStyleType));
    expect(markers).toEqual(['none', 'none', 'none', 'none']);
    await rec.capture('start');
    // The same choice on the start screen of practice mode.
    await page.getByRole('button', { name: 'Practice', exact: true }).click();
    await heading(page, 'Practice backup: what will be copied');
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByRole('button', { name: 'Practice a backup' }).waitFor(LONG);
    expect(await choice.locator('li').evaluateAll((els) => els.map((e) => getComputedStyle(e).listStyleType))).toEqual([
      'none',
      'none',
      'none',
      'none',
    ]);
    await rec.capture('practice-start');
    await choice.getByRole('button', { name: /^Practice: EVC-net Edge/ }).click();
    await heading(page, 'Practice: EVC-net Edge (Last Mile Solutions)');

    // The plan: the product's own steps, with their titles and plain-words explanations, per side.
    const backup = page.getByRole('list', { name: "The product's own backup steps" });
    const restore = page.getByRole('list', { name: "The product's own restore steps" });
    expect(await backup.locator('li').count()).toBe(4);
    expect(await backup.textContent()).toContain('Wait until no chargepoint transaction runs');
    expect(await backup.textContent()).toContain('so customers are not billed twice');
    expect(await restore.textContent()).toContain("Switch device: list the old Edge's backup here");
    expect(await restore.locator('li[data-step-id="restore-backup"]').textContent()).toContain('asks first');

    await page.getByRole('button', { name: 'Start the practice' }).click();
    // The restore asks before the old Edge's configuration replaces this one's.
    const confirm = page.getByRole('button', { name: "Restore the old Edge's backup" });
    await confirm.waitFor(LONG);
    const checklist = page.getByRole('list', { name: 'Steps of this job' });
    expect(await checklist.locator('[data-step-id="switch-device"]').getAttribute('data-state')).toBe('done');
    expect(await checklist.textContent()).toContain('Wait until no chargepoint transaction runs');
    await confirm.click();

    await page.getByRole('heading', { name: 'The practice is complete' }).waitFor(LONG);
    const states = await checklist
      .locator('.checklist-item')
      .evaluateAll((els) => els.map((e) => `${e.getAttribute('data-step-id')}:${e.getAttribute('data-state')}`));
    expect(states).toContain('restore-backup:done');
    expect(states).toContain('restored-answers:done');
    await page.getByRole('button', { name: 'View the recovery report' }).click();
    await heading(page, 'Recovery report');
    await page.locator('.report-view').waitFor(LONG);
    expect(await page.locator('.report-view').evaluate((el) => el.shadowRoot?.textContent ?? '')).toMatch(
      /Switch device/,
    );
    expect(session.errors).toEqual([]);
    expect(rec.findings).toEqual([]);
  });
});
