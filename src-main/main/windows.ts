import { BrowserWindow } from 'electron';
import { existsSync } from 'node:fs';
import { ICON, PRELOAD, RENDERER_INDEX } from './paths.js';

/** The one wizard window: sandboxed, isolated, no Node, loading only the built renderer from disk. */
export function createMainWindow(opts: { devTools: boolean }): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 780,
    minWidth: 800,
    minHeight: 600,
    title: 'Edge Recovery Wizard',
    show: false,
    ...(existsSync(ICON) ? { icon: ICON } : {}),
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      // A middle click on a link would otherwise try to open it in a new window (denied anyway by the window-open
      // handler in security.ts); switching the Blink feature off removes the path altogether.
      disableBlinkFeatures: 'Auxclick',
      devTools: opts.devTools,
    },
  });
  win.removeMenu();
  win.once('ready-to-show', () => win.show());
  void win.loadFile(RENDERER_INDEX);
  return win;
}
