import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src-renderer/app.js';
import { useWizard } from '../../src-renderer/store/wizard-store.js';
import type { RestoreStatusView } from '../../src-main/shared/contract.js';
import { fakeApi } from './fake-api.js';

const JOB = 'job-0badc0ffee00';
const WHERE =
  'The restore was interrupted between two steps. The service was running before the restore; the restore stopped it and it is not running now: resume or roll back to start it again.';

/**
 * A restore cancelled at "Replace the folders" (driven at 1366x768): the panel said only "Cancelled, as you asked.
 * Cancelled by the technician." while the product was stopped (the CLI says "State of the machine: …"), and it sat
 * above the window: "Yes, cancel" was pressed at the bottom, the question box went away, the page showed the checklist.
 */
describe('A stopped restore', () => {
  const original = Element.prototype.scrollIntoView;
  afterEach(() => {
    Element.prototype.scrollIntoView = original;
  });

  it('says the state of the machine in the engine’s words and brings its panel into view', async () => {
    const status: RestoreStatusView = {
      id: 'r1',
      backup: '/media/BACKUP/EdgeRecovery/box/Backup_1',
      profileId: 'eds-linux',
      startedAt: '2026-12-01T12:31:34Z',
      updatedAt: '2026-12-01T12:32:00Z',
      where: WHERE,
      steps: [],
      canResume: true,
      canRollback: true,
    };
    const fake = fakeApi({
      'job.events': () => ({ events: [], done: false }),
      'restore.status': () => status,
    });
    const scrolled: Element[] = [];
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this);
    };
    useWizard.setState({ practice: null, step: { kind: 'restore-run', jobId: JOB, choice: null } });
    render(<App api={fake.api} />);
    act(() =>
      fake.emit(JOB, {
        type: 'plan',
        runbook: 'restore',
        title: 'Restore',
        steps: [{ id: 'swap', title: 'Replace the folders', explain: 'Rename.', destructive: true, state: 'todo' }],
      }),
    );
    act(() =>
      fake.emit(JOB, {
        type: 'finished',
        ok: false,
        error: { code: 'CANCELLED', message: 'Cancelled by the technician.' },
      }),
    );
    const panel = await screen.findByText('State of the machine now:');
    expect(panel.closest('p')!.textContent).toBe(`State of the machine now: ${WHERE}`);
    expect(screen.getByRole('button', { name: 'Roll back: put everything back as it was' })).toBeTruthy();
    // The engine's words say "Resume to finish the restore, or roll back": the other button is that resume (it read
    // "Try again from this step…", a choice the words above never name).
    expect(screen.getByRole('button', { name: 'Resume: finish the restore…' })).toBeTruthy();
    const errorPanel = panel.closest('.error-panel')!;
    expect(scrolled.some((el) => el.contains(errorPanel))).toBe(true);
  });
});
