/**
 * Electron main: a list of small setup modules around the shared handler table (src-main/host). The window
 * never runs as root: unprivileged work runs in this process's Node side and its workers; once the technician
 * grants administrator rights, requests go to the privileged helper (elevate.ts, helper-mode.ts), started by
 * pkexec/UAC with a fixed argument list. The renderer only sees `window.recovery`.
 */
import type { BrowserWindow } from 'electron';
import { app } from 'electron';
import path from 'node:path';
import { createHandlers, type RequestHost } from '../host/handlers.js';
import { setupCloseGuard } from './close-guard.js';
import { startPrivilegedHelper } from './elevate.js';
import { isHelperMode, runHelperMode } from './helper-mode.js';
import { setupIpc } from './ipc.js';
import { setupKeepAwake } from './keep-awake.js';
import { setupReportPdf } from './pdf-window.js';
import { applianceCommand, isApplianceMode, runApplianceMode } from './practice-appliance-mode.js';
import { RequestRouter } from './privileged.js';
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
  let router: RequestRouter | null = null;

  /** "Relaunch with administrator rights": starts the privileged helper; the window reloads to re-plan. */
  const grantRights = async (): Promise<{ started: boolean; message: string }> => {
    if (router?.elevated) return { started: true, message: 'Administrator rights are already granted.' };
    if (process.platform !== 'linux' && process.platform !== 'win32') {
      return { started: false, message: 'Administrator rights are supported on Linux and Windows only.' };
    }
    const r = await startPrivilegedHelper(
      {
        platform: process.platform,
        exe: process.env.APPIMAGE ?? process.execPath,
        ...(app.isPackaged ? {} : { appPath: app.getAppPath() }),
      },
      () => router?.detachHelper(),
    );
    if (r.client === null) return { started: false, message: r.message };
    router?.attachHelper(r.client);
    setTimeout(() => win?.webContents.reload(), 300);
    return { started: true, message: 'Administrator rights granted: the privileged steps now run in a helper.' };
  };

  app.on('second-instance', () => {
    if (win && !win.isDestroyed()) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });

  app.whenReady().then(
    () => {
      setupReportPdf();
      host = createHandlers({
        shell: 'electron',
        stateDir: path.join(app.getPath('userData'), 'state'),
        practiceApplianceCommand: applianceCommand(),
        relaunchElevated: grantRights,
      });
      router = new RequestRouter(host);
      setupIpc(router, () => win);
      setupKeepAwake(router);
      win = createMainWindow({ devTools: !app.isPackaged });
      setupCloseGuard(win, router);
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
    void (router?.shutdown() ?? Promise.resolve()).finally(() => void host!.dispose().finally(() => app.quit()));
  });
}

if (isHelperMode()) {
  runHelperMode().catch((e: unknown) => {
    console.error(`privileged helper: ${(e as Error).message}`);
    app.exit(1);
  });
} else if (isApplianceMode()) {
  runApplianceMode().catch((e: unknown) => {
    console.error(`practice appliance: ${(e as Error).message}`);
    app.exit(1);
  });
} else {
  startWizard();
}
