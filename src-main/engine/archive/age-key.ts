import { hkdfSync, randomBytes, scrypt } from 'node:crypto';

/**
 * The passphrase's scrypt key for age's scrypt recipient (age-encryption.org/v1, "scrypt" stanza):
 * scrypt(passphrase, "age-encryption.org/v1/scrypt" || salt, N = 2^logN, r = 8, p = 1) → 32 bytes.
 *
 * It is derived ONCE per job with Node's native scrypt (~0.7 s, ~256 MiB, freed afterwards; the pure-JS
 * one in `age-encryption` took ~1 s and ran two or three times per job) and then reused: to wrap or unwrap
 * the age file key in the archive's header, and, through HKDF, as the key that authenticates manifest.json.
 * The key crosses to worker threads as bytes, never the passphrase's derivative in a log or a file.
 */
export const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
/** age's default work factor; kept for the passphrase's sake. */
export const DEFAULT_LOG_N = 18;
/** A slightly higher work factor than age's maximum default is refused, as age itself caps what it accepts. */
const MAX_LOG_N = 22;

export interface AgeKey {
  /** The scrypt stanza's 16-byte salt. */
  salt: Uint8Array;
  logN: number;
  /** scrypt's 32-byte output: wraps the file key. Zeroed by releaseAgeKey. */
  key: Uint8Array;
}

export async function deriveAgeKey(passphrase: string, salt: Uint8Array, logN: number): Promise<AgeKey> {
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_LOG_N) {
    throw new RangeError(`scrypt work factor ${logN} is out of range`);
  }
  const N = 2 ** logN;
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      Buffer.from(passphrase, 'utf8'),
      Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]),
      32,
      // 128·N·r bytes of scratch (256 MiB at logN 18), plus headroom.
      { N, r: 8, p: 1, maxmem: 128 * N * 8 + 32 * 1024 * 1024 },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  );
  return { salt: new Uint8Array(salt), logN, key: new Uint8Array(key) };
}

/** A fresh key for a new encrypted backup (random salt, age's default work factor). */
export function newAgeKey(passphrase: string, logN = DEFAULT_LOG_N): Promise<AgeKey> {
  return deriveAgeKey(passphrase, randomBytes(16), logN);
}

/** The key that authenticates manifest.json, bound to this passphrase and this archive's salt. */
export function manifestMacKey(k: AgeKey): Buffer {
  return Buffer.from(hkdfSync('sha256', k.key, k.salt, 'edge-recovery manifest.json v1', 32));
}

/** Forget the key once the job is done. */
export function releaseAgeKey(k: AgeKey | null | undefined): void {
  k?.key.fill(0);
}

/** The scrypt stanza's salt and work factor in an age header, or null when it has none. */
export function scryptStanza(header: Buffer): { salt: Buffer; logN: number } | null {
  const text = header.toString('latin1');
  const m = /^-> scrypt ([A-Za-z0-9+/]{22}) (\d{1,2})$/m.exec(text);
  if (!m) return null;
  const salt = Buffer.from(m[1]!, 'base64');
  if (salt.length !== 16) return null;
  return { salt, logN: Number(m[2]) };
}
