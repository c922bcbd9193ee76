import path from 'node:path';
import { verifyArchive, type ArchiveLimits } from '../archive/index.js';
import { isRecoveryError, RecoveryError } from '../errors.js';
import { readStickText } from '../util/stick-file.js';
import { dropPageCacheAll } from '../media/page-cache.js';
import { countOf, type Progress } from '../progress.js';
import { executeRunbook, type RunbookIO } from '../runbook/runner.js';
import { loadProfile } from '../profiles/load.js';
import type { Profile } from '../profiles/schema.js';
import { isHandMadeArchive, runVerifyHandMade } from './hand-made.js';
import { readBackupSet, SUMS_NAME, type BackupSet } from './manifest.js';
import { checkManifestIntegrity, jobKeyFor } from './manifest-integrity.js';
import { parseSha256Sums } from './restore-txt.js';
import { releaseAgeKey, type AgeKey } from '../archive/age-key.js';
import { verifyArtifacts } from '../runbook/product/artifacts.js';
import { refuseOtherPlace, type PlaceIdentity } from '../util/same-place.js';

/** What cancelling a verify means (it only reads). */
export const VERIFY_CANCEL = 'Checking stops. Nothing on the stick or on this machine changes.';

export interface HandMadeVerifyResult {
  handMade: true;
  files: number;
  mapping: string;
  note: string;
}

/** The totals manifest.json declares: reading stops as soon as the archive holds more. */
/**
 * The folders and links one backup may declare. Reading an archive holds every folder's and link's name until the
 * end (the extraction sets the folders' times and modes last, the screen resolves links against the tree): about
 * 260 bytes each for typical names, so this is some hundreds of MB. A set declaring more (a hostile manifest, with
 * every hash matching) would have the reader run out of memory before any declared limit stopped it.
 */
export const MAX_DIRS_AND_LINKS = 1_000_000;

/** What the set's manifest declares, to stop reading as soon as the archive holds more; refused if no reader could. */
export function manifestLimits(m: BackupSet['manifest']): ArchiveLimits {
  const held = m.dirs + m.symlinks;
  if (held > MAX_DIRS_AND_LINKS) {
    throw new RecoveryError(
      'HOSTILE_ARCHIVE',
      `The backup's manifest declares ${held.toLocaleString('en-US')} folders and links; reading a backup holds each one's name in memory, and this tool reads at most ${MAX_DIRS_AND_LINKS.toLocaleString('en-US')}: nothing was read.`,
      {
        hint: 'A backup of a product this tool knows stays far below that: this manifest was probably tampered with. Use another copy.',
        details: { dirs: m.dirs, symlinks: m.symlinks },
      },
    );
  }
  return {
    files: m.files,
    contentBytes: m.contentBytes,
    entries: m.files + m.dirs + m.symlinks,
    dirs: m.dirs,
    symlinks: m.symlinks,
  };
}

export interface VerifyResult {
  set: BackupSet;
  files: number;
  contentBytes: number;
}

/**
 * Reads a whole backup back: SHA256SUMS agrees with the manifest, every part's size and hash, decryption,
 * and every file against the inner manifest. Resolves only when everything matches.
 */
export async function verifyBackup(
  setDir: string,
  opts: {
    passphrase?: string;
    manifestOut?: string;
    /** The key the caller derived for this backup already (jobKeyFor): no second scrypt. Released at the end. */
    ageKey?: AgeKey;
  },
  io: { onProgress?: (p: Progress) => void; signal?: AbortSignal } = {},
): Promise<VerifyResult> {
  const set = await readBackupSet(setDir);
  const sumsText = await readStickText(path.join(setDir, SUMS_NAME)).catch((e: unknown) => {
    if (isRecoveryError(e)) throw e;
    return null;
  });
  if (sumsText === null) {
    throw new RecoveryError('BACKUP_INCOMPLETE', `${SUMS_NAME} is missing from ${setDir}.`, {
      hint: 'Use another backup.',
    });
  }
  const sums = parseSha256Sums(sumsText);
  for (const p of [
    ...set.manifest.archive.parts,
    ...set.manifest.artifacts.map((a) => ({ name: a.path, sha256: a.sha256 })),
  ]) {
    if (sums.get(p.name) !== p.sha256) {
      throw new RecoveryError('BACKUP_CORRUPT', `${SUMS_NAME} and manifest.json disagree about ${p.name}.`, {
        hint: 'The backup was changed after it was written. Use another backup.',
      });
    }
  }
  const encryptedArtifacts = set.manifest.artifacts.some((a) => a.format === 'openssl-enc-tar-gz');
  if (encryptedArtifacts && opts.passphrase === undefined) {
    throw new RecoveryError('PASSPHRASE_REQUIRED', 'This backup is encrypted: enter its passphrase.', {
      hint: 'Use --passphrase-file, the EDGE_RECOVERY_PASSPHRASE variable, or type it when asked.',
      ui: { hint: 'Type the passphrase of this backup.' },
    });
  }
  // scrypt once for the job (an encrypted backup): the manifest's MAC and the archive's header share the key.
  const key =
    set.manifest.archive.encryption !== null ? (opts.ageKey ?? (await jobKeyFor(set, opts.passphrase))) : null;
  try {
    await checkManifestIntegrity(set, key);
    await dropPageCacheAll(set.manifest.archive.parts.map((p) => path.join(setDir, p.name)));
    const r = await verifyArchive(
      setDir,
      {
        parts: set.manifest.archive.parts,
        ...(set.manifest.archive.gzipMembers ? { gzipMembers: set.manifest.archive.gzipMembers } : {}),
        ...(key !== null ? { ageKey: key } : {}),
        ...(opts.manifestOut !== undefined ? { manifestOut: opts.manifestOut } : {}),
        // The restore's own screen: what verify calls OK, the restore accepts.
        screen: { itemIds: set.manifest.items.map((i) => i.id) },
        limits: manifestLimits(set.manifest),
      },
      io,
    );
    checkCounts(set, r.files, r.contentBytes);
    if (set.manifest.artifacts.length > 0) {
      // The product's own files: checksums, and its encrypted backups decrypted and read through.
      await dropPageCacheAll(set.manifest.artifacts.map((a) => path.join(setDir, ...a.path.split('/'))));
      await verifyArtifacts(setDir, set.manifest.artifacts, {
        ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}),
        ...(io.onProgress ? { onProgress: io.onProgress } : {}),
        ...(io.signal ? { signal: io.signal } : {}),
      });
    }
    return { set, files: r.files, contentBytes: r.contentBytes };
  } finally {
    releaseAgeKey(key);
  }
}

function checkCounts(set: BackupSet, files: number, contentBytes: number): void {
  if (files !== set.manifest.files || contentBytes !== set.manifest.contentBytes) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `The archive holds ${files} files (${contentBytes} bytes) but manifest.json says ${set.manifest.files} (${set.manifest.contentBytes} bytes).`,
    );
  }
}

/**
 * verifyBackup as a one-step runbook, for the wizard and `edge-recovery verify --json`. A hand-made archive
 * (.tar, .tar.gz/.tgz, .zip) is read through instead, its folders found by the profile's (default: eds-linux)
 * folder names; it has no recorded checksums, and the result says so.
 */
export async function runVerify(
  setDir: string,
  opts: { passphrase?: string; ageKey?: AgeKey; profile?: Profile; identity?: PlaceIdentity },
  io: RunbookIO,
): Promise<VerifyResult | HandMadeVerifyResult> {
  // The wizard's host judged the backup the page named: the same one, or nothing is read.
  await refuseOtherPlace(setDir, opts.identity, 'The backup');
  if (await isHandMadeArchive(setDir)) {
    const profile = opts.profile ?? (await loadProfile('eds-linux'));
    return { handMade: true, ...(await runVerifyHandMade(setDir, profile, io)) };
  }
  let result: VerifyResult | null = null;
  try {
    await executeRunbook(
      {
        kind: 'verify',
        title: 'Verify a backup',
        cancel: VERIFY_CANCEL,
        steps: [
          {
            id: 'verify',
            title: 'Verify the backup',
            explain: () =>
              `Read ${setDir} completely: checksums of every part, decryption, and every file against its recorded checksum. Nothing is changed.`,
            async run(_c, s) {
              result = await verifyBackup(setDir, opts, {
                onProgress: s.progress,
                ...(s.signal ? { signal: s.signal } : {}),
              });
              const own = result.set.manifest.artifacts.length;
              return `All ${result.files} files${own > 0 ? ` and ${countOf(own, 'file')} of the product's own` : ''} match.`;
            },
          },
        ],
      },
      null,
      io,
    );
  } catch (e) {
    const err = e instanceof RecoveryError ? e : new RecoveryError('INTERNAL', String(e));
    io.emit({ type: 'finished', ok: false, error: err.toJSON() });
    throw err;
  }
  io.emit({ type: 'finished', ok: true, result: { kind: 'verify', files: result!.files } });
  return result!;
}
