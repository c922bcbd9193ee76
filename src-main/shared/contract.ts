/**
 * The one declaration of what the wizard can ask the main side for. The Electron preload, the IPC handlers,
 * the loopback web bridge and `window.recovery` are all derived from `REQUESTS`; inputs are validated here
 * with zod at every boundary. This file is imported by the renderer: no Node, no Electron.
 */
import { z } from 'zod';
import type { SerializedError } from '../engine/errors.js';
import type { Progress } from '../engine/progress.js';
import type { SavedReport } from '../engine/report/saved-at.js';
import type {
  ConfirmRequest,
  CredentialsRequest,
  CredentialValues,
  RunbookEvent,
  RunbookResult,
  StepInfo,
} from '../engine/runbook/types.js';

export type {
  SerializedError,
  Progress,
  ConfirmRequest,
  CredentialsRequest,
  CredentialValues,
  RunbookEvent,
  RunbookResult,
  StepInfo,
};

/** Phantom marker for an output type: outputs come from the trusted side and are typed, not validated. */
const out = <T>() => undefined as unknown as T;

const Path = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => !s.includes('\0'), 'must not contain NUL');
const ProfileRef = z.string().min(1).max(4096);
const Passphrase = z.string().min(1).max(1024);
/** Folders chosen instead of the profile's defaults: item id → absolute path. */
const Folders = z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/), Path);
const JobId = z.string().regex(/^job-[0-9a-f-]{8,64}$/);
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]*$/;
const TicketText = (max: number) =>
  z.string().max(max).regex(NO_CONTROL, 'must be one line without control characters');
/** Ticket number, site and technician for the report (limits as engine/report/ticket.ts TICKET_MAX). */
const Ticket = z
  .object({
    number: TicketText(64).optional(),
    site: TicketText(120).optional(),
    technician: TicketText(80).optional(),
  })
  .strict();

// ---------- Views the main side returns (plain data, no secrets) ----------

export interface AppInfo {
  version: string;
  platform: 'linux' | 'win32' | 'darwin' | string;
  /** root on Linux, Administrator on Windows. */
  elevated: boolean;
  /** True when serving the practice sandbox (no real appliance is touched). */
  practice: boolean;
  /**
   * True when the host was started for practice (`serve --practice`): it never backs up or restores this machine's
   * product, and practice cannot be left (the start screen offers no real work, which it would refuse at Start).
   */
  practiceOnly?: boolean;
  /** Which transport the renderer is on. */
  shell: 'electron' | 'browser';
  /** The profile that fits this machine, if one was found, and why. */
  detected: { profileId: string; reason: string } | null;
  hostname: string;
  deviceId: string;
}

export interface ProfileSummary {
  /** What to pass back as `profileRef`. */
  ref: string;
  id: string;
  productName: string;
  platform: 'linux' | 'windows';
  description?: string;
  service: { manager: string; name: string };
  items: { id: string; path: string; required: boolean; selected?: boolean; description?: string }[];
  owner?: { user: string; group: string; dirMode: string; fileMode: string };
  credentialResources: string[];
  /** The product's own steps (profile `steps`), where they run and what they do: the checklist shows them. */
  productSteps?: {
    id: string;
    at: string;
    kind: string;
    title: string;
    explain: string;
    /** Where it runs, in words that know whether the service is stopped on that side (engine/profiles/step-points). */
    when: string;
    destructive: boolean;
  }[];
  /** `edge-recovery practice <id>` exists for this profile (a stand-in of the product). */
  practice?: boolean;
}

export interface ItemPlan {
  id: string;
  path: string;
  exists: boolean;
  required: boolean;
  /**
   * Optional items: whether the backup takes it unless told otherwise (EDS Logs: false; each OPC UA adapter's
   * Certificates, `Certificates.<ComponentId>`: true). Change it with backup.start's include/exclude.
   */
  selected?: boolean;
  /** What the folder holds and when to take it, in plain words (from the profile). */
  description?: string;
  sizeBytes: number;
  files: number;
}

export interface ProfilePlan {
  profile: ProfileSummary;
  items: ItemPlan[];
  service: { state: string; detail: string };
  /** What stops this machine from running the profile's runbooks (missing rights, missing user …). */
  problems: { code: string; message: string }[];
  /** Whether relaunching elevated would help. */
  canElevate: boolean;
  /** The most a backup of the selected folders can take on a stick (the backup's own free-space rule). */
  backupNeedBytes: number;
  /**
   * Free space where each folder lives on this machine (a restore writes its staging copy beside the folder):
   * one line per filesystem, with the folders on it.
   */
  space: { path: string; itemIds: string[]; freeBytes: number | null; totalBytes: number | null }[];
}

export interface DriveReason {
  code: string;
  message: string;
}

export interface DriveView {
  device: string;
  description: string;
  sizeBytes: number | null;
  label: string | null;
  isRemovable: boolean;
  isUSB: boolean;
  mountpoints: {
    path: string;
    label: string | null;
    fsType: string | null;
    freeBytes: number | null;
    totalBytes: number | null;
  }[];
  status: 'ok' | 'warning' | 'hidden';
  reasons: DriveReason[];
}

export interface BackupSummary {
  path: string;
  deviceId: string;
  hostname: string;
  profileId: string;
  productName: string;
  productVersion: string | null;
  createdAt: string;
  /** The archive's size on the stick. */
  sizeBytes: number;
  /** The data it holds once unpacked (from the manifest), when known. */
  contentBytes?: number;
  files: number;
  encrypted: boolean;
  /** Made by a technician (manual) or a schedule (automatic); older manifests without it are manual. */
  class: 'manual' | 'automatic';
  /** False when the set is incomplete (no manifest, missing parts): shown, never restorable. */
  complete: boolean;
  problem?: string;
  /**
   * An archive made by hand (.tar, .tar.gz/.tgz, .zip): no recorded checksums. It is read through completely
   * and judged before a restore changes anything; the report records it as unverified.
   */
  handMade?: boolean;
}

/** The last verified backup of this device (per profile), from the state folder: age and place. */
export interface LastBackupView {
  profileId: string;
  deviceId: string;
  setDir: string;
  to: string;
  createdAt: string;
  class: 'manual' | 'automatic';
  encrypted: boolean;
  ageMs: number;
  /** False when the set is not reachable now (stick unplugged, removed). */
  present: boolean;
  /** Older than `thresholdMs`: the start screen warns. */
  stale: boolean;
  thresholdMs: number;
}

export interface BackupGroup {
  deviceId: string;
  hostname: string;
  /** True when this group is this machine's own backups. */
  thisDevice: boolean;
  backups: BackupSummary[];
}

export interface RestoreStatusView {
  id: string;
  backup: string;
  profileId: string;
  startedAt: string;
  updatedAt: string;
  /** Where it stopped, in plain words. */
  where: string;
  steps: StepInfo[];
  canResume: boolean;
  canRollback: boolean;
  /** Whether the backup is encrypted (the wizard asks its passphrase for a resume only then). */
  encrypted?: boolean;
}

export interface RestoreLeftovers {
  id: string;
  backup: string;
  credentialsPending: string[];
  keptFolders: { paths: string[]; files: number; bytes: number } | null;
}

/** The service ticket's fields as remembered from the last job (prefilled before the next one). */
export interface TicketView {
  number?: string;
  site?: string;
  technician?: string;
}

/** One saved copy of a report: on the stick (label, mount point) or on this machine. */
export type SavedReportView = SavedReport;

export interface PracticeView {
  /** Folder that stands in for the USB stick. */
  stickDir: string;
  old: { profileRef: string; root: string; label: string };
  replacement: { profileRef: string; root: string; label: string };
}

/** A prompt a running job is waiting on. */
export type JobPrompt =
  | { kind: 'confirm'; request: ConfirmRequest }
  | { kind: 'credentials'; request: CredentialsRequest };

export type JobEvent = RunbookEvent | { type: 'prompt'; promptId: string; prompt: JobPrompt };

/** What a job does; a renderer that re-attaches picks its screen from it. */
export type JobKind =
  | 'backup'
  | 'verify'
  | 'restore'
  | 'resume'
  | 'rollback'
  | 'credentials'
  | 'finish'
  | 'mirror'
  /** A product's whole practice (its stand-in's backup, then restore): `edge-recovery practice <id>`. */
  | 'practice';

/** A job still running in the host (the registry a reloaded wizard re-attaches to). */
export interface RunningJob {
  jobId: string;
  kind: JobKind;
  startedAt: string;
  changesMachine: boolean;
  /** The prompt it waits on now, if any. */
  pending: { promptId: string; prompt: JobPrompt } | null;
}

export interface JobEventEnvelope {
  jobId: string;
  seq: number;
  event: JobEvent;
}

// ---------- Requests ----------

export const REQUESTS = {
  'app.info': { input: z.object({}).strict(), output: out<AppInfo>() },
  'profiles.list': { input: z.object({}).strict(), output: out<ProfileSummary[]>() },
  'profiles.plan': {
    input: z.object({ profileRef: ProfileRef, root: Path.optional(), folders: Folders.optional() }).strict(),
    output: out<ProfilePlan>(),
  },
  'drives.list': {
    input: z
      .object({ all: z.boolean().default(false), minFreeBytes: z.number().int().nonnegative().optional() })
      .strict(),
    output: out<DriveView[]>(),
  },
  'drives.eject': { input: z.object({ target: Path }).strict(), output: out<{ ok: boolean; message: string }>() },
  'backups.list': { input: z.object({ dir: Path }).strict(), output: out<BackupGroup[]>() },
  /**
   * A backup that was killed (its journal is still there) is put right, as the CLI does before every command:
   * the service it stopped is started again. What was found, in plain words, or null when nothing was.
   */
  'backups.recoverInterrupted': {
    input: z.object({}).strict(),
    output: out<{ message: string; serviceStarted: boolean; unfinishedSet: string | null } | null>(),
  },
  /** When and where the last verified backup of this device was made (for the start screen). */
  'backups.last': {
    input: z.object({ profileRef: ProfileRef.optional() }).strict(),
    output: out<LastBackupView | null>(),
  },
  /** Copies the newest verified backups from `from` onto a stick, reads each copy back, keeps `keep` there. */
  'mirror.start': {
    input: z
      .object({
        from: Path,
        to: Path,
        keep: z.number().int().min(1).max(100).default(3),
        glob: z
          .string()
          .min(1)
          .max(200)
          .regex(/^[^/\\\0]+$/, 'must be a file-name pattern')
          .optional(),
      })
      .strict(),
    output: out<{ jobId: string }>(),
  },
  /** The printable emergency kit (self-contained HTML, no secrets) for a profile on this machine. */
  'emergencyKit.html': { input: z.object({ profileRef: ProfileRef }).strict(), output: out<{ html: string }>() },
  'backup.start': {
    input: z
      .object({
        profileRef: ProfileRef,
        to: Path,
        root: Path.optional(),
        folders: Folders.optional(),
        /** Optional item ids to take although off by default / to leave out although on by default. */
        include: z
          .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))
          .max(50)
          .optional(),
        exclude: z
          .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))
          .max(50)
          .optional(),
        passphrase: Passphrase.optional(),
        splitSizeBytes: z
          .number()
          .int()
          .min(1024 * 1024)
          .optional(),
        keep: z.number().int().min(1).max(100).optional(),
        leaveStopped: z.boolean().default(false),
        /** For the backup report; remembered for the next job. */
        ticket: Ticket.optional(),
      })
      .strict(),
    output: out<{ jobId: string }>(),
  },
  'verify.start': {
    input: z.object({ backup: Path, passphrase: Passphrase.optional() }).strict(),
    output: out<{ jobId: string }>(),
  },
  'restore.start': {
    input: z
      .object({
        backup: Path,
        profileRef: ProfileRef,
        root: Path.optional(),
        passphrase: Passphrase.optional(),
        allowOtherDevice: z.boolean().default(false),
        allowVersionMismatch: z.boolean().default(false),
        keepDefaults: z.boolean().default(false),
        /** For the restore report; remembered for the next job. */
        ticket: Ticket.optional(),
      })
      .strict(),
    output: out<{ jobId: string }>(),
  },
  'restore.status': { input: z.object({}).strict(), output: out<RestoreStatusView | null>() },
  'restore.resume': {
    input: z.object({ passphrase: Passphrase.optional() }).strict(),
    output: out<{ jobId: string }>(),
  },
  'restore.rollback': { input: z.object({}).strict(), output: out<{ jobId: string }>() },
  /** A finished restore's open credentials: asked again and sent to the running product (a job). */
  'restore.credentials': { input: z.object({}).strict(), output: out<{ jobId: string }>() },
  /** A finished restore's kept old folders: deleted after one more confirmation (a job). */
  'restore.finish': { input: z.object({}).strict(), output: out<{ jobId: string }>() },
  /** What the last finished restore left to do (open credentials, kept folders), or null. */
  'restore.leftovers': { input: z.object({}).strict(), output: out<RestoreLeftovers | null>() },
  'job.respond': {
    input: z
      .object({
        jobId: JobId,
        promptId: z.string().min(1).max(64),
        answer: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('confirm'), ok: z.boolean() }).strict(),
          z
            .object({
              kind: z.literal('credentials'),
              values: z.record(z.string().max(512), z.record(z.string().max(256), z.string().max(8192))).nullable(),
            })
            .strict(),
        ]),
      })
      .strict(),
    output: out<{ accepted: boolean }>(),
  },
  /** The jobs still running (after a reload the wizard re-attaches to them). */
  'job.running': { input: z.object({}).strict(), output: out<RunningJob[]>() },
  'job.cancel': { input: z.object({ jobId: JobId }).strict(), output: out<{ cancelled: boolean }>() },
  /** Events of a job so far (for a renderer that reloaded or reconnected). */
  'job.events': {
    input: z.object({ jobId: JobId, afterSeq: z.number().int().min(-1).default(-1) }).strict(),
    /** `pending`: the prompt the job waits on now, if any (a replayed prompt event may already be answered). */
    output: out<{
      events: JobEventEnvelope[];
      done: boolean;
      pending?: { promptId: string; prompt: JobPrompt } | null;
    }>(),
  },
  'report.read': { input: z.object({ path: Path }).strict(), output: out<{ html: string }>() },
  /** The ticket number, site and technician of the last job (asked once, remembered in the state folder). */
  'ticket.get': { input: z.object({}).strict(), output: out<TicketView>() },
  'practice.setup': { input: z.object({}).strict(), output: out<PracticeView>() },
  /**
   * Ends the practice the wizard started (its appliances stopped, its sandbox removed), so real profiles can be
   * used again; `left: false` with the reason on a practice-only server (`serve --practice`).
   */
  'practice.leave': { input: z.object({}).strict(), output: out<{ left: boolean; message: string }>() },
  /** A product's practice on its stand-in (profiles with `practice: true`), as `edge-recovery practice <id>`. */
  'practice.product': {
    input: z.object({ profileId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a profile id') }).strict(),
    output: out<{ jobId: string }>(),
  },
  /**
   * Relaunches the app with root/Administrator rights (after `profiles.plan` said `canElevate`). Electron only;
   * `started: false` with a message when it cannot (browser shell, password prompt cancelled).
   */
  'app.relaunchElevated': { input: z.object({}).strict(), output: out<{ started: boolean; message: string }>() },
} as const;

export type RequestName = keyof typeof REQUESTS;
export type RequestInput<K extends RequestName> = z.input<(typeof REQUESTS)[K]['input']>;
export type ParsedInput<K extends RequestName> = z.output<(typeof REQUESTS)[K]['input']>;
export type RequestOutput<K extends RequestName> = (typeof REQUESTS)[K]['output'];

export const REQUEST_NAMES = Object.keys(REQUESTS) as RequestName[];

export type { Envelope } from './transport.js';

/** Validates a request coming from the untrusted side. Unknown names and bad inputs become BAD_INPUT. */
export function parseRequest<K extends RequestName>(
  name: string,
  input: unknown,
): { ok: true; name: K; input: ParsedInput<K> } | { ok: false; error: SerializedError } {
  if (!Object.prototype.hasOwnProperty.call(REQUESTS, name)) {
    return { ok: false, error: { code: 'BAD_INPUT', message: `Unknown request "${String(name).slice(0, 64)}".` } };
  }
  const schema = REQUESTS[name as K].input;
  const r = schema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`);
    return {
      ok: false,
      error: { code: 'BAD_INPUT', message: `Invalid ${name} request: ${lines.join('; ')}`, details: { issues: lines } },
    };
  }
  return { ok: true, name: name as K, input: r.data as ParsedInput<K> };
}

// The transport side (what crosses IPC or the WebSocket) lives in ./transport.ts without zod, so the preload,
// the browser bridge and the renderer do not carry the schema library.
export { CHANNELS, RecoveryApiError, toRecoveryApiError, unwrap, type RecoveryApi } from './transport.js';
