import path from 'node:path';
import { AgeDecryptor } from '../archive/age-stream.js';
import { RecoveryError } from '../errors.js';
import { openRegularFile } from '../util/given-path.js';
import type { BackupManifest } from './manifest.js';

/**
 * Opens only the encryption header of a backup's first part with `passphrase`: a wrong passphrase fails here in
 * about a second (one scrypt), before any job starts, so the CLI can ask again instead of failing the restore.
 * Throws WRONG_PASSPHRASE (or BACKUP_CORRUPT for a broken header); resolves for a plain backup.
 */
export async function checkPassphrase(dir: string, manifest: BackupManifest, passphrase: string): Promise<void> {
  if (manifest.archive.encryption === null) return;
  const first = manifest.archive.parts[0];
  if (!first) return;
  // Not followed, not waited on, not opened unless a regular file: a link, a FIFO or a device node planted as the
  // first part (read-pipeline.ts refuses them too).
  const { fh } = await openRegularFile(path.join(dir, first.name), { noFollow: true });
  if (fh === null) {
    throw new RecoveryError('BACKUP_CORRUPT', `The backup is damaged: ${first.name} is not a regular file.`, {
      hint: 'Use another copy of the backup.',
      details: { part: first.name },
    });
  }
  try {
    const dec = new AgeDecryptor(passphrase);
    const buf = Buffer.alloc(64 * 1024);
    let pos = 0;
    // The header is a few hundred bytes; the first chunk's key check happens once the header is complete.
    for (let i = 0; i < 4; i++) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      await dec.push(buf.subarray(0, bytesRead), []);
      if (pos > 1024) break;
    }
  } finally {
    await fh.close();
  }
}
