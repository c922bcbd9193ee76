import type { PracticeView } from '../../src-main/shared/contract.js';

/** Which machine a flow works on: in practice, backups come from the "old" machine and restores go to the "replacement". */
export function machineFor(
  flow: 'backup' | 'restore',
  practice: PracticeView | null,
  profileRef: string | null,
): { profileRef: string; root?: string; label: string } | null {
  if (practice) {
    const m = flow === 'backup' ? practice.old : practice.replacement;
    return { profileRef: m.profileRef, root: m.root, label: m.label };
  }
  return profileRef ? { profileRef, label: 'this device' } : null;
}
