import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/util/atomic-fs.js';

/**
 * The practice appliance's machine key: like the real product's key store, it lives outside the
 * backed-up folders, so secrets restored onto another machine cannot be decrypted there.
 */
export async function loadOrCreateMachineKey(keyFile: string): Promise<Buffer> {
  try {
    const key = Buffer.from((await fsp.readFile(keyFile, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new Error(`the machine key file ${keyFile} does not hold a 32-byte key`);
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fsp.mkdir(path.dirname(keyFile), { recursive: true });
  const key = randomBytes(32);
  await writeFileAtomic(keyFile, `${key.toString('base64')}\n`, 0o600);
  return key;
}

const PREFIX = 'aes256gcm:';

/** "aes256gcm:<base64 iv(12) | tag(16) | ciphertext>" */
export function encryptSecret(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

/** The plain secret, or undefined when this key cannot open it (another machine's key, or damaged). */
export function decryptSecret(key: Buffer, stored: string): string | undefined {
  if (!stored.startsWith(PREFIX)) return undefined;
  const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
  if (raw.length < 28) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
