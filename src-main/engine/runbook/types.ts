import type { SavedReport } from '../report/saved-at.js';
import type { SerializedError } from '../errors.js';
import type { Progress } from '../progress.js';

/**
 * A runbook is an ordered list of steps. Each step says what it will do before it runs
 * (`explain`), does it (`run`), says what it did (the summary it returns), and, where it
 * changes the machine, knows how to undo it. The CLI and the wizard only present runbooks:
 * every rule about what is safe lives in the steps.
 */
export type StepState = 'todo' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepInfo {
  id: string;
  title: string;
  /** Plain words: what will happen when this step runs. */
  explain: string;
  /** True when the step changes the machine and needs the technician's confirmation. */
  destructive: boolean;
  state: StepState;
  /** Plain words: what happened (set once done, failed or skipped). */
  summary?: string;
  /**
   * Done, but with things left to do that the technician chose to leave (credentials not entered): the
   * checklist says "open items", never a plain "Done".
   */
  open?: string[];
  error?: SerializedError;
}

export type RunbookKind = 'backup' | 'restore' | 'rollback' | 'verify' | 'mirror';

export type RunbookEvent =
  /** `cancel`: what cancelling the job means now (the runbook's words; see runner.ts Step.cancel). */
  | { type: 'plan'; runbook: RunbookKind; title: string; steps: StepInfo[]; cancel?: string }
  | { type: 'step'; step: StepInfo; cancel?: string }
  | { type: 'progress'; stepId: string; progress: Progress }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'finished'; ok: boolean; result?: RunbookResult; error?: SerializedError };

/** What a runbook that succeeded hands back to whoever presents it (no secrets). */
export type RunbookResult =
  | {
      kind: 'backup';
      setDir: string;
      removedOld: string[];
      warnings: string[];
      /** The backup report's files (JSON, HTML, PDF), on the stick and on this machine. */
      reports?: string[];
      saved?: SavedReport[];
    }
  | { kind: 'verify'; files: number }
  | {
      kind: 'restore';
      id: string;
      reports: string[];
      /** The same files, grouped: which copy is on the stick, which on this machine. */
      saved?: SavedReport[];
      credentialsPending: string[];
      warnings: string[];
      state: string;
    }
  | { kind: 'rollback'; id: string; state: string }
  | { kind: 'mirror'; copied: string[]; alreadyThere: string[]; removed: string[] };

export interface ConfirmRequest {
  stepId: string;
  title: string;
  /** What will happen, in plain words. */
  message: string;
  /** Lines listing what is affected (folders that move, service that stops). */
  details?: string[];
  /** Label of the button that goes ahead ("Stop the service"). */
  action: string;
  /**
   * Set when saying no is a normal choice rather than stopping the job ("Keep them"): its label, and the wizard
   * makes it the default button.
   */
  decline?: string;
  /**
   * Only a person's answer (or an explicit option) says yes here: an interaction that answers every question
   * without asking (the CLI's `--yes`) answers `decline` instead, and says `how` the yes is given explicitly.
   * For choices a blanket "yes" to a script must not make, e.g. deleting the folders a restore set aside.
   */
  explicitOnly?: { how: string };
  /** The wizard's wording where `message` names a command ("edge-recovery finish"): shown instead of it. */
  ui?: { message: string };
}

export interface CredentialField {
  name: string;
  label: string;
  secret: boolean;
  /** The current non-secret value, shown so the technician knows which account it is. */
  value?: string;
}

export interface CredentialEntry {
  /** Stable key: `<resourceId>/<entryId>`. */
  key: string;
  resourceId: string;
  resourceTitle: string;
  entryId: string;
  entryName: string;
  fields: CredentialField[];
}

export interface CredentialsRequest {
  stepId: string;
  entries: CredentialEntry[];
}

/** Values keyed by entry key, then field name. Never logged, never written to disk. */
export type CredentialValues = Record<string, Record<string, string>>;

/**
 * How a runbook asks the person in front of it. The CLI answers on the terminal (or from
 * flags/files with --yes), the wizard through the contract's prompt events.
 */
export interface Interaction {
  confirm(req: ConfirmRequest): Promise<boolean>;
  credentials(req: CredentialsRequest): Promise<CredentialValues | null>;
}

export type EventSink = (e: RunbookEvent) => void;
