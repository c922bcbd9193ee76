/**
 * The only bridge between the sandboxed renderer and the main side: `window.recovery`, derived from the
 * contract. Bundled to dist/preload.cjs (sandboxed preloads are CommonJS and cannot load node_modules).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { JobEventEnvelope } from '../shared/contract.js';
import { CHANNELS, type Envelope, type RecoveryApi } from '../shared/transport.js';

const api: RecoveryApi = {
  async invoke(name, input) {
    const env = (await ipcRenderer.invoke(CHANNELS.invoke, name, input)) as Envelope<never>;
    if (env.ok) return env.value;
    // contextBridge copies Errors without custom properties: reject with plain data the renderer turns
    // back into a RecoveryApiError (contract's toRecoveryApiError), so code and hint survive.
    return Promise.reject({ name: 'RecoveryApiError', ...env.error });
  },
  onJobEvent(listener) {
    const handler = (_e: IpcRendererEvent, env: JobEventEnvelope): void => listener(env);
    ipcRenderer.on(CHANNELS.jobEvent, handler);
    return () => {
      ipcRenderer.removeListener(CHANNELS.jobEvent, handler);
    };
  },
};

contextBridge.exposeInMainWorld('recovery', api);
