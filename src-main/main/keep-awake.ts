import { powerSaveBlocker } from 'electron';
import type { RequestRouter } from './privileged.js';

/** A laptop that suspends halfway through writing a backup leaves a half-written stick: stay awake while jobs run. */
export function setupKeepAwake(jobs: Pick<RequestRouter, 'onBusyChange'>): () => void {
  let blocker: number | null = null;
  return jobs.onBusyChange((busy) => {
    if (busy && blocker === null) blocker = powerSaveBlocker.start('prevent-app-suspension');
    if (!busy && blocker !== null) {
      powerSaveBlocker.stop(blocker);
      blocker = null;
    }
  });
}
