/**
 * Errors that cross a process boundary (worker → engine → IPC/WebSocket → renderer, or → CLI exit code)
 * carry a stable code and a message a technician can act on. Never put secrets in a message.
 */
export const ERROR_CODES = {
  BAD_INPUT: 'The request was not valid.',
  BAD_PROFILE: 'The product profile is not valid.',
  PROFILE_NOT_FOUND: 'No such product profile.',
  PROFILE_UNTRUSTED: 'The profile is untrusted input and may not be used for this.',
  SERVICE_FAILED: 'The service manager reported an error.',
  SERVICE_TIMEOUT: 'The service did not reach the expected state in time.',
  SERVICE_NOT_FOUND: 'The service is not installed on this machine.',
  FILES_IN_USE: 'A process still has files open in the folders.',
  SOURCE_MISSING: 'A folder to back up does not exist.',
  NOT_ENOUGH_SPACE: 'There is not enough free space.',
  MEDIUM_FULL: 'The medium filled up while writing.',
  MEDIUM_GONE: 'The medium disappeared while writing (unplugged?).',
  FILE_TOO_LARGE: 'The medium cannot hold a file this large.',
  BACKUP_NOT_FOUND: 'No backup was found there.',
  BACKUP_INCOMPLETE: 'The backup is incomplete.',
  BACKUP_CORRUPT: 'The backup is damaged.',
  PASSPHRASE_REQUIRED: 'The backup is encrypted; a passphrase is needed.',
  WRONG_PASSPHRASE: 'The passphrase does not open this backup.',
  HOSTILE_ARCHIVE: 'The archive contains an entry that would write outside its folder.',
  UNSAFE_PATH: 'A folder the tool writes into is a link, or holds links planted where the tool writes.',
  PATH_REFUSED:
    'The wizard does not read or write that folder (only the profile’s folders, a listed stick, the practice sandbox).',
  VERSION_MISMATCH: 'The installed product version does not fit the backup.',
  PROFILE_MISMATCH: 'The backup was made with another profile.',
  OTHER_DEVICE: 'The backup comes from another device.',
  USER_MISSING: 'The owner user or group does not exist on this machine.',
  PRECHECK_FAILED: 'A pre-check failed.',
  APPLIANCE_UNREACHABLE: "The appliance's local API does not answer.",
  API_ERROR: "The appliance's local API returned an error.",
  PERMISSION_DENIED: 'The tool lacks the rights to do this.',
  OWNERSHIP_MISMATCH: 'Some files do not match the ownership and permission policy.',
  RESTORE_IN_PROGRESS: 'An unfinished restore exists.',
  JOB_RUNNING: 'Another job that changes this machine is running.',
  NO_UNFINISHED_RESTORE: 'There is no unfinished restore.',
  STEP_FAILED: "A step of the product's own procedure failed.",
  STEP_TIMEOUT: "A step of the product's own procedure did not finish in time.",
  CANCELLED: 'Cancelled.',
  DECLINED: 'The technician declined the step.',
  INTERNAL: 'An unexpected internal error occurred.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface SerializedError {
  code: ErrorCode;
  message: string;
  /** What the technician can do about it. */
  hint?: string;
  /** Extra facts (file names, ids); never secrets. */
  details?: Record<string, unknown>;
  /**
   * The wizard's wording where message or hint name a command or flag ("edge-recovery resume", "--state-dir"):
   * the wizard shows these instead, the CLI the plain message and hint.
   */
  ui?: { message?: string; hint?: string };
}

export class RecoveryError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly ui: SerializedError['ui'];

  constructor(
    code: ErrorCode,
    message?: string,
    opts: {
      hint?: string;
      details?: Record<string, unknown>;
      cause?: unknown;
      ui?: SerializedError['ui'];
    } = {},
  ) {
    super(message ?? ERROR_CODES[code], opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RecoveryError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
    this.ui = opts.ui;
  }

  toJSON(): SerializedError {
    const out: SerializedError = { code: this.code, message: this.message };
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.details !== undefined) out.details = this.details;
    if (this.ui !== undefined) out.ui = this.ui;
    return out;
  }

  static fromJSON(s: SerializedError): RecoveryError {
    return new RecoveryError(s.code, s.message, { hint: s.hint, details: s.details, ui: s.ui });
  }
}

export function isRecoveryError(e: unknown): e is RecoveryError {
  return e instanceof RecoveryError;
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/**
 * Turns any thrown value into a RecoveryError. `where` names what was being written or read,
 * so ENOSPC becomes "The USB stick at /media/x is full" rather than a Node errno.
 */
export function toRecoveryError(e: unknown, where?: string): RecoveryError {
  if (e instanceof RecoveryError) return e;
  const errno = errnoCode(e);
  const at = where ? ` (${where})` : '';
  const cause = e;
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new RecoveryError('MEDIUM_FULL', `The medium is full${at}.`, {
        hint: 'Use a larger stick or free some space, then start again. Partial files were removed.',
        cause,
      });
    case 'EFBIG':
      return new RecoveryError('FILE_TOO_LARGE', `The medium refused a file this large${at}.`, {
        hint: 'The stick is probably FAT32 (4 GiB per file). Use --split-size, or an exFAT/ext4 stick.',
        ui: { hint: 'The stick is probably FAT32 (4 GiB per file). Use an exFAT or ext4 stick.' },
        cause,
      });
    case 'EIO':
    case 'ENODEV':
    case 'ENXIO':
    case 'ESTALE':
      return new RecoveryError('MEDIUM_GONE', `The medium stopped answering${at}. Was the stick unplugged?`, {
        hint: 'Plug the stick back in (or use another one) and start again. Nothing on this machine was changed.',
        cause,
      });
    case 'EACCES':
    case 'EPERM':
      return new RecoveryError('PERMISSION_DENIED', `Permission denied${at}.`, {
        hint: 'Run the tool as root (Linux) or as Administrator (Windows).',
        cause,
      });
    case 'EROFS':
      return new RecoveryError('PERMISSION_DENIED', `The medium is read-only${at}.`, {
        hint: 'Check the stick’s write-protect switch, or use another stick.',
        cause,
      });
    default: {
      const msg = e instanceof Error ? e.message : String(e);
      return new RecoveryError('INTERNAL', `${msg}${at}`, { cause });
    }
  }
}

const UNCHANGED =
  'Nothing on this machine was changed: the service kept running and the partly unpacked copy was deleted.';

/**
 * A failure of the restore's unpacking, which runs before the service is stopped: worded for this machine's
 * own disk rather than a stick (a restore writes its staging copy beside the product's folders: "the medium is
 * full … use a larger stick" would send the technician the wrong way), and saying that nothing changed and
 * that the way on is to start the restore again (there is nothing to resume or roll back).
 */
export function unpackFailed(err: RecoveryError, where: string): RecoveryError {
  const again = (hint: string, uiHint: string = hint): RecoveryError =>
    new RecoveryError(err.code, message(), {
      hint: `${hint} ${UNCHANGED}`,
      ...(err.details !== undefined ? { details: err.details } : {}),
      ui: { ...err.ui, hint: `${uiHint} ${UNCHANGED}` },
      cause: err,
    });
  const message = (): string => {
    switch (err.code) {
      case 'MEDIUM_FULL':
        return `The disk of this machine is full (${where}).`;
      case 'FILE_TOO_LARGE':
        return `The disk of this machine refused a file this large (${where}).`;
      case 'PERMISSION_DENIED':
        return /read-only/.test(err.message) ? `The disk of this machine is read-only (${where}).` : err.message;
      default:
        return err.message;
    }
  };
  switch (err.code) {
    case 'CANCELLED':
    case 'DECLINED':
      return err;
    case 'MEDIUM_FULL':
      return again(`Free some space on the disk that holds ${where} (df -h), then start the restore again.`);
    case 'FILE_TOO_LARGE':
      return again(
        "That filesystem cannot hold the product's files: check how it is formatted, then start the restore again.",
      );
    case 'MEDIUM_GONE':
      return again('Plug the same stick back in, then start the restore again.');
    case 'PERMISSION_DENIED':
      return /read-only/.test(err.message)
        ? again('Remount it read-write (or fix the disk), then start the restore again.')
        : again(err.hint ?? 'Check the permissions, then start the restore again.');
    default:
      return again(err.hint ?? 'Start the restore again.', err.ui?.hint ?? err.hint ?? 'Start the restore again.');
  }
}

/** Exit codes of the CLI, documented in the README. */
export const EXIT_CODES = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  VERIFY_FAILED: 3,
  REFUSED: 4,
  CANCELLED: 5,
  ROLLED_BACK: 6,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'BAD_INPUT':
    case 'BAD_PROFILE':
    case 'PROFILE_NOT_FOUND':
      return EXIT_CODES.USAGE;
    case 'BACKUP_CORRUPT':
    case 'BACKUP_INCOMPLETE':
    case 'WRONG_PASSPHRASE':
    case 'HOSTILE_ARCHIVE':
      return EXIT_CODES.VERIFY_FAILED;
    case 'VERSION_MISMATCH':
    case 'PROFILE_MISMATCH':
    case 'OTHER_DEVICE':
    case 'PRECHECK_FAILED':
    case 'USER_MISSING':
    case 'FILES_IN_USE':
    case 'RESTORE_IN_PROGRESS':
    case 'PROFILE_UNTRUSTED':
    case 'JOB_RUNNING':
    case 'UNSAFE_PATH':
    case 'PATH_REFUSED':
    case 'NOT_ENOUGH_SPACE':
      return EXIT_CODES.REFUSED;
    case 'CANCELLED':
    case 'DECLINED':
      return EXIT_CODES.CANCELLED;
    default:
      return EXIT_CODES.FAILED;
  }
}
