import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { refused } from '../host/handlers.js';
import { CHANNELS, type Envelope } from '../shared/contract.js';
import { isAppUrl } from './paths.js';
import type { RequestRouter } from './privileged.js';

/**
 * One channel for every request: the contract's name and raw input go to the shared handler table, which
 * validates them. Senders other than our window's own top frame on our own page are ignored.
 */
export function setupIpc(
  host: Pick<RequestRouter, 'dispatch' | 'subscribe'>,
  getWindow: () => BrowserWindow | null,
): () => void {
  const trusted = (e: IpcMainInvokeEvent): boolean => {
    const win = getWindow();
    const frame = e.senderFrame;
    return (
      win !== null && e.sender === win.webContents && frame !== null && frame.parent === null && isAppUrl(frame.url)
    );
  };

  ipcMain.handle(CHANNELS.invoke, async (e, name: unknown, input: unknown): Promise<Envelope<unknown>> => {
    if (!trusted(e)) return refused('This window may not use the recovery API.');
    return host.dispatch(typeof name === 'string' ? name : '', input);
  });

  const unsubscribe = host.subscribe((env) => {
    const win = getWindow();
    if (win && !win.isDestroyed() && isAppUrl(win.webContents.getURL())) win.webContents.send(CHANNELS.jobEvent, env);
  });

  return () => {
    unsubscribe();
    ipcMain.removeHandler(CHANNELS.invoke);
  };
}
