import type { Profile } from './schema.js';
import type { StepPoint } from './steps-schema.js';

/** Where a product's own step runs, in a technician's words, when the runbook stops the service on that side. */
const STOPPED: Record<StepPoint, string> = {
  'backup.before-stop': 'before the service stops',
  'backup.after-stop': 'while the service is stopped',
  'backup.archive': 'into the backup set',
  'backup.before-start': 'before the service starts again',
  'backup.after-start': 'after the service runs again',
  'restore.before-stop': 'before anything changes',
  'restore.after-stop': 'while the service is stopped',
  'restore.import': 'the product’s own restore',
  'restore.before-start': 'before the service starts',
  'restore.after-start': 'after the service runs',
};

/** The same points for a product that is not stopped on that side (it backs up or restores itself while it runs). */
const RUNNING: Record<StepPoint, string> = {
  'backup.before-stop': 'first, while the service runs',
  'backup.after-stop': 'while the service runs',
  'backup.archive': 'into the backup set',
  'backup.before-start': 'after the copy, while the service runs',
  'backup.after-start': 'at the end',
  'restore.before-stop': 'before anything changes',
  'restore.after-stop': 'before the folders are replaced, while the service runs',
  'restore.import': 'the product’s own restore',
  'restore.before-start': 'after the folders are replaced',
  'restore.after-start': 'at the end',
};

/**
 * Where a product's own step runs, as the wizard lists it before a practice or a job. The screen said "while the
 * service is stopped" for EVC-net Edge, which is never stopped (`stopService: []`: it backs itself up while it runs).
 */
export function stepPointWords(point: StepPoint, profile: Pick<Profile, 'stopService'>): string {
  const side = point.startsWith('backup.') ? 'backup' : 'restore';
  return (profile.stopService.includes(side) ? STOPPED : RUNNING)[point];
}
