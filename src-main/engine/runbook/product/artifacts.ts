import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RecoveryError } from '../../errors.js';
import { ProgressMeter, type Progress } from '../../progress.js';
import { CREATE_EXCL_FLAGS, tempName, type SafeDir } from '../../util/atomic-fs.js';
import { fileKind, openRegularFile, openRegularOrRefuse } from '../../util/given-path.js';
import { readOpensslEncTarFrom } from './openssl-enc.js';

/** One file of the product's own in a backup set: listed in manifest.json and SHA256SUMS. */
export const ArtifactRecordSchema = z.object({
  /** The artifact step that took it. */
  step: z.string(),
  /** Inside the set folder, "/"-separated: artifacts/<step>/<name>. */
  path: z
    .string()
    .regex(/^artifacts\/[a-z0-9][a-z0-9-]*\/[^\0]+$/)
    .refine((p) => !p.split('/').includes('..') && !p.split('/').includes('.'), 'must stay inside artifacts/'),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Where it came from on the appliance. */
  source: z.string(),
  mtime: z.string(),
  format: z.enum(['file', 'openssl-enc-tar-gz']),
});
export type ArtifactRecord = z.infer<typeof ArtifactRecordSchema>;

const COPY_CHUNK = 1024 * 1024;

/**
 * Copies one regular file (never through a link) to a new file created O_EXCL|O_NOFOLLOW, hashing as it goes, in
 * the folder `to.dir` held open: nothing is looked up by the folder's path, so an account that may write the folder
 * above it (a stick's device folder, /tmp) can rename it away and put a link by its name without redirecting the
 * copy. The copy is written under a random temp name (nobody can plant a link for a name they cannot guess),
 * fsynced, and renamed to `to.name` inside that same folder.
 */
export async function copyHashed(
  from: string,
  to: { dir: SafeDir; name: string },
  opts: { mode?: number; expectSha256?: string; onBytes?: (n: number) => void; signal?: AbortSignal } = {},
): Promise<{ size: number; sha256: string; mtime: Date }> {
  // Only the regular file the name holds (a FIFO put there by the product's account is not waited on, with the
  // service stopped; a device is not opened).
  const src = await openRegularOrRefuse(from, (why) =>
    'special' in why
      ? new RecoveryError('STEP_FAILED', `${from} is not a regular file.`)
      : new RecoveryError(
          'STEP_FAILED',
          'link' in why ? `${from} is a link: it is not followed.` : `Cannot read ${from}: ${why.error.message}`,
          { hint: 'Check the path the profile names; the product may not have written the file.' },
        ),
  );
  const partial = to.dir.at(tempName(to.name));
  try {
    const st = await src.stat();
    const dst = await fsp.open(partial, CREATE_EXCL_FLAGS, opts.mode ?? 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        if (opts.signal?.aborted) throw new RecoveryError('CANCELLED');
        const { bytesRead } = await src.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        await dst.write(chunk);
        size += bytesRead;
        opts.onBytes?.(bytesRead);
      }
      await dst.sync();
    } finally {
      await dst.close();
    }
    const sha256 = hash.digest('hex');
    if (opts.expectSha256 !== undefined && sha256 !== opts.expectSha256) {
      throw new RecoveryError('BACKUP_CORRUPT', `${from} does not match its recorded checksum.`, {
        hint: 'The copy on the stick is damaged. Use another backup.',
      });
    }
    await fsp.rename(partial, to.dir.at(to.name));
    await to.dir.sync();
    return { size, sha256, mtime: st.mtime };
  } catch (e) {
    await fsp.rm(partial, { force: true }).catch(() => undefined);
    throw e;
  } finally {
    await src.close();
  }
}

function globPart(seg: string): RegExp {
  const re = seg
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

/** Files under dir matching a "/"-separated glob (`*` and `?` within one level); links are never followed. */
export async function globFiles(
  dir: string,
  glob: string,
): Promise<Array<{ file: string; rel: string; mtimeMs: number }>> {
  const segs = glob.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.some((s) => s === '..')) throw new RecoveryError('BAD_PROFILE', `The glob ${glob} may not contain "..".`);
  const out: Array<{ file: string; rel: string; mtimeMs: number }> = [];
  async function walk(at: string, rel: string, i: number): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(at);
    } catch {
      return;
    }
    const re = globPart(segs[i]!);
    for (const n of names.sort()) {
      if (!re.test(n)) continue;
      const p = path.join(at, n);
      const st = await fsp.lstat(p).catch(() => null);
      if (st === null || st.isSymbolicLink()) continue;
      const r = rel === '' ? n : `${rel}/${n}`;
      if (i === segs.length - 1) {
        if (st.isFile()) out.push({ file: p, rel: r, mtimeMs: st.mtimeMs });
      } else if (st.isDirectory()) await walk(p, r, i + 1);
    }
  }
  if (segs.length > 0) await walk(dir, '', 0);
  return out;
}

/**
 * Reads every artifact of a set back: size and sha256 against the record; for the product's encrypted
 * backups, with a passphrase, decrypts and reads the tar through to its end.
 */
export async function verifyArtifacts(
  setDir: string,
  records: ArtifactRecord[],
  opts: { passphrase?: string; onProgress?: (p: Progress) => void; signal?: AbortSignal } = {},
): Promise<{ files: number; bytes: number; decrypted: number }> {
  const total = records.reduce((a, r) => a + r.size, 0);
  const meter = new ProgressMeter(
    'verifying',
    { bytes: total, files: records.length },
    opts.onProgress ?? (() => undefined),
  );
  let done = 0;
  let decrypted = 0;
  for (const r of records) {
    const file = path.join(setDir, ...r.path.split('/'));
    const h = createHash('sha256');
    let size = 0;
    // A set on a stick may hold anything by that name: only a regular file is opened (openRegularFile), never a
    // link, a FIFO (its open would wait for a writer for ever) or a device (an open alone can act).
    const opened = await openRegularFile(file, { noFollow: true }).catch(() => {
      throw new RecoveryError('BACKUP_INCOMPLETE', `${r.path} is missing from the backup.`, {
        hint: 'Use another backup.',
      });
    });
    if (opened.fh === null) {
      throw new RecoveryError('BACKUP_CORRUPT', `${r.path} is not a regular file: it is ${fileKind(opened.st)}.`, {
        hint: 'This stick was changed by something other than this tool. Use another copy of the backup.',
      });
    }
    const fh = opened.fh;
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        if (opts.signal?.aborted) throw new RecoveryError('CANCELLED');
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
        size += bytesRead;
        done += bytesRead;
        meter.add(bytesRead, 0, r.path);
      }
      if (size !== r.size || h.digest('hex') !== r.sha256) {
        throw new RecoveryError('BACKUP_CORRUPT', `${r.path} does not match its recorded checksum.`, {
          hint: 'The backup was damaged or changed after it was written. Use another backup.',
        });
      }
      if (r.format === 'openssl-enc-tar-gz' && opts.passphrase !== undefined) {
        // The very file just hashed, through the same descriptor: a stick another account may write can have
        // something else under the name by now.
        await readOpensslEncTarFrom(fh, file, opts.passphrase, opts.signal ? { signal: opts.signal } : {});
        decrypted++;
      }
    } finally {
      await fh.close();
    }
    meter.add(0, 1);
  }
  meter.flush();
  return { files: records.length, bytes: done, decrypted };
}
