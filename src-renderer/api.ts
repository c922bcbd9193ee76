import { createContext, useContext } from 'react';
import type { RecoveryApi } from '../src-main/shared/contract.js';

declare global {
  interface Window {
    /** Set by the Electron preload, or by the loopback server's bridge script before the app loads. */
    recovery?: RecoveryApi;
  }
}

/** Reads `window.recovery`; null when no bridge was installed (the app then says so on screen). */
export function readRecoveryApi(w: Pick<Window, 'recovery'> = window): RecoveryApi | null {
  const api = w.recovery;
  if (!api || typeof api.invoke !== 'function' || typeof api.onJobEvent !== 'function') return null;
  return api;
}

export const MISSING_BRIDGE_MESSAGE =
  'This window cannot reach the recovery engine (window.recovery is missing). Start the wizard with the Edge Recovery app, or with "edge-recovery serve" and open the address it prints.';

export const ApiContext = createContext<RecoveryApi | null>(null);

/** The API the screens call; tests provide a fake through ApiContext. */
export function useApi(): RecoveryApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error(MISSING_BRIDGE_MESSAGE);
  return api;
}
