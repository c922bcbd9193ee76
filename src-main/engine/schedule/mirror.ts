import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { listBackups } from '../backup/list-backups.js';
import { MANIFEST_NAME, readBackupSet, type BackupManifest } from '../backup/manifest.js';
import { readWrittenSets, unvouchedReason } from '../backup/written-sets.js';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { refuseUnmountedMedium } from '../media/filesystem.js';
import { openMediumFolder } from '../media/medium-folder.js';
import { dropPageCache } from '../media/page-cache.js';
import { formatBytes, ProgressMeter } from '../progress.js';
import { globMatcher } from '../restore/ownership-policy.js';
import { executeRunbook, type RunbookDef, type RunbookIO } from '../runbook/runner.js';
import { CREATE_EXCL_FLAGS, namedByPath, openDirBelow, openFolderTo, SafeDir } from '../util/atomic-fs.js';
import { fileKind, openRegularFile, readGivenFile, refuseSpecialPath, STICK_HINT } from '../util/given-path.js';
import { withJobLock } from '../util/job-lock.js';
import { STICK_TEXT_MAX } from '../util/stick-file.js';
import { recordMirrored, type MirrorRecord } from './mirror-record.js';
import { removeFolderIfStill, removeTreeNoFollow } from '../util/safe-delete.js';

export interface MirrorOptions {
  /** Where the backups are: a backup disk's mount point, its EdgeRecovery folder, or a product's backup folder. */
  from: string;
  /** The stick's mount point. */
  to: string;
  /** The device number of `to`'s filesystem when the page chose it: as BackupOptions.toDevice. */
  toDevice?: number;
  /**
   * `from` as the page's judge saw it (host/page-paths.ts): its real path then, and its filesystem's device number.
   * `from` is then opened as it is (never resolved again) and every set or file is read only from that filesystem:
   * a folder of a stick swapped for a link to another filesystem (/var/backups) meanwhile is refused.
   */
  fromDevice?: number;
  /** How many of the newest backups to copy, and to keep on the stick (per device and profile). */
  keep: number;
  /**
   * A product's own backup files instead of ours, by file-name pattern (`*` and `?`), e.g. OpenCRVS's
   * `*.tar.gz.enc`. Copied to <to>/EdgeRecovery/files/ with a `.sha256` beside each (sha256sum -c format).
   */
  glob?: string;
  stateDir: string;
}

export interface MirrorResult {
  copied: string[];
  alreadyThere: string[];
  removed: string[];
}

/** One thing to copy: a backup set (folder) or a single product file. */
interface Item {
  kind: 'set' | 'file';
  src: string;
  /** Final path on the stick. */
  dst: string;
  /** Grouping for "keep N" on the stick: the device folder (sets) or the files folder. */
  group: string;
  bytes: number;
  createdAt: string;
  /** Expected sha256 per file name, when the source says (a set's manifest parts, and its manifest.json). */
  expected: Map<string, string>;
  /**
   * A set's folder, held open since it was found below `from` (each folder on the way opened through the one above
   * it, never a link): its manifest, its files and the copy are all read through it, never by its path again.
   */
  srcDir?: SafeDir;
  /** What the mirror record knows the copy by (mirror-record.ts): a set's manifest.json hash, a file's own hash. */
  sha256?: string;
  /**
   * A set this machine has no record of writing (backup/written-sets.ts), or one rewritten since, and why: copied,
   * but not recorded, so on the stick it is never counted towards "keep N" and never pruned.
   */
  unvouched?: string;
}

interface Ctx {
  o: MirrorOptions;
  items: Item[];
  result: MirrorResult;
  /** The copies this machine's mirror made (all runs, this one included): the only ones pruning may delete. */
  record: MirrorRecord;
  /** `from` held open (openFrom): the files and sets listed are the ones copied (see copyFile, copySet). */
  fromDir?: SafeDir;
  /** The set folders held open below `from` (Item.srcDir), closed when the job ends. */
  held: SafeDir[];
}

/**
 * The stick (and a stick as the source) is a filesystem other accounts may write: any folder on the way to a copy
 * may be renamed and a link put in its place between two steps, so after its first no-follow open every folder is
 * used through its descriptor (SafeDir.at), never by its path again. From the stick's mount point down, `to`'s own
 * folders included, none is followed as a link (openMediumFolder, as backup's --to): the stick's owner could make a
 * folder on the way to the `to` the technician typed a link to a root-only folder.
 */
function stickFolder(c: Ctx, group: string): Promise<SafeDir> {
  return openMediumFolder(
    c.o.to,
    path.relative(c.o.to, group).split(path.sep),
    0o700,
    c.o.toDevice === undefined ? undefined : { dev: c.o.toDevice, shownAs: c.o.to },
  );
}

/** A source folder on the filesystem the page's judge saw `from` on (when it did: fromDevice), or refused. */
async function sameSourceMedium(c: Ctx, d: SafeDir): Promise<void> {
  if (c.o.fromDevice === undefined || (await d.fh.stat()).dev === c.o.fromDevice) return;
  throw new RecoveryError(
    'UNSAFE_PATH',
    `${d.dir} is no longer on the filesystem ${c.o.from} was chosen on (a folder on the way was replaced, e.g. by a link), so nothing was copied from it.`,
    { hint: STICK_HINT, details: { path: d.dir } },
  );
}

/**
 * `from` held open. As the page's judge saw it (fromDevice): opened as it is, on that filesystem. Typed (the CLI):
 * reached as openFolderTo reaches a folder, each folder on the way through the one above it, only links no other
 * account could have put there followed: a link the stick's (or the folder's) owner put on the way to `from`, to a
 * root-only folder of backups, is UNSAFE_PATH before anything is read there.
 */
async function openFrom(c: Ctx): Promise<SafeDir> {
  const d = c.o.fromDevice === undefined ? await openFolderTo(c.o.from) : await SafeDir.open(c.o.from);
  try {
    await sameSourceMedium(c, d);
  } catch (e) {
    await d.close();
    throw e;
  }
  return d;
}

/** A copy's source file: through `from` held open (glob), or its set folder opened without following a link. */
function sourceOf(c: Ctx, it: Item, set: SafeDir | null, name: string): string {
  if (it.kind === 'file') return c.fromDir ? c.fromDir.at(path.basename(it.src)) : it.src;
  return set!.at(name);
}

/** Renames our hidden copy folder or file into place, if the name still holds what we made (not a swapped-in one). */
async function renameOurs(g: SafeDir, tmpName: string, ours: { dev: number; ino: number }, to: string): Promise<void> {
  const now = await g.lstat(tmpName);
  if (now === null || now.isSymbolicLink() || now.dev !== ours.dev || now.ino !== ours.ino) {
    throw new RecoveryError(
      'UNSAFE_PATH',
      `The copy ${path.join(g.dir, tmpName)} was replaced on the stick while it was written (by another account that may write there), so it was not put in place.`,
      { hint: STICK_HINT, details: { path: path.join(g.dir, tmpName) } },
    );
  }
  await fsp.rename(g.at(tmpName), g.at(to));
}

/**
 * `*.tar.gz.enc` → a test on a whole file name: `*` any run of characters, `?` one, everything else literal. The
 * pattern is typed by the technician and the names come from a folder, so it is matched by the ownership globs'
 * walk (time: the pattern's length times the name's), not a backtracking regular expression, where a pattern like
 * `*a*a*a*a*a*a*a*a*b` on a long name of a's never ended.
 */
export function fileNameGlob(glob: string): { test(name: string): boolean } {
  if (/[/\\]/.test(glob))
    throw new RecoveryError('BAD_INPUT', `--glob "${glob}" must be a file-name pattern, not a path.`);
  return globMatcher(glob);
}

async function filesOf(dir: string): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!e.isFile()) continue; // never a link, never a folder inside a set
    out.push({ name: e.name, size: (await fsp.lstat(path.join(dir, e.name))).size });
  }
  return out;
}

/**
 * A copy on the stick is still the one judged superseded while its manifest.json hashes to `hash`: an account that may
 * write the device folder can rename root's copies in it (not delete them), and give the copy this run just made the
 * name of one judged superseded.
 */
const sameCopy =
  (hash: string) =>
  async (self: string): Promise<boolean> =>
    (await hashFile(path.join(self, MANIFEST_NAME), STICK_TEXT_MAX).catch(() => null)) === hash;

/**
 * The SHA-256 of a regular file, read by descriptor. `max`: a file larger than this (a manifest.json on the stick,
 * which no set of ours comes near: STICK_TEXT_MAX) is refused unread. An account that may write the stick can put a
 * sparse manifest.json of terabytes (on a 64 MiB stick) in a folder named like a set: the prune read it through,
 * hours, holding the one-job lock (every backup, scheduled or not, waited or was missed meanwhile).
 */
async function hashFile(file: string, max = Infinity): Promise<string> {
  const h = createHash('sha256');
  // A copy on the stick may be anything: never through a link, never waiting on a FIFO, never opening a device
  // (an open alone can act, e.g. start a watchdog), even one swapped in while it is opened.
  const opened = await openRegularFile(file, { noFollow: true });
  if (opened.fh === null)
    throw new RecoveryError('BACKUP_CORRUPT', `${file} is not a regular file: it is ${fileKind(opened.st)}.`);
  const fh = opened.fh;
  const tooLarge = () =>
    new RecoveryError('BACKUP_CORRUPT', `${file} is larger than any file of ours there: it is not a backup file.`);
  try {
    if ((await fh.stat()).size > max) throw tooLarge();
    const buf = Buffer.allocUnsafe(1 << 20);
    let read = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      read += bytesRead;
      // Grown while read (another account appends): the same limit.
      if (read > max) throw tooLarge();
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Copies `src` to a new file `dst` (O_EXCL, never through a link), fsynced; returns the source's sha256. */
async function copyHashed(src: string, dst: string, meter: ProgressMeter, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  // The source may be a stick too: only a regular file is opened (never a link, a FIFO or a device).
  const opened = await openRegularFile(src, { noFollow: true });
  if (opened.fh === null)
    throw new RecoveryError('BACKUP_CORRUPT', `${src} is not a regular file: it is ${fileKind(opened.st)}.`);
  const input = opened.fh;
  let output: fsp.FileHandle | null = null;
  try {
    // One name only: a backup's files have one. A second name for another's file (ln /etc/shadow <set>/x, which any
    // account may make in a folder of its own where fs.protected_hardlinks is 0, the kernel's default) would have
    // root copy that file onto the stick.
    const { nlink } = await input.stat();
    if (nlink !== 1) {
      throw new RecoveryError(
        'UNSAFE_PATH',
        `${src} has ${nlink} names (a hard link to a file elsewhere, which may be anyone's): it was not copied.`,
        { hint: 'Remove that file from the source folder after checking what it is, then start again.' },
      );
    }
    // Inside the try: when the copy cannot be created (a name already there, a full stick) the source is closed too.
    output = await fsp.open(dst, CREATE_EXCL_FLAGS, 0o600);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      if (signal?.aborted) throw new RecoveryError('CANCELLED', 'The copy was cancelled.');
      const { bytesRead } = await input.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      let off = 0;
      while (off < bytesRead) off += (await output.write(buf, off, bytesRead - off)).bytesWritten;
      meter.add(bytesRead, 0, path.basename(src));
    }
    await output.sync();
  } finally {
    await input.close();
    await output?.close();
  }
  return h.digest('hex');
}

/** The first KiB of a plain file, or null. */
async function readSmallFile(p: string): Promise<string | null> {
  const { fh } = await openRegularFile(p, { noFollow: true }).catch(() => ({ fh: null }));
  if (fh === null) return null;
  try {
    const buf = Buffer.alloc(1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * A set's manifest and its hash, both of one and the same manifest.json: the copy's parts are checked against the
 * hashes it gives, and the copy is known by its hash (the mirror record) and its manifest checked against that. Read
 * once, by descriptor (readBackupSet: a regular file only, never through a link), and hashed from the text parsed
 * (our manifests are UTF-8, so these are the file's bytes): opening the name again could find another manifest.
 */
export async function readSetForMirror(dir: string): Promise<{ manifest: BackupManifest; manifestSum: string }> {
  const { manifest, text } = await readBackupSet(dir);
  return { manifest, manifestSum: createHash('sha256').update(text, 'utf8').digest('hex') };
}

/**
 * The newest complete backup sets under `from`, `keep` per device and profile. The source may be a stick or a disk
 * other hands wrote: a set this machine did not record writing (or whose manifest changed since) is marked
 * `unvouched`, and its date (only what its manifest says) never ranks a copy on the stick.
 */
async function setItems(c: Ctx, from: SafeDir): Promise<Item[]> {
  const o = c.o;
  const groups = await listBackups(o.from);
  const records = await readWrittenSets(o.stateDir);
  const items: Item[] = [];
  for (const g of groups) {
    const byProfile = new Map<string, typeof g.backups>();
    // Sets only: an archive made by hand beside them (listed, as `list` shows it) has no manifest to copy and check by.
    for (const b of g.backups.filter((x) => x.complete && x.handMade !== true)) {
      byProfile.set(b.profileId, [...(byProfile.get(b.profileId) ?? []), b]);
    }
    for (const list of byProfile.values()) {
      for (const b of list.slice(0, o.keep)) {
        // Listed by path; from here on held: found again below `from` held open, no link followed (a folder above
        // the set swapped for a link to a root-only folder since the listing leads nowhere: ENOENT or UNSAFE_PATH).
        const rel = path.relative(o.from, b.path);
        if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
          throw new RecoveryError('INTERNAL', `${b.path} is not in ${o.from}.`);
        const set = rel === '' ? from : await openDirBelow(from, rel.split(path.sep), null);
        if (set !== from) c.held.push(set);
        const { manifest, manifestSum } = await readSetForMirror(set.self).catch((e: unknown) => {
          throw namedByPath(e, set);
        });
        const files = await filesOf(set.self);
        const device = path.basename(path.dirname(b.path));
        const unvouched = unvouchedReason(records, b.path, b.profileId, manifestSum);
        items.push({
          kind: 'set',
          src: b.path,
          dst: path.join(o.to, 'EdgeRecovery', device, path.basename(b.path)),
          group: path.join(o.to, 'EdgeRecovery', device),
          bytes: files.reduce((a, f) => a + f.size, 0),
          createdAt: b.createdAt,
          expected: new Map([
            ...manifest.archive.parts.map((p): [string, string] => [p.name, p.sha256]),
            [MANIFEST_NAME, manifestSum],
          ]),
          sha256: manifestSum,
          srcDir: set,
          ...(unvouched === null ? {} : { unvouched: unvouched.replace(/^not counted: /, '') }),
        });
      }
    }
  }
  return items;
}

/** The newest `keep` files matching the glob directly in `from` (by modification time). */
async function fileItems(o: MirrorOptions, re: { test(name: string): boolean }, from: SafeDir): Promise<Item[]> {
  const found: { name: string; size: number; mtime: Date }[] = [];
  for (const e of await fsp.readdir(from.self, { withFileTypes: true })) {
    if (!e.isFile() || !re.test(e.name)) continue;
    const st = await fsp.lstat(from.at(e.name));
    found.push({ name: e.name, size: st.size, mtime: st.mtime });
  }
  found.sort((a, b) => b.mtime.getTime() - a.mtime.getTime() || b.name.localeCompare(a.name));
  const dir = path.join(o.to, 'EdgeRecovery', 'files');
  return found.slice(0, o.keep).map((f) => ({
    kind: 'file' as const,
    src: path.join(o.from, f.name),
    dst: path.join(dir, f.name),
    group: dir,
    bytes: f.size,
    createdAt: f.mtime.toISOString(),
    expected: new Map<string, string>(),
  }));
}

/**
 * Reads a copy back from the medium (its cached pages dropped first, as verify does) and compares each file
 * with the hash taken while reading the source, and with the manifest's hash for archive parts.
 */
async function verifyCopy(dir: string, hashes: Map<string, string>): Promise<void> {
  for (const [name, want] of hashes) {
    const f = path.join(dir, name);
    await dropPageCache(f);
    const got = await hashFile(f);
    if (got !== want) {
      throw new RecoveryError(
        'BACKUP_CORRUPT',
        `The copy of ${name} on the stick does not match the original (read back ${got.slice(0, 12)}…, expected ${want.slice(0, 12)}…).`,
        {
          hint: 'The stick may be failing. Use another stick; the copy was removed.',
        },
      );
    }
  }
}

async function copySet(c: Ctx, it: Item, g: SafeDir, meter: ProgressMeter, signal?: AbortSignal): Promise<void> {
  const tmpName = `.${path.basename(it.dst)}.mirror-${process.pid}`;
  await fsp.mkdir(g.at(tmpName), { mode: 0o700 }); // fails if it exists: never reuse a folder we did not just create
  let tmp: SafeDir | null = null;
  // Held open since the set was found (setItems): a link or a folder swapped in for it by name is never read.
  const src = it.srcDir!;
  try {
    // Held open from here: a link or a folder swapped in for it by name later is never written.
    tmp = await SafeDir.open(g.at(tmpName), path.join(g.dir, tmpName));
    await sameSourceMedium(c, src);
    const hashes = new Map<string, string>();
    // manifest.json last, as a backup writes it: a copy interrupted halfway is never taken for a backup.
    const files = (await filesOf(src.self)).sort(
      (a, b) => Number(a.name === MANIFEST_NAME) - Number(b.name === MANIFEST_NAME),
    );
    for (const f of files) {
      const sum = await copyHashed(src.at(f.name), tmp.at(f.name), meter, signal);
      const want = it.expected.get(f.name);
      if (want !== undefined && want !== sum) {
        throw new RecoveryError(
          'BACKUP_CORRUPT',
          `${path.join(it.src, f.name)} does not match its manifest: the source backup is damaged, so it was not copied.`,
          {
            hint: 'Run "edge-recovery verify" on it; mirror an older backup instead.',
            ui: { hint: 'Check it with “Verify a backup”; copy an older backup instead.' },
          },
        );
      }
      hashes.set(f.name, sum);
      meter.add(0, 1);
    }
    // Every file its manifest names, manifest.json included: a set folder emptied meanwhile (its owner may) is not
    // put on the stick as a copy of the backup.
    const missing = [...it.expected.keys()].filter((n) => !hashes.has(n));
    if (missing.length > 0) {
      throw new RecoveryError(
        'BACKUP_CORRUPT',
        `${it.src} no longer holds ${missing.join(', ')}, which its manifest names: the source backup changed while it was copied, so it was not copied.`,
        {
          hint: 'Run "edge-recovery verify" on it; mirror an older backup instead.',
          ui: { hint: 'Check it with “Verify a backup”; copy an older backup instead.' },
        },
      );
    }
    await tmp.sync();
    await verifyCopy(tmp.self, hashes);
    await renameOurs(g, tmpName, await tmp.fh.stat(), path.basename(it.dst));
    await g.sync();
  } catch (e) {
    try {
      removeTreeNoFollow(g.at(tmpName));
    } catch {
      // the error that matters is e
    }
    throw e;
  } finally {
    await tmp?.close();
  }
}

async function copyFile(c: Ctx, it: Item, g: SafeDir, meter: ProgressMeter, signal?: AbortSignal): Promise<string> {
  const name = path.basename(it.dst);
  const tmpName = `.${name}.mirror-${process.pid}`;
  const src = sourceOf(c, it, null, name);
  try {
    const sum = await copyHashed(src, g.at(tmpName), meter, signal);
    await verifyCopy(g.self, new Map([[tmpName, sum]]));
    const st = await fsp.lstat(src);
    await fsp.lutimes(g.at(tmpName), st.atime, st.mtime); // "newest" on the stick means the same as at the source
    await fsp.rename(g.at(tmpName), g.at(name));
    const sums = `${name}.sha256`;
    await fsp.rm(g.at(sums), { force: true });
    await fsp.writeFile(g.at(sums), `${sum}  ${name}\n`, { flag: 'wx', mode: 0o600 });
    meter.add(0, 1);
    await g.sync();
    return sum;
  } catch (e) {
    await fsp.rm(g.at(tmpName), { force: true });
    throw e;
  }
}

/** Already on the stick: a complete copy whose files hash as the source's manifest says. */
async function alreadyThere(c: Ctx, it: Item, g: SafeDir): Promise<boolean> {
  const name = path.basename(it.dst);
  if ((await g.lstat(name)) === null) return false;
  if (it.kind === 'file') {
    const sums = await readGivenFile(g.at(`${name}.sha256`), {
      what: 'the checksum file',
      max: 4096,
      noFollow: true,
    }).then(
      (b) => b.toString('utf8'),
      () => '',
    );
    const src = await hashFile(sourceOf(c, it, null, name));
    // The stick's file is read only up to the source's size: a sparse one of terabytes is not read through.
    if (!(sums.startsWith(src) && (await hashFile(g.at(name), it.bytes).catch(() => '')) === sums.slice(0, 64)))
      return false;
    it.sha256 = src;
    return true;
  }
  const copy = await SafeDir.open(g.at(name), it.dst).catch(() => null);
  if (copy === null) return false;
  try {
    if ((await copy.lstat(MANIFEST_NAME)) === null) return false;
    for (const [file, want] of it.expected) {
      // No file of the set is larger than the whole source set: a larger one on the stick is not read through.
      if ((await hashFile(copy.at(file), it.bytes).catch(() => '')) !== want) return false;
    }
    return true;
  } finally {
    await copy.close();
  }
}

const steps: RunbookDef<Ctx>['steps'] = [
  {
    id: 'find',
    title: 'Find the newest verified backups',
    explain: (c) =>
      c.o.glob
        ? `Pick the ${c.o.keep} newest files matching ${c.o.glob} in ${c.o.from}.`
        : `Pick the ${c.o.keep} newest complete (verified) backups of each device and profile under ${c.o.from}; unfinished ones are never copied.`,
    async run(c) {
      const st = await fsp.stat(c.o.from).catch(() => null);
      if (!st?.isDirectory()) {
        throw new RecoveryError('BACKUP_NOT_FOUND', `There is no folder ${c.o.from} to copy backups from.`, {
          hint: 'Give the folder the backups are written to (the schedule’s --to), or a product’s backup folder with --glob.',
        });
      }
      c.fromDir = await openFrom(c);
      c.items = c.o.glob ? await fileItems(c.o, fileNameGlob(c.o.glob), c.fromDir) : await setItems(c, c.fromDir);
      if (c.items.length === 0) {
        throw new RecoveryError(
          'BACKUP_NOT_FOUND',
          `No ${c.o.glob ? `files matching ${c.o.glob}` : 'complete backups'} in ${c.o.from}.`,
          {
            hint: c.o.glob
              ? 'Check the pattern and the folder.'
              : 'Make a backup first, or point --from at the folder holding them.',
          },
        );
      }
      const total = c.items.reduce((a, i) => a + i.bytes, 0);
      return `${c.items.length} to mirror (${formatBytes(total)}): ${c.items.map((i) => path.basename(i.src)).join(', ')}.`;
    },
  },
  {
    id: 'copy',
    title: 'Copy to the stick and read each copy back',
    explain: (c) =>
      `Copy each backup onto ${c.o.to} (into a hidden folder, renamed when complete), then drop it from the page cache and read it back from the stick, comparing every file’s SHA-256 with the original’s.`,
    async run(c, s) {
      // The stick is someone else's filesystem: EdgeRecovery/<device> is made or found as real folders, never
      // followed through a link planted there (it could lead anywhere on this machine: we write and prune as root).
      const dirs = new Map<string, SafeDir>();
      try {
        for (const g of new Set(c.items.map((i) => i.group))) dirs.set(g, await stickFolder(c, g));
        const todo: Item[] = [];
        for (const it of c.items) {
          if (await alreadyThere(c, it, dirs.get(it.group)!)) c.result.alreadyThere.push(it.dst);
          else todo.push(it);
        }
        const meter = new ProgressMeter(
          'mirroring',
          { bytes: todo.reduce((a, i) => a + i.bytes, 0), files: null },
          s.progress,
        );
        for (const it of todo) {
          const g = dirs.get(it.group)!;
          const name = path.basename(it.dst);
          if ((await g.lstat(name)) !== null) {
            // A stale or damaged copy by the same name: set it aside, never overwrite in place.
            await fsp.rename(g.at(name), g.at(`${name}.replaced-${Date.now()}`));
          }
          if (it.kind === 'set') await copySet(c, it, g, meter, s.signal);
          else it.sha256 = await copyFile(c, it, g, meter, s.signal);
          c.result.copied.push(it.dst);
        }
        meter.flush();
      } finally {
        for (const d of dirs.values()) await d.close();
      }
      // Recorded once read back (or found intact): from now on the stick's pruning may count and delete these. Not a
      // set this machine has no record of writing: its date is only what its manifest says, and a planted one dated
      // "newer" would otherwise push a real copy out of the stick's newest N.
      c.record = await recordMirrored(
        c.o.stateDir,
        Object.fromEntries(
          c.items
            .filter((i) => i.sha256 !== undefined && i.unvouched === undefined)
            .map((i) => [i.sha256!, { createdAt: i.createdAt, name: path.basename(i.src) }]),
        ),
      );
      const unvouched = c.items.filter((i) => i.unvouched !== undefined);
      const notCounted =
        unvouched.length === 0
          ? ''
          : ` Copied but not counted on the stick (never pushes another copy out, never removed by the mirror): ${unvouched.map((i) => `${path.basename(i.src)} (${i.unvouched})`).join(', ')}.`;
      if (unvouched.length > 0) s.log(`Mirror${notCounted.replace(' Copied but', ': copied but')}`, 'warn');
      return `Copied and read back ${c.result.copied.length}${c.result.alreadyThere.length ? `; ${c.result.alreadyThere.length} already on the stick and intact` : ''}.${notCounted}`;
    },
  },
  {
    id: 'prune',
    title: 'Keep the newest on the stick',
    explain: (c) =>
      `Keep the ${c.o.keep} newest backups of each kind on ${c.o.to} and delete older ones (never one just copied). Only copies this machine's mirror made and recorded are counted and deleted, newest by the time their source said, and a copy is recorded only when its source is a backup this machine recorded writing: anything else on the stick (whatever date its own manifest claims) is left alone.`,
    async run(c) {
      const groups = new Set(c.items.map((i) => i.group));
      const keepNow = new Set([...c.result.copied, ...c.result.alreadyThere].map((p) => path.resolve(p)));
      const prefix = (name: string): string => name.replace(/_\d{8}_\d{4}Z.*$/, '');
      const unknown: string[] = [];
      for (const g of groups) {
        const gd = await stickFolder(c, g);
        try {
          const entries: { p: string; at: string; hash: string; createdAt: string; kind: string }[] = [];
          const mine = new Set(c.items.filter((i) => i.group === g).map((i) => prefix(path.basename(i.src))));
          const named = c.o.glob ? fileNameGlob(c.o.glob) : null;
          for (const e of await fsp.readdir(gd.self, { withFileTypes: true })) {
            const p = path.join(g, e.name);
            const at = gd.at(e.name);
            let hash: string | null;
            if (named) {
              if (!e.isFile() || !named.test(e.name)) continue;
              // Its .sha256 names the content; a copy we made has one whose hash we recorded.
              hash = await readSmallFile(gd.at(`${e.name}.sha256`)).then((t) => t?.slice(0, 64) ?? null);
            } else {
              if (!e.isDirectory() || !e.name.startsWith('Backup_')) continue;
              // Judged where it is read (hashFile: a regular file only, by descriptor); anything else is not ours.
              hash = await hashFile(path.join(at, MANIFEST_NAME), STICK_TEXT_MAX).catch(() => null);
            }
            const known = hash === null ? undefined : c.record[hash];
            if (known === undefined || hash === null) {
              if (!keepNow.has(path.resolve(p))) unknown.push(p);
              continue;
            }
            // Per profile (the source's name, not the stick's folder name), like the source side.
            const kind = c.o.glob ? '' : prefix(known.name);
            if (!c.o.glob && !mine.has(kind)) continue;
            entries.push({ p, at, hash, createdAt: known.createdAt, kind });
          }
          const byKind = new Map<string, typeof entries>();
          for (const e of entries) byKind.set(e.kind, [...(byKind.get(e.kind) ?? []), e]);
          for (const list of byKind.values()) {
            // The N newest distinct copies are kept (a duplicate of one, under any name, counts once), and whatever
            // this run just copied or found intact.
            const times = new Map(list.map((e) => [e.hash, e.createdAt]));
            const newest = [...times.entries()]
              .sort(([, a], [, b]) => (a < b ? 1 : a > b ? -1 : 0))
              .slice(0, c.o.keep)
              .map(([h]) => h);
            const kept = new Set([...newest, ...list.filter((e) => keepNow.has(path.resolve(e.p))).map((e) => e.hash)]);
            for (const e of list) {
              if (kept.has(e.hash) || keepNow.has(path.resolve(e.p))) continue;
              // On the stick, which other accounts may write to: by descriptor, never following a link.
              if (c.o.glob) removeTreeNoFollow(e.at);
              else if (!(await removeFolderIfStill(e.at, e.p, sameCopy(e.hash)))) continue;
              if (c.o.glob) await fsp.rm(gd.at(`${path.basename(e.p)}.sha256`), { force: true });
              c.result.removed.push(e.p);
            }
          }
        } finally {
          await gd.close();
        }
      }
      const left =
        unknown.length === 0
          ? ''
          : ` Left alone ${unknown.length} not copied by this machine's mirror from a backup this machine recorded writing (never counted, never deleted): ${unknown.map((p) => path.basename(p)).join(', ')}.`;
      return (
        (c.result.removed.length === 0
          ? 'Nothing older to remove.'
          : `Removed ${c.result.removed.length}: ${c.result.removed.map((p) => path.basename(p)).join(', ')}.`) + left
      );
    },
  },
];

/**
 * `mirror`: copies the newest verified backups (ours, or a product's own files by pattern) onto removable
 * media, verifies every copy by reading it back from the medium, and keeps N there. Holds the job lock.
 */
export async function runMirror(o: MirrorOptions, io: RunbookIO): Promise<MirrorResult> {
  await refuseSpecialPath(
    o.from,
    'a folder of backups',
    'Give the folder the backups are written to (the schedule’s --to), or a product’s backup folder with --glob.',
    { folderOnly: true },
  );
  await refuseSpecialPath(o.to, 'a stick or folder to copy backups to', STICK_HINT, { folderOnly: true });
  // A stick's empty mount folder is the system disk's: copies "read back from the stick" would be read from there.
  await refuseUnmountedMedium(o.to, 'mirror');
  return withJobLock(o.stateDir, { command: 'mirror' }, async () => {
    const c: Ctx = { o, items: [], result: { copied: [], alreadyThere: [], removed: [] }, record: {}, held: [] };
    const def: RunbookDef<Ctx> = {
      kind: 'mirror',
      title: `Copy backups to ${o.to}`,
      steps,
      cancel:
        'Copying stops; the unfinished copy is removed from the target stick. The backups themselves are not touched.',
    };
    try {
      await executeRunbook(def, c, io);
    } catch (e) {
      const err = toRecoveryError(e, o.to);
      io.emit({ type: 'finished', ok: false, error: err.toJSON() });
      throw err;
    } finally {
      for (const d of c.held) await d.close();
      await c.fromDir?.close();
    }
    io.emit({ type: 'finished', ok: true, result: { kind: 'mirror', ...c.result } });
    return c.result;
  });
}
