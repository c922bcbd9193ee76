import { dialog, type BrowserWindow } from 'electron';
import type { RequestRouter } from './privileged.js';

/** Closing the window while a backup or restore runs asks first; quitting then cancels the job cleanly. */
export function setupCloseGuard(win: BrowserWindow, jobs: Pick<RequestRouter, 'busy' | 'shutdown'>): void {
  let allowClose = false;
  win.on('close', (e) => {
    if (allowClose || !jobs.busy) return;
    e.preventDefault();
    void dialog
      .showMessageBox(win, {
        type: 'warning',
        title: 'A job is still running',
        message: 'A backup, verification or restore is still running.',
        detail:
          'Quitting now cancels it. A cancelled backup leaves no partial set; a restore cancelled midway can be resumed or rolled back the next time the wizard starts.',
        buttons: ['Keep working', 'Cancel the job and quit'],
        defaultId: 0,
        cancelId: 0,
        noLink: true,
      })
      .then(async (r) => {
        if (r.response !== 1) return;
        await jobs.shutdown();
        allowClose = true;
        if (!win.isDestroyed()) win.close();
      });
  });
}
