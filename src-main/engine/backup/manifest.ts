import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MEMBER_MAX } from '../archive/member-inflate.js';
import { isRecoveryError, RecoveryError } from '../errors.js';
import { readStickText } from '../util/stick-file.js';
import { ArtifactRecordSchema } from '../runbook/product/artifacts.js';
import { cleanStrings } from '../util/clean-text.js';
import { refuseSpecialPath } from '../util/given-path.js';

/** What the technician can give instead of a path that is not a backup folder. */
export const SET_HINT =
  'Give a backup folder on the stick (EdgeRecovery/<device>/Backup_<profile>_<time>), the stick itself (its mount point), or a hand-made .tar, .tar.gz/.tgz or .zip file.';

/**
 * manifest.json of a backup set: plain JSON, no secrets, written last (its presence means the set is
 * complete). Format changes bump FORMAT_VERSION; readers refuse versions they do not know.
 */
export const MANIFEST_NAME = 'manifest.json';
export const SUMS_NAME = 'SHA256SUMS';
export const RESTORE_TXT_NAME = 'RESTORE.txt';
export const FORMAT = 'edge-recovery-backup';
export const FORMAT_VERSION = 1;
export const INNER_MANIFEST_PATH = '.edge-recovery/files.jsonl';

const Part = z.object({
  name: z.string().regex(/^data\.tar\.gz(\.age)?(\.\d{3})?$/, 'must be a data.tar.gz part name'),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const HandMadeSourceSchema = z.object({
  kind: z.literal('hand-made'),
  /** The archive's file name (and where it was, when adopted). */
  file: z.string(),
  format: z.enum(['tar', 'tar.gz', 'zip']),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The folders above the items inside the archive ('' at the top). */
  base: z.string(),
  mapping: z.array(z.object({ id: z.string(), from: z.string() })),
  ignored: z.number().int().nonnegative(),
});

export type HandMadeSource = z.infer<typeof HandMadeSourceSchema>;
/** Who made a backup: a technician (manual) or a schedule (automatic). Retention counts them apart. */
export const BACKUP_CLASSES = ['manual', 'automatic'] as const;
export type BackupClass = (typeof BACKUP_CLASSES)[number];

export const BackupManifestSchema = z.object({
  format: z.literal(FORMAT),
  formatVersion: z.literal(FORMAT_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  profile: z.object({ id: z.string(), productName: z.string(), platform: z.enum(['linux', 'windows']) }),
  productVersion: z.string().nullable(),
  deviceId: z.string().min(1),
  hostname: z.string(),
  createdAt: z.string(),
  /** Absent in older manifests: those were made by hand. */
  class: z.enum(BACKUP_CLASSES).optional(),
  items: z.array(
    z.object({
      id: z.string(),
      path: z.string(),
      files: z.number().int().nonnegative(),
      contentBytes: z.number().int().nonnegative(),
      /** On the backed-up machine `path` was a symlink to this folder (a data disk): the data came from here. */
      linkedTo: z.string().optional(),
    }),
  ),
  owner: z.object({ user: z.string(), group: z.string() }).nullable(),
  /** Owner names found in the archive headers. */
  ownersSeen: z.array(z.object({ uname: z.string(), gname: z.string() })),
  files: z.number().int().nonnegative(),
  dirs: z.number().int().nonnegative(),
  symlinks: z.number().int().nonnegative(),
  contentBytes: z.number().int().nonnegative(),
  archive: z
    .object({
      compression: z.literal('gzip'),
      encryption: z.enum(['age-scrypt']).nullable(),
      innerManifest: z.string(),
      parts: z.array(Part).min(1),
      /**
       * The compressed size of each gzip member of the archive, in order (before encryption): readers inflate
       * several at once. Absent in backups made before it and in hand-made ones (then one stream is inflated).
       */
      gzipMembers: z.array(z.number().int().min(20).max(MEMBER_MAX)).optional(),
    })
    // The parts are read in the listed order and joined by hand with `cat data.tar.gz.*`: they must be the
    // writer's own sequence. A list naming one file again and again (each copy matches its checksum) made every
    // reader read it that many times: a 100 KB file listed 500,000 times kept verify busy for hours.
    .superRefine((a, ctx) => {
      const base = a.encryption === null ? 'data.tar.gz' : 'data.tar.gz.age';
      const split = a.parts.length > 1 || a.parts[0]?.name !== base;
      // One issue is enough (a list of 500,000 wrong names would fill the error too).
      const i = a.parts.findIndex((p, k) => p.name !== (split ? `${base}.${String(k + 1).padStart(3, '0')}` : base));
      if (i >= 0) {
        const want = split ? `${base}.${String(i + 1).padStart(3, '0')}` : base;
        ctx.addIssue({
          code: 'custom',
          path: ['parts', i, 'name'],
          message: `must be ${want} (parts in order, each once)`,
        });
      }
    }),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  /** The product's API port on the old box, from its appsettings.json (outside the backed-up folders). */
  apiPort: z.number().int().min(1).max(65535).optional(),
  /** Set when the data came from an archive made by hand (`adopt`): where from and how it was mapped. */
  source: HandMadeSourceSchema.optional(),
  /** Files of the product's own (its exports and backups), beside the archive, with their checksums. */
  artifacts: z.array(ArtifactRecordSchema).default([]),
  /** The profile's facts as the product answered them at backup (a restore must find the same). */
  facts: z.record(z.string(), z.string().nullable()).optional(),
  /** Encrypted backups: HMAC-SHA256 of the rest, keyed from the passphrase (manifest-integrity.ts). Last field. */
  integrity: z.object({ scheme: z.string(), mac: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
});

export type BackupManifest = z.infer<typeof BackupManifestSchema>;

export interface BackupSet {
  dir: string;
  manifest: BackupManifest;
  /** manifest.json as written (its checksum and MAC cover these bytes / this object, not the parsed copy). */
  text: string;
  raw: Record<string, unknown>;
}

/** Reads and checks a backup set's manifest. Does not read the archive (see verifyBackup). */
export async function readBackupSet(dir: string): Promise<BackupSet> {
  await refuseSpecialPath(dir, 'a backup folder', SET_HINT, { folderOnly: true });
  let text: string;
  try {
    text = await readStickText(path.join(dir, MANIFEST_NAME));
  } catch (e) {
    if (isRecoveryError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const names = await fsp.readdir(dir).catch(() => [] as string[]);
      const partial = names.some((n) => n.endsWith('.partial'));
      const dirExists = await fsp.stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!dirExists) {
        throw new RecoveryError('BACKUP_NOT_FOUND', `There is no backup at ${dir}.`, {
          hint: 'Check the stick is plugged in and pick the backup folder (Backup_<profile>_<time>).',
        });
      }
      // Only a folder holding what a backup writes is an interrupted one; any other folder is simply not a backup.
      const ours = partial || names.some((n) => n.startsWith('data.tar') || n === SUMS_NAME || n === 'RESTORE.txt');
      if (!ours) {
        throw new RecoveryError(
          'BACKUP_NOT_FOUND',
          `${dir} is not a backup: it holds no manifest.json and none of the files a backup writes.`,
          {
            hint: 'Pick the backup folder itself (Backup_<profile>_<time>, on the stick under EdgeRecovery/<device>), or the stick itself to see the backups on it.',
          },
        );
      }
      // Retention removes it only when it is named as this tool names its sets (backup/retention.ts).
      const named = /^Backup_.+_\d{8}_\d{4}Z(?:_\d{1,4})?$/.test(path.basename(path.resolve(dir)));
      throw new RecoveryError(
        'BACKUP_INCOMPLETE',
        `The backup at ${dir} has no manifest.json${partial ? ' and still holds .partial files' : ''}: it was interrupted before it was verified (manifest.json is written last, after everything was read back), so it is not a backup.`,
        {
          hint: named
            ? 'Use another (older) backup. The next backup of this device removes this folder once it has verified.'
            : 'Use another (older) backup.',
        },
      );
    }
    throw new RecoveryError('BACKUP_NOT_FOUND', `Cannot read ${dir}: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RecoveryError('BACKUP_CORRUPT', `The manifest.json of ${dir} is not valid JSON.`);
  }
  const r = BackupManifestSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `The manifest.json of ${dir} is not a backup manifest this tool reads: ${lines.slice(0, 3).join('; ')}`,
      {
        details: { issues: lines },
      },
    );
  }
  // Host names, ids and paths from a stick are shown on terminals and in reports: no control characters.
  return { dir, manifest: cleanStrings(r.data), text, raw: raw as Record<string, unknown> };
}
