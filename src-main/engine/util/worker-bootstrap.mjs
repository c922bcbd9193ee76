// Runs a TypeScript worker entry from sources (vitest, tsx): Node 20 workers do not inherit the
// parent's loader hooks, so register tsx here, then import the real entry. Not used in the bundle.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
