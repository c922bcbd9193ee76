import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { deriveAgeKey, manifestMacKey, scryptStanza, type AgeKey } from '../archive/age-key.js';
import { AgeDecryptor, looksEncrypted } from '../archive/age-stream.js';
import { isRecoveryError, RecoveryError } from '../errors.js';
import { readStickText } from '../util/stick-file.js';
import { MANIFEST_NAME, SUMS_NAME, type BackupManifest, type BackupSet } from './manifest.js';
import { parseSha256Sums } from './restore-txt.js';

/**
 * manifest.json says what a backup is (product version, device, profile, items) and the restore decides by
 * it, so it must not be changeable unnoticed:
 * - every backup lists manifest.json in SHA256SUMS (written after verification, before manifest.json), and
 *   verify checks it: accidental damage or a careless edit is caught. Someone who rewrites SHA256SUMS too is
 *   not: that needs a secret.
 * - an encrypted backup's manifest.json carries an HMAC-SHA256 under a key derived (HKDF) from the same
 *   scrypt key that wraps the archive's age file key: without the passphrase nobody can change what the
 *   manifest says, or pair it with another archive, unnoticed.
 * The MAC covers the manifest's JSON exactly as written (JSON.stringify of the object without `integrity`).
 */
export const INTEGRITY_SCHEME = 'hmac-sha256-age-scrypt';

function unsignedJson(raw: Record<string, unknown>): string {
  const rest = { ...raw };
  delete rest.integrity;
  return JSON.stringify(rest);
}

function mac(raw: Record<string, unknown>, key: AgeKey): string {
  return createHmac('sha256', manifestMacKey(key)).update(unsignedJson(raw)).digest('hex');
}

/** The manifest with its MAC (encrypted backups); `integrity` is its last field. */
export function signManifest(m: BackupManifest, key: AgeKey): BackupManifest {
  const unsigned: BackupManifest = { ...m };
  delete unsigned.integrity;
  return { ...unsigned, integrity: { scheme: INTEGRITY_SCHEME, mac: mac(unsigned, key) } };
}

function firstPart(set: BackupSet): string {
  return path.join(set.dir, set.manifest.archive.parts[0]!.name);
}

/**
 * The job's scrypt key for an encrypted backup: derived once from the passphrase and the salt in the first
 * part's age header, and checked against that header (a wrong passphrase is WRONG_PASSPHRASE here, before
 * anything else). Release it (releaseAgeKey) when the job ends.
 */
export async function jobKeyFor(set: BackupSet, passphrase: string | undefined): Promise<AgeKey> {
  if (passphrase === undefined || passphrase === '') {
    throw new RecoveryError('PASSPHRASE_REQUIRED', 'This backup is encrypted: enter its passphrase.', {
      hint: 'Use --passphrase-file, the EDGE_RECOVERY_PASSPHRASE variable, or type it when asked.',
      ui: { hint: 'Type the passphrase of this backup.' },
    });
  }
  const fh = await fsp.open(firstPart(set), 'r').catch((e: unknown) => {
    throw new RecoveryError('BACKUP_INCOMPLETE', `Cannot read ${firstPart(set)}: ${(e as Error).message}`, {
      hint: 'Use another backup.',
    });
  });
  let head: Buffer;
  try {
    const buf = Buffer.alloc(64 * 1024 + 16);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const st = looksEncrypted(head) ? scryptStanza(head) : null;
  if (st === null) {
    throw new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${firstPart(set)} has no passphrase header.`, {
      hint: 'Use another copy of the backup.',
    });
  }
  // The work factor comes from the stick: one beyond age's own limit is a damaged or hostile header, not a bug.
  const key = await deriveAgeKey(passphrase, st.salt, st.logN).catch((e: unknown) => {
    if (!(e instanceof RangeError)) throw e;
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `The backup is damaged: the encryption header of ${firstPart(set)} asks for a scrypt work factor of 2^${st.logN}, beyond what age accepts.`,
      { hint: 'Use another copy of the backup.' },
    );
  });
  // Opens the header with this key: a wrong passphrase is told now, not as a MAC mismatch.
  await new AgeDecryptor(undefined, key).push(head, []);
  return key;
}

/**
 * Checks manifest.json against SHA256SUMS and, for an encrypted backup, its MAC under the job's key.
 * BACKUP_CORRUPT (exit 3) names what does not match.
 */
export async function checkManifestIntegrity(set: BackupSet, key: AgeKey | null): Promise<string> {
  const sumsText = await readStickText(path.join(set.dir, SUMS_NAME)).catch((e: unknown) => {
    if (isRecoveryError(e)) throw e;
    return null;
  });
  if (sumsText === null) {
    throw new RecoveryError('BACKUP_INCOMPLETE', `${SUMS_NAME} is missing from ${set.dir}.`, {
      hint: 'Use another backup.',
    });
  }
  const listed = parseSha256Sums(sumsText).get(MANIFEST_NAME);
  if (listed === undefined) {
    throw new RecoveryError('BACKUP_CORRUPT', `${SUMS_NAME} does not list ${MANIFEST_NAME}, so it cannot be checked.`, {
      hint: 'The backup was changed after it was written, or made by an older version of this tool. Use another backup.',
    });
  }
  const actual = createHash('sha256').update(set.text).digest('hex');
  if (actual !== listed) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `${MANIFEST_NAME} does not match its checksum in ${SUMS_NAME}: it was changed after the backup was written.`,
      { hint: 'Do not trust what it says (product version, device). Use another backup.' },
    );
  }
  if (set.manifest.archive.encryption === null) return `${MANIFEST_NAME} matches ${SUMS_NAME}.`;
  const integrity = set.manifest.integrity;
  if (integrity === undefined || integrity.scheme !== INTEGRITY_SCHEME) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `The encrypted backup's ${MANIFEST_NAME} carries no authentication code.`,
      {
        hint: 'It was changed after the backup was written. Use another backup.',
      },
    );
  }
  if (key === null) throw new RecoveryError('PASSPHRASE_REQUIRED', 'This backup is encrypted: enter its passphrase.');
  const want = Buffer.from(mac(set.raw, key), 'hex');
  const got = Buffer.from(integrity.mac, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `${MANIFEST_NAME} is not authentic: it does not match its authentication code under this passphrase. ` +
        'It was changed after the backup was written, or belongs to another backup.',
      { hint: 'Do not trust what it says (product version, device). Use another backup.' },
    );
  }
  return `${MANIFEST_NAME} is authentic (checksum and passphrase-keyed code).`;
}
