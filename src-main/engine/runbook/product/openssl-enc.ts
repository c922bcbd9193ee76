import { createDecipheriv, createHash, pbkdf2Sync, type Decipher } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { TarReader } from '../../archive/tar-reader.js';
import { RecoveryError } from '../../errors.js';
import { openRegularOrRefuse } from '../../util/given-path.js';

/**
 * The product's file is decrypted from the work folder, which the product's account may own: a link it swapped in
 * (to /etc/shadow) is not followed, a FIFO not waited on, a device not opened.
 */
function openEncrypted(file: string): Promise<fsp.FileHandle> {
  return openRegularOrRefuse(file, (why) =>
    'error' in why
      ? why.error
      : new RecoveryError(
          'UNSAFE_PATH',
          `${file} ${'link' in why ? 'is a link: it is not followed' : 'is not a regular file'}; nothing was decrypted.`,
        ),
  );
}

/**
 * Reads files made by `openssl enc -aes-256-cbc -salt [-pbkdf2] -pass pass:…` (OpenCRVS's nightly backups):
 * "Salted__", an 8-byte salt, then AES-256-CBC. The key and IV come from the passphrase and salt either by
 * PBKDF2-HMAC-SHA256 with 10,000 iterations (`-pbkdf2`, OpenSSL's default count) or, for the legacy form, by
 * EVP_BytesToKey (one round; MD5 before OpenSSL 1.1.0, SHA-256 since). The right one is the one whose first
 * block decrypts to a gzip header, so a wrong passphrase is told apart from a damaged file as far as can be.
 */
export type OpensslKdf = 'pbkdf2-sha256' | 'bytestokey-md5' | 'bytestokey-sha256';

const MAGIC = Buffer.from('Salted__', 'latin1');

function bytesToKey(pass: Buffer, salt: Buffer, digest: 'md5' | 'sha256'): { key: Buffer; iv: Buffer } {
  const out: Buffer[] = [];
  let prev = Buffer.alloc(0);
  let len = 0;
  while (len < 48) {
    prev = createHash(digest)
      .update(Buffer.concat([prev, pass, salt]))
      .digest();
    out.push(prev);
    len += prev.length;
  }
  const all = Buffer.concat(out);
  return { key: all.subarray(0, 32), iv: all.subarray(32, 48) };
}

export function deriveKey(kdf: OpensslKdf, passphrase: string, salt: Buffer): { key: Buffer; iv: Buffer } {
  const pass = Buffer.from(passphrase, 'utf8');
  if (kdf === 'pbkdf2-sha256') {
    const d = pbkdf2Sync(pass, salt, 10_000, 48, 'sha256');
    return { key: d.subarray(0, 32), iv: d.subarray(32, 48) };
  }
  return bytesToKey(pass, salt, kdf === 'bytestokey-md5' ? 'md5' : 'sha256');
}

/**
 * Which key derivation opens this file with this passphrase (by the gzip header), or null: wrong passphrase. The
 * header is read from `fh`, the descriptor the caller goes on reading the data from.
 */
export async function detectKdf(
  fh: fsp.FileHandle,
  file: string,
  passphrase: string,
): Promise<{ kdf: OpensslKdf; salt: Buffer } | null> {
  const head = Buffer.alloc(16 + 32);
  const { bytesRead: n } = await fh.read(head, 0, head.length, 0);
  if (n < 32 || !head.subarray(0, 8).equals(MAGIC)) {
    throw new RecoveryError('BACKUP_CORRUPT', `${file} is not an "openssl enc -salt" file (no "Salted__" header).`, {
      hint: 'Pick the .tar.gz.enc files the product wrote.',
    });
  }
  const salt = head.subarray(8, 16);
  for (const kdf of ['pbkdf2-sha256', 'bytestokey-sha256', 'bytestokey-md5'] as const) {
    const { key, iv } = deriveKey(kdf, passphrase, salt);
    const d = createDecipheriv('aes-256-cbc', key, iv);
    d.setAutoPadding(false);
    const first = d.update(head.subarray(16, 32));
    if (first[0] === 0x1f && first[1] === 0x8b && first[2] === 0x08) return { kdf, salt: Buffer.from(salt) };
  }
  return null;
}

export interface EncReadResult {
  kdf: OpensslKdf;
  entries: number;
  bytes: number;
}

/**
 * Decrypts the whole file, gunzips it and reads the tar through to its end blocks (nothing is written).
 * WRONG_PASSPHRASE when no derivation gives a gzip header; BACKUP_CORRUPT when the data breaks later.
 */
export async function readOpensslEncTar(
  file: string,
  passphrase: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<EncReadResult> {
  // Opened once: the data decrypted is read from the descriptor whose header was judged, never by the name again.
  const fh = await openEncrypted(file);
  try {
    return await readEncTar(fh, file, passphrase, opts);
  } finally {
    await fh.close();
  }
}

/**
 * readOpensslEncTar on a file the caller already opened and judged (e.g. hashed against its record): what is
 * decrypted is exactly that file, never whatever its name holds by now.
 */
export async function readOpensslEncTarFrom(
  fh: fsp.FileHandle,
  file: string,
  passphrase: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<EncReadResult> {
  return readEncTar(fh, file, passphrase, opts);
}

async function readEncTar(
  fh: fsp.FileHandle,
  file: string,
  passphrase: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void },
): Promise<EncReadResult> {
  const found = await detectKdf(fh, file, passphrase);
  if (found === null) {
    throw new RecoveryError('WRONG_PASSPHRASE', `The passphrase does not open ${file}.`, {
      hint: "Use the product's backup passphrase (OpenCRVS: the one its backup job encrypts with).",
    });
  }
  const { key, iv } = deriveKey(found.kdf, passphrase, found.salt);
  const decipher: Decipher = createDecipheriv('aes-256-cbc', key, iv);
  const gunzip = createGunzip();
  let entries = 0;
  let bytes = 0;
  const tar = new TarReader({
    entry: () => {
      entries++;
    },
    data: (c) => {
      bytes += c.length;
    },
    end: () => undefined,
  });
  const input = fh.createReadStream({ start: 16, autoClose: false, ...(opts.signal ? { signal: opts.signal } : {}) });
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: unknown): void => {
        input.destroy();
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      input.on('error', fail);
      decipher.on('error', fail);
      gunzip.on('error', fail);
      input.on('data', (c) => opts.onBytes?.((c as Buffer).length));
      gunzip.on('data', (c: Buffer) => {
        try {
          tar.push(c);
        } catch (e) {
          fail(e);
        }
      });
      gunzip.on('end', resolve);
      input.pipe(decipher).pipe(gunzip);
    });
    tar.finish();
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') throw new RecoveryError('CANCELLED');
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `${file} opens with the passphrase but is damaged: ${(e as Error).message}`,
      {
        hint: 'Use another (older) backup of the product.',
      },
    );
  }
  return { kdf: found.kdf, entries, bytes };
}

/** Decrypts an `openssl enc` file (either form) to a new file (O_EXCL, 0600); the plaintext is not checked. */
export async function decryptOpensslEnc(file: string, passphrase: string, out: string): Promise<OpensslKdf> {
  // Opened once, like readOpensslEncTar: what is decrypted is the file whose header was judged.
  const input = await openEncrypted(file);
  try {
    return await decryptEnc(input, file, passphrase, out);
  } finally {
    await input.close();
  }
}

async function decryptEnc(input: fsp.FileHandle, file: string, passphrase: string, out: string): Promise<OpensslKdf> {
  const found = await detectKdf(input, file, passphrase);
  if (found === null) {
    throw new RecoveryError('WRONG_PASSPHRASE', `The passphrase does not open ${file}.`, {
      hint: "Use the product's backup passphrase.",
    });
  }
  const { key, iv } = deriveKey(found.kdf, passphrase, found.salt);
  await fsp.rm(out, { force: true });
  const { createWriteStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  try {
    await pipeline(
      input.createReadStream({ start: 16, autoClose: false }),
      createDecipheriv('aes-256-cbc', key, iv),
      createWriteStream(out, { flags: 'wx', mode: 0o600 }),
    );
  } catch (e) {
    await fsp.rm(out, { force: true });
    throw new RecoveryError('BACKUP_CORRUPT', `${file} could not be decrypted: ${(e as Error).message}`);
  }
  return found.kdf;
}
