export { runRestore, resumeRestore, RESTORE_RUNBOOK, type RestoreOptions, type RestoreResult } from './run-restore.js';
export { rollbackRestore } from './rollback.js';
export { restoreStatus, describeMachineState, statusView } from './status.js';
export { defaultStateDir, readJournal, type RestoreJournal } from './journal.js';
export type { RestoreTuning } from './context.js';
