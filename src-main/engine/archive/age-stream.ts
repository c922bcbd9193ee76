import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Decrypter, Encrypter } from 'age-encryption';
import { RecoveryError } from '../errors.js';

/**
 * age v1 with a passphrase (scrypt recipient). The header (scrypt stanza, MAC) comes from the
 * `age-encryption` package; the payload STREAM (ChaCha20-Poly1305 in 64 KiB chunks) is done here with
 * Node's native cipher, because the package's pure-JS cipher runs at ~35 MB/s, slower than gzip, while
 * native runs at ~770 MB/s (MACHINE-FACTS.md). Debian's `age -d` reads the result (tested).
 */
export const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
const CHUNK = 64 * 1024;
const TAG = 16;
const MAX_HEADER = 64 * 1024;

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
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

export class AgeEncryptor {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private counter = 0;

  private constructor(
    private readonly key: Buffer,
    readonly prefix: Buffer,
  ) {}

  /**
   * Runs scrypt twice (~2 × 1.7 s): once to make the header, once to read the file key back from it,
   * since the package keeps the key private. Costs a few seconds per backup, not per byte.
   */
  static async create(passphrase: string): Promise<AgeEncryptor> {
    const enc = new Encrypter();
    enc.setPassphrase(passphrase);
    const probe = Buffer.from(await enc.encrypt(new Uint8Array(0)));
    const end = headerEnd(probe);
    if (end === -1) throw new Error('age-encryption produced no header');
    const header = probe.subarray(0, end);
    const dec = new Decrypter();
    dec.addPassphrase(passphrase);
    const fileKey = await dec.decryptHeader(header);
    const nonce = randomBytes(16);
    return new AgeEncryptor(payloadKey(fileKey, nonce), Buffer.concat([header, nonce]));
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

  constructor(private readonly passphrase: string) {}

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
    const dec = new Decrypter();
    dec.addPassphrase(this.passphrase);
    let fileKey: Uint8Array;
    try {
      fileKey = await dec.decryptHeader(header);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/no identity matched|invalid header HMAC/.test(msg)) {
        throw new RecoveryError('WRONG_PASSPHRASE', 'The passphrase does not open this backup.', {
          hint: 'Check the passphrase (it is case-sensitive) and try again. Nothing was changed.',
        });
      }
      throw corrupt(`the encryption header is not valid (${msg})`);
    }
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
