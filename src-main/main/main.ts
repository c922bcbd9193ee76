/**
 * Electron main: a list of small setup modules around the shared handler table (src-main/host). The engine
 * runs in this process's Node side and in its workers; the renderer only sees `window.recovery`.
 */
import type { BrowserWindow } from 'electron';
import { app } from 'electron';
import path from 'node:path';
import { createHandlers, type RequestHost } from '../host/handlers.js';
import { setupCloseGuard } from './close-guard.js';
import { relaunchElevated, replaceParentIfAsked } from './elevate.js';
import { setupIpc } from './ipc.js';
import { setupKeepAwake } from './keep-awake.js';
import { applianceCommand, isApplianceMode, runApplianceMode } from './practice-appliance-mode.js';
import { setupSecurity } from './security.js';
import { createMainWindow } from './windows.js';

function startWizard(): void {
  // A second copy would run a second job host against the same machine: hand over to the first.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  setupSecurity();

  let win: BrowserWindow | null = null;
  let host: RequestHost | null = null;

  app.on('second-instance', () => {
    if (win && !win.isDestroyed()) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });

  app.whenReady().then(
    () => {
      host = createHandlers({
        shell: 'electron',
        stateDir: path.join(app.getPath('userData'), 'state'),
        practiceApplianceCommand: applianceCommand(),
        relaunchElevated,
      });
      setupIpc(host, () => win);
      setupKeepAwake(host.jobs);
      win = createMainWindow({ devTools: !app.isPackaged });
      setupCloseGuard(win, host.jobs);
      win.once('ready-to-show', replaceParentIfAsked);
      win.on('closed', () => {
        win = null;
      });
    },
    (e: unknown) => {
      console.error(`edge-recovery: could not start: ${(e as Error).message}`);
      app.exit(1);
    },
  );

  app.on('window-all-closed', () => app.quit());

  let disposed = false;
  app.on('will-quit', (e) => {
    if (disposed || host === null) return;
    // Stop practice appliances and cancel jobs before the process goes.
    e.preventDefault();
    disposed = true;
    void host.dispose().finally(() => app.quit());
  });
}

if (isApplianceMode()) {
  runApplianceMode().catch((e: unknown) => {
    console.error(`practice appliance: ${(e as Error).message}`);
    app.exit(1);
  });
} else {
  startWizard();
}
