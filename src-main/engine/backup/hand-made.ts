import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { adoptArchive, parentsOf, type AdoptArchiveResult, type ArchiveIo, type MapItem } from '../archive/index.js';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { splitPartTooLarge, splitSizeFor } from '../media/split-size.js';
import { countOf, formatBytes } from '../progress.js';
import type { Profile } from '../profiles/schema.js';
import { executeRunbook, type RunbookIO } from '../runbook/runner.js';
import { namedByPath, SafeDir, writeInDir } from '../util/atomic-fs.js';
import { openMediumFolder } from '../media/medium-folder.js';
import { refuseSpecialPath, STICK_HINT } from '../util/given-path.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';
import {
  FORMAT,
  FORMAT_VERSION,
  INNER_MANIFEST_PATH,
  MANIFEST_NAME,
  RESTORE_TXT_NAME,
  SUMS_NAME,
  type BackupManifest,
  type HandMadeSource,
} from './manifest.js';
import { restoreText, sha256SumsText } from './restore-txt.js';
import { backupStamp, makeSetFolder, refuseMovedSet, safeDeviceId } from './run-backup.js';
import { VERIFY_CANCEL, verifyBackup } from './verify-backup.js';
import { removeHeldTree } from '../util/safe-delete.js';

/**
 * Backups made by hand, as AVEVA's disaster-recovery guide tells technicians ("create a zip or tar file
 * containing the storage and configuration directories"): read through, judged and mapped to the profile's
 * folders by name, then either restored (through our own staged, journaled restore) or adopted into a
 * proper backup set with our manifest, per-file hashes and RESTORE.txt.
 */
export const HAND_MADE_NAME = /\.(tar|tar\.gz|tgz|zip)$/i;

export const UNVERIFIED_NOTE = 'Made by hand: it can be read through, but there are no recorded checksums to compare.';

/** A regular file named like a tar, tar.gz/tgz or zip archive (not one of our own set folders). */
export async function isHandMadeArchive(p: string): Promise<boolean> {
  if (!HAND_MADE_NAME.test(p)) return false;
  const st = await fsp.stat(p).catch(() => null);
  return st !== null && st.isFile();
}

/** The folders a hand-made archive is searched for: those backed up by default, not `*` ones (certificates). */
export function mapItemsFor(profile: Profile): MapItem[] {
  return profile.items
    .filter((i) => i.selected && !i.path.split(/[\\/]/).includes('*'))
    .map((i) => ({ id: i.id, parents: parentsOf(i.path) }));
}

/** "Configuration ← usr/share/OSIsoft/EdgeDataStore/Configuration (12 files, 3 KiB)" for each folder found. */
export function describeMapping(r: AdoptArchiveResult, profile: Profile): string {
  const found = r.items.map((i) => `${i.id} ← ${i.from}/ (${i.files} files, ${formatBytes(i.contentBytes)})`);
  const missing = profile.items.filter((p) => !r.items.some((i) => i.id === p.id)).map((p) => p.id);
  const where = r.base === '' ? 'at the top of the archive' : `under ${r.base}/`;
  return (
    `Folders found by name ${where}: ${found.join('; ')}.` +
    (missing.length ? ` Not in the archive: ${missing.join(', ')}.` : '') +
    (r.impliedDirs
      ? ` ${countOf(r.impliedDirs, 'folder')} the archive does not list ${r.impliedDirs === 1 ? 'was' : 'were'} created for the files in them.`
      : '') +
    (r.ignored.count
      ? ` ${r.ignored.count} entr${r.ignored.count === 1 ? 'y' : 'ies'} outside the profile's folders left out (e.g. ${r.ignored.examples.join(', ')}).`
      : '')
  );
}

export function sourceOf(file: string, r: AdoptArchiveResult): HandMadeSource {
  return {
    kind: 'hand-made',
    file: path.resolve(file),
    format: r.format,
    bytes: r.sourceBytes,
    sha256: r.sourceSha256,
    base: r.base,
    mapping: r.items.map((i) => ({ id: i.id, from: i.from })),
    ignored: r.ignored.count,
  };
}

/** Reads the archive through completely and judges it; writes nothing. */
export function readHandMade(file: string, profile: Profile, io: ArchiveIo = {}): Promise<AdoptArchiveResult> {
  return adoptArchive({ source: path.resolve(file), items: mapItemsFor(profile) }, io);
}

function adoptedNote(src: HandMadeSource): string {
  return [
    '',
    'WHERE THIS BACKUP CAME FROM',
    '-'.repeat(60),
    `Adopted by ${TOOL_NAME} from the hand-made archive ${src.file}`,
    `(${src.format}, ${src.bytes} bytes, sha256 ${src.sha256}).`,
    `Folders mapped by name: ${src.mapping.map((m) => `${m.id} <- ${m.from}`).join(', ')}.`,
    'The per-file checksums in this set were recorded when it was adopted; the hand-made archive itself',
    'carried none, so what it held before that cannot be proven. The owners and modes come from the',
    "profile's policy when it is restored.",
    '',
  ].join('\n');
}

/**
 * Writes the archive as a backup set into `setDir` (created here, must not exist): data.tar.gz (or its parts
 * data.tar.gz.001, … of `splitSize` bytes), SHA256SUMS, RESTORE.txt and, last, manifest.json. The set folder is made
 * in `parent` (the folder of `setDir` held open by the caller; else opened here) and held open: every file goes in
 * through its descriptor, not its path, which whoever may write the stick can lead elsewhere (a folder above swapped
 * for a link); before manifest.json the path must still name the held folder (else UNSAFE_PATH). On failure the
 * held folder is emptied and its name removed while it names it. Returns the set folder held open (the caller
 * closes it).
 */
export async function adoptIntoSet(
  file: string,
  profile: Profile,
  setDir: string,
  io: ArchiveIo,
  device: { id: string; hostname: string },
  splitSize?: number,
  keepFreeBytes?: number,
  parent?: SafeDir,
): Promise<{ manifest: BackupManifest; result: AdoptArchiveResult; set: SafeDir }> {
  if (splitSize !== undefined && (!Number.isInteger(splitSize) || splitSize < 1024 * 1024)) {
    throw new RecoveryError('BAD_INPUT', 'The split size must be a whole number of at least 1 MiB.');
  }
  const source = path.resolve(file);
  const st = await fsp.stat(source).catch(() => null);
  if (st === null || !st.isFile()) {
    throw new RecoveryError('BACKUP_NOT_FOUND', `There is no archive at ${source}.`);
  }
  const above = parent ?? (await SafeDir.open(path.dirname(setDir)));
  try {
    const name = path.basename(setDir);
    const set = await makeSetFolder(above, name, setDir, 0o700);
    try {
      await above.sync();
      return { ...(await writeSet(source, st.mtime, profile, setDir, set, io, device, splitSize, keepFreeBytes)), set };
    } catch (e) {
      try {
        removeHeldTree(above.at(name), set.fh.fd);
      } catch {
        // the error that matters is e
      }
      await set.close();
      throw e;
    }
  } finally {
    if (parent === undefined) await above.close();
  }
}

async function writeSet(
  source: string,
  made: Date,
  profile: Profile,
  setDir: string,
  set: SafeDir,
  io: ArchiveIo,
  device: { id: string; hostname: string },
  splitSize: number | undefined,
  keepFreeBytes: number | undefined,
): Promise<{ manifest: BackupManifest; result: AdoptArchiveResult }> {
  const r = await adoptArchive(
    {
      source,
      items: mapItemsFor(profile),
      outDir: setDir,
      // The parts go into the set folder held open here, not wherever its path leads by the first write.
      ...(process.platform === 'linux' ? { outDirAt: `${set.self}/.` } : {}),
      ...(splitSize !== undefined ? { splitSize } : {}),
      ...(keepFreeBytes !== undefined ? { keepFreeBytes } : {}),
    },
    io,
  );
  const own = profile.ownership;
  const manifest: BackupManifest = {
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    profile: { id: profile.id, productName: profile.productName, platform: profile.platform },
    productVersion: null,
    deviceId: device.id,
    hostname: device.hostname,
    // When the archive was made, as far as its file tells.
    createdAt: made.toISOString(),
    items: r.items.map((i) => ({
      id: i.id,
      path: profile.items.find((p) => p.id === i.id)!.path,
      files: i.files,
      contentBytes: i.contentBytes,
    })),
    owner: own ? { user: own.user, group: own.group } : null,
    ownersSeen: r.owners,
    files: r.files,
    dirs: r.dirs,
    symlinks: r.symlinks,
    contentBytes: r.contentBytes,
    archive: { compression: 'gzip', encryption: null, innerManifest: INNER_MANIFEST_PATH, parts: r.parts },
    skipped: r.ignored.examples.map((p) => ({ path: p, reason: "outside the profile's folders" })),
    artifacts: [],
    source: sourceOf(source, r),
  };
  // SHA256SUMS lists manifest.json too: verify checks it (manifest-integrity.ts).
  const manifestText = JSON.stringify(manifest, null, 2) + '\n';
  await writeInDir(set, SUMS_NAME, sha256SumsText(r.parts, manifestText), 0o600);
  await writeInDir(set, RESTORE_TXT_NAME, restoreText(manifest, profile) + adoptedNote(manifest.source!), 0o600);
  // What is read back and reported is found by the set's path: only while it names the held folder is it complete.
  await refuseMovedSet(set, setDir, r.parts);
  await writeInDir(set, MANIFEST_NAME, manifestText, 0o600);
  return { manifest, result: r };
}

export interface AdoptOptions {
  source: string;
  profile: Profile;
  /** The stick's mount point (or any folder): the set goes under <to>/EdgeRecovery/<device>/. */
  to: string;
  /** The device the archive came from, if known; else "hand-made". */
  deviceId?: string;
  /** Parts of at most this many bytes (`--split-size`); capped, or chosen, by the stick's filesystem as for a backup. */
  splitSize?: number;
}

export interface AdoptResult {
  setDir: string;
  manifest: BackupManifest;
  mapping: string;
}

/** `edge-recovery adopt`: read → write a proper set → verify it file by file. */
export async function runAdopt(o: AdoptOptions, io: RunbookIO): Promise<AdoptResult> {
  const c: { setDir: string | null; manifest: BackupManifest | null; mapping: string; splitSize: number | undefined } =
    {
      setDir: null,
      manifest: null,
      mapping: '',
      splitSize: undefined,
    };
  const device = { id: safeDeviceId(o.deviceId ?? 'hand-made'), hostname: o.deviceId ?? '' };
  /** The device folder and the set folder, held open from their making to the end. */
  const held: { device: SafeDir | null; set: SafeDir | null } = { device: null, set: null };
  // Before the runbook: nothing is created on the stick for a source or a stick that is a pipe or a device.
  await refuseSpecialPath(o.source, 'a hand-made archive', 'Give the .tar, .tar.gz/.tgz or .zip file itself.');
  await refuseSpecialPath(o.to, 'a stick or folder to write the backup set to', STICK_HINT, { folderOnly: true });
  try {
    await executeRunbook(
      {
        kind: 'backup',
        title: 'Make a backup set of a hand-made archive',
        cancel: 'Making the backup set stops and its unfinished copy is removed. The hand-made archive is not touched.',
        steps: [
          {
            id: 'adopt',
            title: 'Read the archive and write a backup set',
            explain: () =>
              `Read ${o.source} completely, judge every entry, find the folders ${o.profile.items.map((i) => i.id).join(', ')} by name and write them as a backup set under ${path.join(o.to, 'EdgeRecovery', device.id)}/ with a checksum for every file. ${UNVERIFIED_NOTE}`,
            async run(_c, s) {
              // Never through a link planted on the stick: EdgeRecovery/<device> are real folders or refused, and
              // held: the set is made in the folder held, whatever its path names by then. A stick that refuses is
              // named (the runbook's own mapping does not know where it was writing).
              const dir = await openMediumFolder(o.to, ['EdgeRecovery', device.id]).catch((e: unknown) => {
                throw toRecoveryError(e, o.to);
              });
              held.device = dir;
              const st = await fsp.stat(o.source).catch(() => null);
              const stamp = backupStamp(st?.mtime ?? new Date());
              let name = `Backup_${o.profile.id}_${stamp}`;
              for (let n = 2; (await dir.lstat(name)) !== null; n++) name = `Backup_${o.profile.id}_${stamp}_${n}`;
              // Measured on the folder held, where the set goes: its path may name another filesystem by now.
              const split = await splitSizeFor(dir.self, o.splitSize, dir.dir);
              c.splitSize = split.splitSize;
              if (split.note !== null) s.log(split.note);
              c.setDir = path.join(dir.dir, name);
              const r = await adoptIntoSet(
                o.source,
                o.profile,
                c.setDir,
                { onProgress: s.progress, ...(s.signal ? { signal: s.signal } : {}) },
                device,
                c.splitSize,
                undefined,
                dir,
              );
              held.set = r.set;
              c.manifest = r.manifest;
              c.mapping = describeMapping(r.result, o.profile);
              s.log(c.mapping);
              return `${UNVERIFIED_NOTE} Wrote ${c.setDir}: ${r.result.files} files, ${formatBytes(r.result.contentBytes)}. ${c.mapping}`;
            },
          },
          {
            id: 'verify',
            title: 'Verify the new backup set',
            explain: () => 'Read the new set back and check every file against the checksum just recorded.',
            async run(_c, s) {
              // Read back through the set folder held (what is read is what was written); its path must name that
              // folder before and after, or the set named in the result is not the one read (as a backup's).
              const set = held.set!;
              await refuseMovedSet(set, c.setDir!, c.manifest?.archive.parts ?? []);
              const v = await verifyBackup(
                set.self,
                {},
                {
                  onProgress: s.progress,
                  ...(s.signal ? { signal: s.signal } : {}),
                },
              ).catch((e: unknown) => {
                throw namedByPath(e, set);
              });
              await refuseMovedSet(set, c.setDir!, c.manifest?.archive.parts ?? []);
              return `All ${v.files} files of the new set match their checksums. From now on, verify checks this backup file by file.`;
            },
          },
        ],
      },
      null,
      io,
    );
  } catch (e) {
    // Only the set folder this job made and holds is removed (emptied by descriptor, its name only while it names
    // it): another set given its name on the stick meanwhile is not this job's to delete.
    if (c.setDir !== null && held.set !== null && held.device !== null) {
      try {
        removeHeldTree(held.device.at(path.basename(c.setDir)), held.set.fh.fd);
      } catch {
        // the error that matters is e
      }
    }
    const err = splitPartTooLarge(toRecoveryError(e, c.setDir ?? o.to), c.splitSize);
    io.emit({ type: 'finished', ok: false, error: err.toJSON() });
    throw err;
  } finally {
    await held.set?.close();
    await held.device?.close();
  }
  io.emit({ type: 'finished', ok: true, result: { kind: 'backup', setDir: c.setDir!, removedOld: [], warnings: [] } });
  return { setDir: c.setDir!, manifest: c.manifest!, mapping: c.mapping };
}

/** `verify <archive>` for a hand-made archive: a read-through with the screen, no hashes to compare. */
export async function runVerifyHandMade(
  file: string,
  profile: Profile,
  io: RunbookIO,
): Promise<{ files: number; mapping: string; note: string }> {
  let out: { files: number; mapping: string; note: string } | null = null;
  try {
    await executeRunbook(
      {
        kind: 'verify',
        title: 'Verify a hand-made archive',
        cancel: VERIFY_CANCEL,
        steps: [
          {
            id: 'verify',
            title: 'Read the archive through',
            explain: () =>
              `${UNVERIFIED_NOTE} Read ${file} completely (decompressing every file${/\.zip$/i.test(file) ? ' and checking its CRC-32' : ''}), judge every entry as a restore would, and find the folders ${profile.items.map((i) => i.id).join(', ')} by name. Nothing is changed.`,
            async run(_c, s) {
              const r = await readHandMade(file, profile, {
                onProgress: s.progress,
                ...(s.signal ? { signal: s.signal } : {}),
              });
              out = { files: r.files, mapping: describeMapping(r, profile), note: UNVERIFIED_NOTE };
              return `${UNVERIFIED_NOTE} Read through: ${r.files} files, ${formatBytes(r.contentBytes)}, every entry acceptable. ${out.mapping}`;
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
  const r = out as unknown as { files: number; mapping: string; note: string };
  io.emit({ type: 'finished', ok: true, result: { kind: 'verify', files: r.files } });
  return r;
}
