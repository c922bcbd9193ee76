import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { RecoveryError } from '../errors.js';
import { deriveAgeKey, newAgeKey, releaseAgeKey, scryptStanza, type AgeKey } from './age-key.js';

/**
 * age v1 with a passphrase (scrypt recipient), all with Node's native crypto: the header (one scrypt
 * stanza wrapping the file key, then the header MAC) and the payload STREAM (ChaCha20-Poly1305 in 64 KiB
 * chunks). The scrypt key is derived once per job (age-key.ts) and handed in, so a backup or a restore
 * runs scrypt once, not once per read. Debian's `age -d` and the `age-encryption` package read the result,
 * and it reads theirs (tests/engine/age-interop.test.ts, backup-cli.test.ts).
 */
export const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
const CHUNK = 64 * 1024;
const TAG = 16;
const MAX_HEADER = 64 * 1024;
const ZERO_NONCE = Buffer.alloc(12);

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

function headerMac(fileKey: Uint8Array, upToDashes: string): Buffer {
  const k = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  return createHmac('sha256', k).update(upToDashes, 'latin1').digest();
}

/** age's base64: standard alphabet, no padding. */
function b64(b: Uint8Array): string {
  return Buffer.from(b).toString('base64').replace(/=+$/, '');
}

function nonceFor(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  // 11-byte big-endian counter; 2^48 chunks is far beyond any backup.
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

/** The header ends with the MAC line "--- <base64>\n". */
function headerEnd(buf: Buffer): number {
  const i = buf.indexOf('\n--- ');
  if (i === -1) return -1;
  const nl = buf.indexOf(0x0a, i + 1);
  return nl === -1 ? -1 : nl + 1;
}

/** The key to use for this header: the job's own key when its salt matches, else derived now (once). */
async function keyFor(header: Buffer, passphrase: string | undefined, given: AgeKey | undefined): Promise<AgeKey> {
  const st = scryptStanza(header);
  if (st === null) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      'The backup is damaged: its encryption header has no passphrase stanza.',
      {
        hint: 'This file was not encrypted with a passphrase, or it is damaged. Use another copy of the backup.',
      },
    );
  }
  if (given !== undefined && given.logN === st.logN && Buffer.from(given.salt).equals(st.salt)) return given;
  if (passphrase === undefined || passphrase === '') {
    throw new RecoveryError('PASSPHRASE_REQUIRED', 'This backup is encrypted: enter its passphrase.');
  }
  try {
    return await deriveAgeKey(passphrase, st.salt, st.logN);
  } catch {
    throw corrupt('the encryption header asks for an unusable work factor');
  }
}

export class AgeEncryptor {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private counter = 0;

  private constructor(
    private readonly key: Buffer,
    readonly prefix: Buffer,
  ) {}

  /** Builds the header with the job's scrypt key (or derives one now, once, from the passphrase). */
  static async create(passphrase: string | undefined, jobKey?: AgeKey): Promise<AgeEncryptor> {
    const k = jobKey ?? (await newAgeKey(passphrase ?? ''));
    try {
      const fileKey = randomBytes(16);
      const c = createCipheriv('chacha20-poly1305', k.key, ZERO_NONCE, { authTagLength: TAG });
      const wrapped = Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
      const upToDashes = `age-encryption.org/v1\n-> scrypt ${b64(k.salt)} ${k.logN}\n${b64(wrapped)}\n---`;
      const header = Buffer.from(`${upToDashes} ${b64(headerMac(fileKey, upToDashes))}\n`, 'latin1');
      const nonce = randomBytes(16);
      return new AgeEncryptor(payloadKey(fileKey, nonce), Buffer.concat([header, nonce]));
    } finally {
      if (jobKey === undefined) releaseAgeKey(k);
    }
  }

  /** Encrypts; a chunk is sealed as non-final only once more plaintext is known to follow. */
  push(data: Buffer, out: Buffer[]): void {
    let off = 0;
    while (off < data.length) {
      if (this.used === CHUNK) {
        out.push(this.seal(false));
        this.used = 0;
      }
      const n = Math.min(CHUNK - this.used, data.length - off);
      data.copy(this.buf, this.used, off, off + n);
      this.used += n;
      off += n;
    }
  }

  final(out: Buffer[]): void {
    out.push(this.seal(true));
  }

  private seal(last: boolean): Buffer {
    const c = createCipheriv('chacha20-poly1305', this.key, nonceFor(this.counter++, last), { authTagLength: TAG });
    const body = c.update(this.buf.subarray(0, this.used));
    c.final();
    return Buffer.concat([body, c.getAuthTag()]);
  }
}

export class AgeDecryptor {
  private head: Buffer[] = [];
  private headLen = 0;
  private key: Buffer | null = null;
  private readonly buf = Buffer.allocUnsafe(CHUNK + TAG);
  private used = 0;
  private counter = 0;

  constructor(
    private readonly passphrase: string | undefined,
    private readonly jobKey?: AgeKey,
  ) {}

  /** Feeds ciphertext; returns plaintext. The first call(s) parse the header and check the passphrase. */
  async push(data: Buffer, out: Buffer[]): Promise<void> {
    if (this.key === null) {
      this.head.push(data);
      this.headLen += data.length;
      const all = Buffer.concat(this.head);
      const end = headerEnd(all);
      if (end === -1 || all.length < end + 16) {
        if (this.headLen > MAX_HEADER) throw corrupt('the encryption header is not valid');
        this.head = [all];
        return;
      }
      this.key = await this.openHeader(all.subarray(0, end), all.subarray(end, end + 16));
      this.head = [];
      data = all.subarray(end + 16);
    }
    let off = 0;
    while (off < data.length) {
      if (this.used === CHUNK + TAG) {
        out.push(this.open(false));
        this.used = 0;
      }
      const n = Math.min(CHUNK + TAG - this.used, data.length - off);
      data.copy(this.buf, this.used, off, off + n);
      this.used += n;
      off += n;
    }
  }

  final(out: Buffer[]): void {
    if (this.key === null) throw corrupt('the encrypted data ends inside its header');
    if (this.used < TAG || (this.used === TAG && this.counter > 0)) throw corrupt('the encrypted data ends early');
    out.push(this.open(true));
  }

  private async openHeader(header: Buffer, nonce: Buffer): Promise<Buffer> {
    const text = header.toString('latin1');
    const dashes = text.lastIndexOf('\n--- ') + 1;
    const lines = text.slice(0, dashes).split('\n');
    // "age-encryption.org/v1", "-> scrypt <salt> <logN>", its one body line, "" (then "--- <mac>").
    if (lines.length !== 4 || lines[0] !== 'age-encryption.org/v1' || !/^[A-Za-z0-9+/]{43}$/.test(lines[2]!)) {
      throw corrupt('the encryption header is not a passphrase header this tool reads');
    }
    const k = await keyFor(header, this.passphrase, this.jobKey);
    let fileKey: Buffer;
    try {
      const wrapped = Buffer.from(lines[2]!, 'base64');
      const d = createDecipheriv('chacha20-poly1305', k.key, ZERO_NONCE, { authTagLength: TAG });
      d.setAuthTag(wrapped.subarray(16));
      fileKey = Buffer.concat([d.update(wrapped.subarray(0, 16)), d.final()]);
    } catch {
      throw new RecoveryError('WRONG_PASSPHRASE', 'The passphrase does not open this backup.', {
        hint: 'Check the passphrase (it is case-sensitive) and try again. Nothing was changed.',
      });
    } finally {
      if (k !== this.jobKey) releaseAgeKey(k);
    }
    const mac = Buffer.from(text.slice(dashes + 4, text.length - 1), 'base64');
    const want = headerMac(fileKey, text.slice(0, dashes + 3));
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) throw corrupt('the encryption header was altered');
    return payloadKey(fileKey, nonce);
  }

  private open(last: boolean): Buffer {
    const d = createDecipheriv('chacha20-poly1305', this.key!, nonceFor(this.counter++, last), { authTagLength: TAG });
    d.setAuthTag(this.buf.subarray(this.used - TAG, this.used));
    const body = d.update(this.buf.subarray(0, this.used - TAG));
    try {
      d.final();
    } catch {
      throw corrupt(last ? 'the encrypted data ends early or was altered' : 'the encrypted data was altered');
    }
    return body;
  }
}

function corrupt(what: string): RecoveryError {
  return new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${what}.`, {
    hint: 'Use another copy of the backup.',
  });
}

export function looksEncrypted(first: Buffer): boolean {
  return first.length >= AGE_MAGIC.length && first.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC);
}
