import type { Profile } from '../profiles/schema.js';
import type { StepPoint } from '../profiles/steps-schema.js';

/**
 * The restore's steps in order, with words that need no live context: the status view and the report
 * are built from the journal alone, after the process that ran the steps is gone.
 */
export const STEP_TITLES = [
  {
    id: 'verify',
    title: 'Check the backup',
    explain:
      'Check manifest.json, the passphrase and that every data part is there (the hashes are checked while unpacking).',
  },
  {
    id: 'compatibility',
    title: 'Check the backup fits this machine',
    explain: 'Compare profile, product version and device.',
  },
  {
    id: 'prechecks',
    title: 'Pre-checks',
    explain: "Run the product's checks; check the owner exists and there is room.",
  },
  {
    id: 'extract',
    title: 'Unpack into staging folders',
    explain: 'Unpack the backup beside the current folders while the service runs, checking every hash.',
  },
  {
    id: 'stop-service',
    title: 'Stop the service',
    explain: 'Stop the service and check no program holds files in the folders.',
  },
  {
    id: 'swap',
    title: 'Set the current folders aside and move the restored ones in',
    explain: 'Rename the current folders aside and the restored ones into place.',
  },
  {
    id: 'ownership',
    title: 'Repair owners and permissions',
    explain: "Set owners and modes by the profile's policy, then check every file.",
  },
  { id: 'start-service', title: 'Start the service', explain: 'Start the service and wait until it is healthy.' },
  {
    id: 'credentials',
    title: 'Enter the credentials again',
    explain: 'Type in again the secrets this machine cannot decrypt.',
  },
  { id: 'restart', title: 'Restart and check health', explain: 'Restart the service and check its health again.' },
  {
    id: 'report',
    title: 'Write the recovery report',
    explain: 'Write the report (JSON and HTML) to the medium and this machine.',
  },
  { id: 'finish', title: 'Clean up', explain: 'Delete the set-aside folders and staging leftovers.' },
] as const;

export type RestoreStepId = (typeof STEP_TITLES)[number]['id'];

/** Steps from here on change the machine: a failure there leaves something to resume or roll back. */
export const FIRST_CHANGING_STEP: RestoreStepId = 'stop-service';

export function stepIndex(id: string): number {
  return STEP_TITLES.findIndex((s) => s.id === id);
}

export interface StepTitle {
  id: string;
  title: string;
  explain: string;
  destructive: boolean;
}

/** Where each restore point sits: its steps come right before this runbook step. */
const POINT_BEFORE: Array<[StepPoint, string]> = [
  ['restore.before-stop', 'stop-service'],
  ['restore.after-stop', 'swap'],
  ['restore.import', 'start-service'],
  ['restore.before-start', 'start-service'],
  ['restore.after-start', 'credentials'],
];

/** The restore's steps for a profile: the runbook's own, with the product's own steps at their points. */
export function restoreStepTitles(profile: Profile | undefined): StepTitle[] {
  const out: StepTitle[] = [];
  for (const s of STEP_TITLES) {
    for (const [point, before] of POINT_BEFORE) {
      if (before !== s.id) continue;
      for (const p of profile?.steps ?? []) {
        if (p.at === point) {
          out.push({
            id: p.id,
            title: p.title,
            explain: p.explain,
            destructive: p.kind === 'reset' || p.confirm !== undefined,
          });
        }
      }
    }
    out.push({ id: s.id, title: s.title, explain: s.explain, destructive: s.id === 'stop-service' || s.id === 'swap' });
  }
  return out;
}
