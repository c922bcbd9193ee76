import type { ErrorCode } from '../errors.js';
import type { StepInfo } from '../runbook/types.js';

export type ReportKind = 'backup' | 'restore' | 'rollback';

/** A step's error as the report shows it: code, message and hint only, never `details`. */
export interface ReportStepError {
  code: ErrorCode;
  message: string;
  hint?: string;
}

/** A runbook step with when it ran (ISO 8601 UTC). A StepInfo is assignable to it. */
export type ReportStep = Omit<StepInfo, 'error'> & {
  error?: ReportStepError;
  startedAt?: string;
  finishedAt?: string;
};

export interface OwnershipMismatch {
  path: string;
  /** e.g. "edsuser:edsgroup 0640" */
  expected: string;
  actual: string;
}

/** Which credentials the technician typed in again: names only, never what was typed. */
export interface CredentialReentered {
  resourceTitle: string;
  entryName: string;
  /** Field names ("password", "clientSecret"), not values. */
  fields: string[];
}

/**
 * Everything a recovery report holds. It is written to the stick and the machine and may be
 * mailed around, so by design it has no place for a secret: no free-form records, no
 * `Record<string, unknown>`, credentials by name only (a type test in report-build.test.ts
 * keeps it that way).
 */
export interface ReportData {
  kind: ReportKind;
  ok: boolean;
  toolVersion: string;
  profile: { id: string; productName: string };
  hostname: string;
  /** This machine's device id. */
  deviceId: string;
  /** The device the backup came from (for a backup: this machine). */
  sourceDeviceId: string | null;
  backupPath: string;
  /**
   * A hand-made archive as the source: no checksums were recorded when it was made, so the report says the
   * source is unverified (its own sha256 identifies it; how its folders were mapped).
   */
  source?: { kind: 'hand-made'; format: string; sha256: string; verified: false; mapping: string };
  /** ISO 8601 UTC. */
  startedAt: string;
  finishedAt: string;
  versions: { backup?: string; installedBefore?: string; installedAfter?: string };
  steps: ReportStep[];
  files: number;
  contentBytes: number;
  ownershipCheck: { checked: number; mismatches: OwnershipMismatch[] };
  credentialsReentered: CredentialReentered[];
  notes: string[];
}
