import { create } from 'zustand';
import type {
  AppInfo,
  BackupSummary,
  JobEventEnvelope,
  PracticeView,
  ProfileSummary,
  RestoreStatusView,
  SavedReportView,
} from '../../src-main/shared/contract.js';
import type { UiError } from '../lib/ui-error.js';

/** Where a backup goes or comes from: a mounted stick (or the practice stick folder). */
export interface Target {
  path: string;
  label: string;
  sizeBytes: number | null;
  device: string;
}

export interface RestoreChoice {
  source: Target;
  backup: BackupSummary;
  allowOtherDevice: boolean;
}

/** Every screen of the wizard; screens are switched on `kind` exhaustively. */
export type WizardStep =
  | { kind: 'loading' }
  | { kind: 'start' }
  | { kind: 'unfinished'; status: RestoreStatusView }
  | { kind: 'backup-plan' }
  | { kind: 'backup-drive'; notice?: UiError }
  | { kind: 'backup-options'; target: Target }
  /** `target` is null after a reload re-attached to a running backup. */
  | { kind: 'backup-run'; jobId: string; target: Target | null }
  | { kind: 'verify-drive' }
  /** `again`: the encrypted backup whose passphrase did not open it, chosen again for its passphrase. */
  | { kind: 'verify-pick'; source: Target; again?: BackupSummary }
  | { kind: 'verify-run'; jobId: string; backup?: BackupSummary; source?: Target }
  | { kind: 'restore-drive' }
  | { kind: 'restore-pick'; source: Target }
  | { kind: 'restore-ready'; choice: RestoreChoice; notice?: UiError }
  | { kind: 'restore-run'; jobId: string; choice: RestoreChoice | null }
  | { kind: 'rollback-run'; jobId: string }
  /** `saved`: where each copy of the report went (the stick, this machine), from the job's result. */
  | { kind: 'report'; path: string; saved?: SavedReportView[] }
  | { kind: 'mirror-drive'; from: string }
  | { kind: 'mirror-run'; jobId: string }
  | { kind: 'product-practice'; profileId: string }
  | { kind: 'product-practice-run'; jobId: string };

interface SessionSlice {
  info: AppInfo | null;
  profiles: ProfileSummary[];
  /** The profile the technician works with (detected, or chosen). */
  profileRef: string | null;
  /** Set while the technician rehearses on the practice sandbox. */
  practice: PracticeView | null;
  /** Folders the technician chose instead of the profile's defaults (item id → path) for the backup. */
  folders: Record<string, string>;
  /** What the backup plan measured: the data and the most it can take on a stick (for the stick and run screens). */
  backupSize: { bytes: number; files: number; needBytes: number } | null;
  setBackupSize(size: { bytes: number; files: number; needBytes: number } | null): void;
  /** Said once on the start screen (a killed backup put right at start); dismissed by the technician. */
  notices: string[];
  setNotices(notices: string[]): void;
  setSession(info: AppInfo, profiles: ProfileSummary[]): void;
  setFolders(folders: Record<string, string>): void;
  chooseProfile(ref: string): void;
  setPractice(p: PracticeView | null): void;
}

interface NavSlice {
  step: WizardStep;
  go(step: WizardStep): void;
}

interface JobsSlice {
  /** Job events by job id, in seq order, deduplicated: the only record of what a job did. */
  events: Record<string, JobEventEnvelope[]>;
  /** Prompt ids the wizard has answered (the engine's next event confirms it). */
  answered: ReadonlySet<string>;
  addEvents(envs: readonly JobEventEnvelope[]): void;
  markAnswered(promptId: string): void;
}

export type WizardState = SessionSlice & NavSlice & JobsSlice;

/** True while any job this page watches has not finished (leaving the page then asks first). */
export const selectJobRunning = (s: WizardState): boolean =>
  Object.values(s.events).some((list) => list.length > 0 && !list.some((e) => e.event.type === 'finished'));

const initial = {
  info: null,
  profiles: [],
  profileRef: null,
  practice: null,
  folders: {},
  backupSize: null,
  notices: [] as string[],
  step: { kind: 'loading' } as WizardStep,
  events: {},
  answered: new Set<string>(),
};

export const useWizard = create<WizardState>()((set) => ({
  ...initial,
  setSession: (info, profiles) =>
    set((s) => ({
      info,
      profiles,
      profileRef: s.profileRef ?? profiles.find((p) => p.id === info.detected?.profileId)?.ref ?? null,
    })),
  // Another profile or machine means other folders: chosen folders do not carry over.
  chooseProfile: (ref) => set({ profileRef: ref, folders: {} }),
  setPractice: (practice) => set({ practice, folders: {} }),
  setFolders: (folders) => set({ folders }),
  setBackupSize: (backupSize) => set({ backupSize }),
  setNotices: (notices) => set({ notices }),
  go: (step) => set({ step }),
  addEvents: (envs) =>
    set((s) => {
      let events = s.events;
      for (const env of envs) {
        const list = events[env.jobId] ?? [];
        if (list.some((e) => e.seq === env.seq)) continue;
        const next = [...list, env].sort((a, b) => a.seq - b.seq);
        events = { ...events, [env.jobId]: next };
      }
      return events === s.events ? s : { events };
    }),
  markAnswered: (promptId) => set((s) => ({ answered: new Set([...s.answered, promptId]) })),
}));

/** Test helper and "start over": drops all UI state. */
export function resetWizard(): void {
  useWizard.setState({ ...initial, answered: new Set<string>() });
}

// Small selectors so screens re-render only for what they show.
export const selectStep = (s: WizardState): WizardStep => s.step;
export const selectGo = (s: WizardState): NavSlice['go'] => s.go;
export const selectInfo = (s: WizardState): AppInfo | null => s.info;
export const selectPractice = (s: WizardState): PracticeView | null => s.practice;
export const selectProfiles = (s: WizardState): ProfileSummary[] => s.profiles;
export const selectProfileRef = (s: WizardState): string | null => s.profileRef;
export const selectFolders = (s: WizardState): Record<string, string> => s.folders;
export const selectBackupSize = (s: WizardState): WizardState['backupSize'] => s.backupSize;
export const selectJobEvents =
  (jobId: string) =>
  (s: WizardState): JobEventEnvelope[] | undefined =>
    s.events[jobId];
export const selectAnswered = (s: WizardState): ReadonlySet<string> => s.answered;
