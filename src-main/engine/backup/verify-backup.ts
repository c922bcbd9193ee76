import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { verifyArchive } from '../archive/index.js';
import { RecoveryError } from '../errors.js';
import { dropPageCacheAll } from '../media/page-cache.js';
import type { Progress } from '../progress.js';
import { executeRunbook, type RunbookIO } from '../runbook/runner.js';
import { readBackupSet, SUMS_NAME, type BackupSet } from './manifest.js';
import { checkManifestIntegrity, jobKeyFor } from './manifest-integrity.js';
import { parseSha256Sums } from './restore-txt.js';
import { releaseAgeKey } from '../archive/age-key.js';

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
  opts: { passphrase?: string; manifestOut?: string },
  io: { onProgress?: (p: Progress) => void; signal?: AbortSignal } = {},
): Promise<VerifyResult> {
  const set = await readBackupSet(setDir);
  const sumsText = await fsp.readFile(path.join(setDir, SUMS_NAME), 'utf8').catch(() => null);
  if (sumsText === null) {
    throw new RecoveryError('BACKUP_INCOMPLETE', `${SUMS_NAME} is missing from ${setDir}.`, {
      hint: 'Use another backup.',
    });
  }
  const sums = parseSha256Sums(sumsText);
  for (const p of set.manifest.archive.parts) {
    if (sums.get(p.name) !== p.sha256) {
      throw new RecoveryError('BACKUP_CORRUPT', `${SUMS_NAME} and manifest.json disagree about ${p.name}.`, {
        hint: 'The backup was changed after it was written. Use another backup.',
      });
    }
  }
  // scrypt once for the job (an encrypted backup): the manifest's MAC and the archive's header share the key.
  const key = set.manifest.archive.encryption !== null ? await jobKeyFor(set, opts.passphrase) : null;
  try {
    await checkManifestIntegrity(set, key);
    await dropPageCacheAll(set.manifest.archive.parts.map((p) => path.join(setDir, p.name)));
    const r = await verifyArchive(
      setDir,
      {
        parts: set.manifest.archive.parts,
        ...(key !== null ? { ageKey: key } : {}),
        ...(opts.manifestOut !== undefined ? { manifestOut: opts.manifestOut } : {}),
      },
      io,
    );
    checkCounts(set, r.files);
    return { set, files: r.files, contentBytes: r.contentBytes };
  } finally {
    releaseAgeKey(key);
  }
}

function checkCounts(set: BackupSet, files: number): void {
  if (files !== set.manifest.files) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `The archive holds ${files} files but manifest.json says ${set.manifest.files}.`,
    );
  }
}

/** verifyBackup as a one-step runbook, for the wizard and `edge-recovery verify --json`. */
export async function runVerify(setDir: string, opts: { passphrase?: string }, io: RunbookIO): Promise<VerifyResult> {
  let result: VerifyResult | null = null;
  try {
    await executeRunbook(
      {
        kind: 'verify',
        title: 'Verify a backup',
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
              return `All ${result.files} files match.`;
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
