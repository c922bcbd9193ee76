import { newPassphraseProblem } from '../../shared/passphrase.js';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { newAgeKey, releaseAgeKey, type AgeKey } from '../archive/age-key.js';
import { createArchive, sizeTrees, verifyArchive, type ArchiveResult } from '../archive/index.js';
import { apiWithPort, applianceClientFor, compareVersions, type ApplianceClient } from '../appliance/client.js';
import { versionFromCommand } from '../appliance/installed-version.js';
import { RecoveryError, toRecoveryError } from '../errors.js';
import { freeSpace, refuseUnmountedMedium } from '../media/filesystem.js';
import { splitPartTooLarge, splitSizeFor } from '../media/split-size.js';
import { localDeviceId } from '../media/device-id.js';
import { dropPageCacheAll } from '../media/page-cache.js';
import { countOf, formatBytes } from '../progress.js';
import { resolveItems, type ResolvedItem } from '../profiles/load.js';
import type { Profile } from '../profiles/schema.js';
import { executeRunbook, type RunbookDef, type RunbookIO } from '../runbook/runner.js';
import type { StepInfo } from '../runbook/types.js';
import type { SavedReport } from '../report/saved-at.js';
import type { TicketFields } from '../report/ticket.js';
import { writeBackupReport } from './backup-report.js';
import { verifyArtifacts, type ArtifactRecord } from '../runbook/product/artifacts.js';
import {
  doneForGood,
  emptyProductState,
  productRunbookSteps,
  removeWork,
  undoProductSteps,
  type ProductHost,
} from '../runbook/product/product-steps.js';
import { serviceFor } from '../service/index.js';
import { findOpenFiles } from '../service/open-files.js';
import type { ServiceControl, ServiceStatus } from '../service/types.js';
import { crashPoint } from '../restore/crash-point.js';
import { defaultStateDir } from '../restore/journal.js';
import { SafeDir, namedByPath, writeInDir } from '../util/atomic-fs.js';
import { openMediumFolder } from '../media/medium-folder.js';
import { refuseSpecialPath, STICK_HINT } from '../util/given-path.js';
import { withJobLock } from '../util/job-lock.js';
import { refuseRealProductInPractice } from '../util/practice-only.js';
import { linkedFolder, refuseOverlap } from '../util/linked-folder.js';
import type { TreeSize } from '../util/tree-size.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';
import {
  FORMAT,
  FORMAT_VERSION,
  INNER_MANIFEST_PATH,
  MANIFEST_NAME,
  RESTORE_TXT_NAME,
  SUMS_NAME,
  type BackupClass,
  type BackupManifest,
} from './manifest.js';
import { BackupJournalStore, recoverInterruptedBackup } from './backup-journal.js';
import { archiveSpaceNeeded } from './space-needed.js';
import { signManifest } from './manifest-integrity.js';
import { applyRetention, type RetentionPolicy, type RetentionRemoval } from './retention.js';
import { forgetSets, manifestSha256, recordSetStarted, recordSetVerified } from './written-sets.js';
import { restoreText, sha256SumsText } from './restore-txt.js';
import { MATCH_TEXT_MAX } from '../profiles/safe-pattern.js';
import { removeHeldTree } from '../util/safe-delete.js';

export interface BackupOptions {
  profile: Profile;
  /** Folder on the medium (the stick's mount point); the set goes under <to>/EdgeRecovery/<device>/. */
  to: string;
  /**
   * The device number of `to`'s filesystem when the page chose it (host/page-paths.ts): the set's folders are
   * created only while `to` is still on that filesystem (a stick swapped for a folder meanwhile: MEDIUM_GONE).
   */
  toDevice?: number;
  root?: string;
  /** Folders chosen instead of the profile's defaults (item id → absolute path). */
  folders?: Record<string, string>;
  /** Optional items to back up although they are off by default (e.g. Logs); an id names all its `*` expansions. */
  include?: string[];
  /** Optional items to leave out although they are on by default (e.g. Certificates). */
  exclude?: string[];
  deviceId?: string;
  passphrase?: string;
  splitSize?: number;
  /** Keep the newest N backups of this backup's own class (manual or automatic); see also `retention`. */
  keep?: number;
  /** Retention by class, applied after the new backup verified. */
  retention?: RetentionPolicy;
  /** manual (a technician, the default) or automatic (a schedule): recorded in the manifest. */
  backupClass?: BackupClass;
  leaveStopped?: boolean;
  /** Fail (instead of warn) when a file changed while it was archived. */
  strict?: boolean;
  /** Where the job lock and the backup journal live (default: --state-dir / EDGE_RECOVERY_STATE_DIR / platform). */
  stateDir?: string;
  /** For tests: the creation time. */
  now?: Date;
  /** The technician's name for this backup (a manual backup's name; product steps see it as {label}). */
  label?: string;
  /** Ticket number, site and technician for the backup report (validated by the caller: parseTicket). */
  ticket?: TicketFields;
}

export interface BackupResult {
  setDir: string;
  manifest: BackupManifest;
  removedOld: string[];
  /** What retention removed, with the reason for each. */
  removed: RetentionRemoval[];
  warnings: string[];
  /** The backup report's files, on the stick and on this machine (JSON, HTML, PDF when a printer is set). */
  reports: string[];
  saved: SavedReport[];
}

interface Ctx {
  o: BackupOptions;
  journal: BackupJournalStore;
  items: ResolvedItem[];
  /** Items whose configured path is a symlink to a folder (item id → the link's own path); `items` holds the real folder. */
  links: Map<string, string>;
  /** The passphrase's scrypt key, derived once for the job and zeroed at its end. */
  ageKey: AgeKey | null;
  sizes: Map<string, TreeSize>;
  service: ServiceControl;
  api: ApplianceClient | null;
  before: ServiceStatus | null;
  stoppedByUs: boolean;
  startedAgain: boolean;
  productVersion: string | null;
  device: { id: string; hostname: string };
  splitSize: number | undefined;
  setDir: string | null;
  /**
   * The device folder (EdgeRecovery/<device>) and the set folder in it, held open from the set's creation to the
   * job's end: every file this job writes there after the archive (the product's own files, RESTORE.txt,
   * SHA256SUMS, manifest.json, the reports) goes through these descriptors, never by the path on the stick, which
   * another account that may write the stick's device folder can swap for a link at any moment.
   */
  deviceFolder: SafeDir | null;
  set: SafeDir | null;
  archive: ArchiveResult | null;
  manifest: BackupManifest | null;
  removedOld: RetentionRemoval[];
  warnings: string[];
  /** Records a warning and shows it at once (the technician hears it before the service stops). */
  warn(message: string): void;
  /** The product's own steps: what they remember, and the files they put into the set. */
  product: ProductHost;
  artifacts: ArtifactRecord[];
  /** The profile's facts as this product answered them (null: not set), recorded in the manifest. */
  facts: Record<string, string | null>;
}

/**
 * Required items always; optional ones as the profile selects them by default, changed by `include`/`exclude`
 * (an id also names every `*` expansion of it: `Certificates` → `Certificates.OpcUa1`, …).
 */
export function selectItems(items: ResolvedItem[], o: { include?: string[]; exclude?: string[] }): ResolvedItem[] {
  const names = (id: string): string[] => [id, id.split('.')[0]!];
  return items.filter((i) => {
    if (i.required) return true;
    if (names(i.id).some((n) => o.exclude?.includes(n))) return false;
    return i.selected || names(i.id).some((n) => o.include?.includes(n));
  });
}

export function backupStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}Z`;
}

/** Device ids become folder names: keep them to a safe alphabet. */
export function safeDeviceId(id: string): string {
  const s = id.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
  return s.length > 0 ? s.slice(0, 96) : 'unknown-device';
}

function estimateArchiveBytes(sizes: Iterable<TreeSize>): number {
  let bytes = 0;
  let entries = 0;
  for (const s of sizes) {
    bytes += s.bytes;
    entries += s.files + s.dirs;
  }
  return archiveSpaceNeeded(bytes, entries);
}

const builtinSteps: RunbookDef<Ctx>['steps'] = [
  {
    id: 'prechecks',
    title: 'Pre-checks',
    explain: (c) =>
      `${c.items.length > 0 ? `Check that ${c.items.map((i) => i.path).join(' and ')} exist, that` : 'Check that'} ${c.o.to} has room for the backup, ` +
      `and run the product's own checks. Nothing is changed.`,
    async run(c, s) {
      for (const it of c.items) {
        const real = await linkedFolder(it.path);
        if (real !== null && (await fsp.stat(real).catch(() => null)) !== null) {
          // A data folder on another disk (Storage -> /data/eds/Storage): backed up through the link.
          c.links.set(it.id, it.path);
          s.log(`${it.path} is a link to ${real}: the data there is backed up, and the manifest records the link.`);
          it.path = real;
        }
      }
      refuseOverlap(c.items, c.links.size > 0, '');
      // One walk of the folders, on the worker thread with progress: these sizes are also the archive's totals.
      const sizes = await sizeTrees(
        c.items.map((i) => i.path),
        { onProgress: s.progress, ...(s.signal ? { signal: s.signal } : {}) },
      );
      const undecodable = c.items.flatMap((it, i) => (sizes[i]!.undecodable ?? []).map((n) => `${it.id}/${n}`));
      if (undecodable.length > 0) {
        throw new RecoveryError(
          'PRECHECK_FAILED',
          `${undecodable.length === 1 ? 'A name' : `${undecodable.length} names`} in the folders ${undecodable.length === 1 ? 'is' : 'are'} not UTF-8, so the backup cannot record ${undecodable.length === 1 ? 'it' : 'them'}: ${undecodable.slice(0, 5).join(', ')}${undecodable.length > 5 ? ', …' : ''}.`,
          {
            hint: 'Rename them to UTF-8 (e.g. convmv -f latin1 -t utf8 --notest <file>), then start the backup again. Nothing was changed.',
            details: { names: undecodable.slice(0, 100) },
          },
        );
      }
      for (const [i, it] of c.items.entries()) {
        const size = sizes[i]!;
        if (!size.exists) {
          if (it.required) {
            throw new RecoveryError('SOURCE_MISSING', `The folder ${it.path} (${it.id}) does not exist.`, {
              hint: 'Check the profile and --root. Nothing was changed.',
            });
          }
          c.warn(`The optional folder ${it.path} does not exist and is left out.`);
          continue;
        }
        c.sizes.set(it.id, size);
        for (const l of size.outsideLinks) {
          c.warn(
            `${it.id}/${l.path} is a link to ${l.target}, outside the folder: it is backed up as a link, but a restore ` +
              'refuses links that leave their folder. Replace it with a link inside the folder (or a copy) before relying on this backup.',
          );
        }
      }
      c.items = c.items.filter((i) => c.sizes.has(i.id));
      // Before anything is made there: an unmounted stick's folder is the system disk's (see unmountedMedium).
      await refuseUnmountedMedium(c.o.to, 'backup');
      // Made without following a link below the stick's mount point (a folder of the stick's owner linked to /etc),
      // and measured (free space, the filesystem's largest file) on the folder held: its path may name another
      // filesystem by then.
      const top = await openMediumFolder(c.o.to, []).catch((e: unknown) => {
        throw toRecoveryError(e, c.o.to);
      });
      let space: Awaited<ReturnType<typeof freeSpace>>;
      let split: Awaited<ReturnType<typeof splitSizeFor>>;
      try {
        space = await freeSpace(top.self);
        split = await splitSizeFor(top.self, c.o.splitSize, c.o.to);
      } finally {
        await top.close();
      }
      const need = estimateArchiveBytes(c.sizes.values());
      if (space.freeBytes < need) {
        throw new RecoveryError(
          'NOT_ENOUGH_SPACE',
          `${c.o.to} has ${formatBytes(space.freeBytes)} free; the backup may need up to ${formatBytes(need)}.`,
          { hint: 'Use a larger stick or free some space. Nothing was changed.' },
        );
      }
      c.splitSize = split.splitSize;
      if (split.note !== null) s.log(split.note);
      for (const pc of c.o.profile.prechecks.filter((p) => p.when.includes('backup'))) {
        if (c.api === null) break;
        try {
          const r = await c.api.runPrecheck(pc);
          if (!r.ok) throw new RecoveryError('PRECHECK_FAILED', `${pc.title}: ${r.message}`, { hint: pc.failMessage });
        } catch (e) {
          if (e instanceof RecoveryError && e.code === 'APPLIANCE_UNREACHABLE') {
            c.warn(`Could not run the check "${pc.title}": the product's API does not answer.`);
          } else throw e;
        }
      }
      const total = [...c.sizes.values()].reduce((a, b) => a + b.bytes, 0);
      const files = [...c.sizes.values()].reduce((a, b) => a + b.files, 0);
      return `Folders found: ${countOf(files, 'file')}, ${formatBytes(total)}. ${formatBytes(space.freeBytes)} free on the medium.`;
    },
  },
  {
    id: 'version',
    title: 'Record the product version',
    explain: (c) =>
      c.api
        ? `Ask ${c.o.profile.productName} for its version (${c.o.profile.api?.baseUrl}); the restore checks it.`
        : 'This profile has no API: the version is not recorded.',
    skip: (c) => (c.api === null ? 'The profile has no REST API.' : null),
    async run(c) {
      let said: string;
      try {
        c.productVersion = await c.api!.productVersion();
        said = `${c.o.profile.productName} ${c.productVersion}.`;
      } catch (e) {
        const err = toRecoveryError(e);
        const vc = c.o.profile.version.command;
        const fromDb = vc ? await versionFromCommand(vc) : null;
        if (fromDb?.version) {
          c.productVersion = fromDb.version;
          said = `${c.o.profile.productName} ${c.productVersion} (from ${fromDb.from}; the API did not answer: ${err.message}).`;
        } else {
          c.warn(`The product version could not be read (${err.message}); the restore will not be able to check it.`);
          said = `Version unknown: ${err.message}`;
        }
      }
      return said + (await productFacts(c));
    },
  },
  {
    id: 'stop-service',
    title: 'Stop the service',
    // Read again at every step change from here on: what cleanupAfterFailure will really do for this job.
    cancel: { during: (c) => cancelWords(c) },
    explain: (c) =>
      `Stop ${c.service.label} and wait until it has stopped, so no file changes while it is copied. ` +
      (c.o.leaveStopped ? 'It stays stopped afterwards (--leave-stopped).' : 'It is started again after the backup.'),
    confirm: (c) => ({
      message: `${c.o.profile.productName} stops while its folders are copied${c.o.leaveStopped ? ' and stays stopped' : ', then starts again'}.`,
      details: [`Service: ${c.service.label}`],
      action: 'Stop the service',
    }),
    skip: (c) =>
      c.o.profile.stopService.includes('backup')
        ? null
        : `${c.o.profile.productName} backs itself up while it runs: the service is not stopped.`,
    async run(c) {
      c.before = await c.service.status();
      if (c.before.state === 'not-found') {
        throw new RecoveryError('SERVICE_NOT_FOUND', `The service ${c.service.label} is not installed here.`, {
          hint: 'Check the profile (service name and manager).',
        });
      }
      c.journal.j.serviceBefore = c.before.state;
      if (c.before.state === 'stopped') {
        await c.journal.save('service-before');
        return 'The service was already stopped.';
      }
      // Journaled before the manager is asked: a kill between the two still leads to a start by the next command.
      c.stoppedByUs = true;
      c.journal.j.stoppedByUs = true;
      c.journal.j.phase = 'stopping';
      await c.journal.save('stopping');
      await c.service.stop();
      await c.service.waitFor('stopped', c.o.profile.service.stopTimeoutSeconds * 1000);
      crashPoint('backup:stopped');
      return byHand(c) ? 'Stopped by hand (confirmed by the technician).' : 'The service has stopped.';
    },
  },
  {
    id: 'open-files',
    title: 'Check no program holds the files',
    explain: (c) => `Look for any program that still has files open under ${c.items.map((i) => i.path).join(', ')}.`,
    skip: (c) => (c.items.length === 0 ? 'The profile archives no folders.' : null),
    async run(c) {
      const open = await findOpenFiles(c.items.map((i) => i.path));
      if (open.length > 0) {
        const names = [...new Set(open.map((o) => `${o.command} (pid ${o.pid})`))];
        throw new RecoveryError(
          'FILES_IN_USE',
          `Still in use by ${names.join(', ')}: ${open[0]!.file}${open.length > 1 ? ` and ${open.length - 1} more` : ''}.`,
          {
            hint: 'Stop that program (or wait for it to finish) and start again.',
            details: { processes: names },
          },
        );
      }
      return process.platform === 'win32'
        ? 'Open files cannot be listed on Windows; the stopped service holds none.'
        : 'No program holds files in the folders.';
    },
  },
  {
    id: 'archive',
    title: 'Write the backup',
    explain: (c) =>
      `Pack ${c.items.length > 0 ? c.items.map((i) => i.id).join(' and ') : "the backup's list of files (the profile archives no folders)"} into a compressed archive${c.o.passphrase ? ' encrypted with your passphrase' : ''} ` +
      `on ${c.o.to}, filed under this device's id "${c.device.id}" (EdgeRecovery/${c.device.id}/)` +
      `${c.splitSize ? `, in parts of ${formatBytes(c.splitSize)}` : ''}. Files are written as .partial and renamed when complete.`,
    async run(c, s) {
      // Never through a link planted on the stick: EdgeRecovery/<device> are real folders or refused, and held.
      const device = await openMediumFolder(
        c.o.to,
        ['EdgeRecovery', safeDeviceId(c.device.id)],
        0o755,
        c.o.toDevice === undefined ? undefined : { dev: c.o.toDevice, shownAs: c.o.to },
      );
      c.deviceFolder = device;
      const stamp = backupStamp(c.o.now ?? new Date());
      let name = `Backup_${c.o.profile.id}_${stamp}`;
      for (let n = 2; (await device.lstat(name)) !== null; n++) {
        name = `Backup_${c.o.profile.id}_${stamp}_${n}`;
      }
      // scrypt once for the whole job: the archive's age header, its verification and the manifest's MAC.
      if (c.o.passphrase !== undefined && c.o.passphrase !== '') c.ageKey ??= await newAgeKey(c.o.passphrase);
      c.setDir = path.join(device.dir, name);
      c.journal.j.setDir = c.setDir;
      c.journal.j.phase = 'archiving';
      await c.journal.save('set-dir');
      // Recorded before the folder exists: only a folder this machine recorded starting is ever removed as debris.
      await recordSetStarted(c.journal.stateDir, c.setDir, c.o.profile.id);
      c.set = await makeSetFolder(device, name, c.setDir);
      await device.sync();
      let midCrash = false;
      c.archive = await createArchive(
        {
          items: c.items.map((i) => ({ id: i.id, path: i.path })),
          allowEmpty: c.o.profile.steps.some((x) => x.kind === 'artifact'),
          outDir: c.setDir,
          // The parts go into the set folder held open above, not wherever its path leads by the first write.
          ...(process.platform === 'linux' ? { outDirAt: `${c.set.self}/.` } : {}),
          ...(c.ageKey !== null ? { ageKey: c.ageKey } : {}),
          ...(c.splitSize !== undefined ? { splitSize: c.splitSize } : {}),
          totals: [...c.sizes.values()].reduce(
            (a, t) => ({ bytes: a.bytes + t.bytes, files: a.files + t.regularFiles }),
            {
              bytes: 0,
              files: 0,
            },
          ),
        },
        {
          onProgress: (p) => {
            if (!midCrash && p.files > 0) {
              midCrash = true;
              crashPoint('backup:archive-mid');
            }
            s.progress(p);
          },
          ...(s.signal ? { signal: s.signal } : {}),
        },
      );
      for (const sk of c.archive.skipped) c.warn(`Skipped ${sk.path}: ${sk.reason}`);
      // The archive's writer opened the set folder by its path: its parts must be in the folder held here.
      await refuseMovedSet(c.set!, c.setDir!, c.archive?.parts ?? []);
      reportChangedFiles(c, c.archive);
      c.manifest = buildManifest(c, c.archive);
      if (c.ageKey !== null) c.manifest = signManifest(c.manifest, c.ageKey);
      // SHA256SUMS comes after the verification (it lists manifest.json): until then `sha256sum -c` cannot pass.
      await writeInDir(c.set, RESTORE_TXT_NAME, restoreText(c.manifest, c.o.profile), 0o600);
      crashPoint('backup:archived');
      return `Wrote ${countOf(c.archive.parts.length, 'file')}, ${formatBytes(c.archive.archiveBytes)} (${countOf(c.archive.files, 'file')}, ${formatBytes(c.archive.contentBytes)} of data).`;
    },
  },
  {
    id: 'verify',
    title: 'Verify the backup',
    explain: () =>
      'Read the whole backup back from the medium: check every part’s checksum, decrypt, and compare every file with its recorded checksum. Then mark the backup complete.',
    async run(c, s) {
      // Forget the cached copy first, so the check reads what is really on the stick.
      c.journal.j.phase = 'verifying';
      await c.journal.save('verifying');
      const set = c.set!;
      await refuseMovedSet(c.set!, c.setDir!, c.archive?.parts ?? []);
      const fromMedium = await dropPageCacheAll(c.archive!.parts.map((p) => set.at(p.name)));
      let midCrash = false;
      // Read through the held set folder (/proc/self/fd/N on Linux), not by the set's path: what is read is what
      // was written, even if the path is swapped between the checks around the read-back.
      const r = await verifyArchive(
        set.self,
        {
          parts: c.archive!.parts,
          totalFiles: c.archive!.files,
          gzipMembers: c.archive!.gzipMembers,
          ...(c.ageKey !== null ? { ageKey: c.ageKey } : {}),
        },
        {
          onProgress: (p) => {
            if (!midCrash && p.files > 0) {
              midCrash = true;
              crashPoint('backup:verify-mid');
            }
            s.progress(p);
          },
          ...(s.signal ? { signal: s.signal } : {}),
        },
      ).catch((e: unknown) => {
        throw namedByPath(e, set);
      });
      if (c.artifacts.length > 0) {
        // The product's own files: listed in the manifest and SHA256SUMS, and read back like the archive.
        c.manifest!.artifacts = c.artifacts;
        await writeInDir(set, RESTORE_TXT_NAME, restoreText(c.manifest!, c.o.profile), 0o600);
        await dropPageCacheAll(c.artifacts.map((a) => path.join(set.self, ...a.path.split('/'))));
        // Read back from the held set folder (the names are the records', inside it).
        await verifyArtifacts(set.self, c.artifacts, {
          onProgress: s.progress,
          ...(s.signal ? { signal: s.signal } : {}),
        });
      }
      // SHA256SUMS (which lists manifest.json), then manifest.json last: a set without it is never a backup,
      // and `sha256sum -c` fails on it (manifest.json missing), so stock tools and this tool agree.
      const manifestText = JSON.stringify(c.manifest, null, 2) + '\n';
      // What was read back is what the set's path names: only then is the set declared complete.
      await refuseMovedSet(c.set!, c.setDir!, c.archive?.parts ?? []);
      await writeInDir(set, SUMS_NAME, sha256SumsText([...c.archive!.parts, ...artifactSums(c)], manifestText), 0o600);
      crashPoint('backup:sums-written');
      await writeInDir(set, MANIFEST_NAME, manifestText, 0o600);
      c.journal.j.phase = 'verified';
      c.journal.j.manifestSha256 = manifestSha256(manifestText);
      await c.journal.save('verified');
      // Only now, verified: retention counts (and may one day delete) only the sets this machine recorded here.
      await recordSetVerified(c.journal.stateDir, c.setDir!, c.o.profile.id, manifestText, {
        createdAt: c.manifest!.createdAt,
        class: c.manifest!.class ?? 'manual',
      }).catch((e: unknown) =>
        c.warn(
          `Could not record this backup in the state folder (${toRecoveryError(e).message}): retention will keep it without counting it.`,
        ),
      );
      const how = fromMedium || r.direct === true ? 'read back from the medium' : 'read back';
      const extra = c.artifacts.length > 0 ? ` and ${countOf(c.artifacts.length, 'file')} of the product's own` : '';
      const one = r.files === 1 && extra === '';
      const files =
        r.files === 0 && extra !== '' ? 'The archive' : r.files === 1 ? 'The 1 file' : `All ${r.files} files`;
      return `${files}${extra} ${how} ${one ? 'matches its checksum' : 'match their checksums'}. The backup is complete: ${c.setDir}`;
    },
  },
  {
    id: 'start-service',
    title: 'Start the service again',
    explain: (c) => `Start ${c.service.label} again and wait until it runs.`,
    skip: (c) =>
      c.o.leaveStopped
        ? 'Left stopped, as asked (--leave-stopped).'
        : !c.o.profile.stopService.includes('backup')
          ? // A product that backs itself up while it runs was never stopped (it ran all along).
            'The service was not stopped for the backup, so there is nothing to start.'
          : !c.stoppedByUs
            ? 'The service was not running before the backup, so it is left as it was.'
            : null,
    async run(c) {
      await c.service.start();
      await c.service.waitFor('running', c.o.profile.service.startTimeoutSeconds * 1000);
      c.startedAgain = true;
      c.journal.j.phase = 'started';
      await c.journal.save('started');
      if (byHand(c)) return 'Started again by hand (confirmed by the technician).';
      if (c.api) {
        const h = await waitHealthy(c.api, c.o.profile.service.startTimeoutSeconds * 1000);
        if (!h.ok) c.warn(`The service runs but its API is not healthy yet: ${h.detail}`);
      }
      return 'The service runs again.';
    },
  },
  {
    id: 'retention',
    title: 'Remove old backups',
    cancel: {
      during:
        'The new backup is complete and stays on the stick. The old backups already chosen are still removed, then the job ends.',
    },
    explain: (c) =>
      `Apply the retention rules to this device's ${c.o.profile.id} backups on the medium (${describePolicy(retentionPolicy(c.o))}), ` +
      'only now that the new one is verified; manual and automatic backups are counted apart, and the newest backup is never removed. ' +
      'Only the backups this machine recorded writing, unchanged since, are counted and may be removed; any other set is kept. ' +
      'A set dated after the new one or in the future is not counted and is kept. ' +
      'Unfinished backup folders this machine recorded starting (no manifest.json, left by an interrupted backup) are deleted, now that a newer backup has verified.',
    async run(c) {
      const { removed, notCounted } = await applyRetention(
        path.dirname(c.setDir!),
        c.o.profile.id,
        retentionPolicy(c.o),
        c.setDir!,
        // Through the device folder this job holds: what is judged and deleted is in it, whatever its path names now.
        { stateDir: c.journal.stateDir, ...(c.deviceFolder !== null ? { deviceFolder: c.deviceFolder } : {}) },
      );
      c.removedOld = removed;
      const kept =
        notCounted.length === 0
          ? ''
          : ` Kept: ${notCounted.map((r) => `${path.basename(r.dir)} (${r.reason})`).join(', ')}; retention counts and removes only the backups this machine recorded writing (a set's date is only what its manifest says), so these never push out another backup and are never removed by it.`;
      if (notCounted.length > 0) c.warn(`Retention${kept.replace(' Kept:', ' kept without counting them:')}`);
      return (
        (removed.length === 0
          ? 'Nothing to remove.'
          : `Removed ${removed.length}: ${removed.map((r) => `${path.basename(r.dir)} (${r.reason})`).join(', ')}.`) +
        kept
      );
    },
  },
];

/**
 * What cancelling does now, in the same terms as cleanupAfterFailure: the set is removed unless its manifest is
 * written, and the service is started again only if this job stopped it, did not start it yet, and was not told
 * to leave it stopped.
 */
function cancelWords(c: Ctx): string {
  const complete = c.journal.j.phase === 'verified' || c.journal.j.phase === 'started';
  const service = WILL_BECOME[serviceFate(c)];
  return (
    (complete
      ? `The backup is complete and stays on the stick, and ${service}. Old backups are not removed.`
      : `The backup stops, the unfinished backup is removed from the stick, and ${service}. Earlier backups are not touched.`) +
    stays(c)
  );
}

/** The product's own steps that a cancel cannot undo (e.g. a backup the product made of itself), in words; or ''. */
function keptForGood(c: Ctx): string {
  const kept = doneForGood(c.product);
  return kept.length === 0
    ? ''
    : `what ${kept.map((s) => `"${s.title}"`).join(' and ')} did stays (nothing undoes it).`;
}

/** --keep applies to the backup's own class; `retention` says more. */
function retentionPolicy(o: BackupOptions): RetentionPolicy {
  const p: RetentionPolicy = { ...o.retention };
  if (o.keep !== undefined) {
    if ((o.backupClass ?? 'manual') === 'manual') p.keepManual ??= o.keep;
    else p.keepAutomatic ??= o.keep;
  }
  return p;
}

function describePolicy(p: RetentionPolicy): string {
  const parts: string[] = [];
  if (p.keepManual !== undefined) parts.push(`keep the ${p.keepManual} newest manual backups`);
  if (p.keepAutomatic !== undefined) parts.push(`keep the ${p.keepAutomatic} newest automatic backups`);
  if (p.maxAgeAutomaticMs !== undefined)
    parts.push(`delete automatic backups older than ${Math.floor(p.maxAgeAutomaticMs / 86_400_000)} days`);
  return parts.length > 0 ? parts.join('; ') : 'keep everything';
}

/** The runbook's own steps with the profile's steps at their points. */
export function backupSteps(profile: Profile): RunbookDef<Ctx>['steps'] {
  const at = (point: Parameters<typeof productRunbookSteps>[1]) =>
    productRunbookSteps<Ctx>(profile, point, (c) => c.product);
  const own = (id: string) => builtinSteps.find((x) => x.id === id)!;
  return [
    own('prechecks'),
    own('version'),
    ...at('backup.before-stop'),
    own('stop-service'),
    own('open-files'),
    ...at('backup.after-stop'),
    own('archive'),
    ...at('backup.archive'),
    own('verify'),
    ...at('backup.before-start'),
    own('start-service'),
    ...at('backup.after-start'),
    own('retention'),
  ];
}

async function waitHealthy(api: ApplianceClient, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  const until = Date.now() + timeoutMs;
  let last = { ok: false, detail: 'no answer' };
  while (Date.now() < until) {
    last = await api.health().catch((e: unknown) => ({ ok: false, detail: toRecoveryError(e).message }));
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

/**
 * What the profile asks the product besides its version: the minimum version it backs itself up from, its own
 * device id (the backup is filed under it), and its facts (recorded for the restore to compare).
 */
async function productFacts(c: Ctx): Promise<string> {
  const p = c.o.profile;
  const words: string[] = [];
  const min = p.version.minimum;
  if (min !== undefined && c.productVersion !== null && compareVersions(c.productVersion, min) < 0) {
    throw new RecoveryError(
      'VERSION_MISMATCH',
      `${p.productName} ${c.productVersion} cannot back itself up: its backups exist from version ${min} on.`,
      { hint: `Update ${p.productName} to ${min} or later, then back up again. Nothing was changed.` },
    );
  }
  if (p.api?.deviceId && c.o.deviceId === undefined) {
    const id = await c.api!.value(p.api.deviceId.endpoint, p.api.deviceId.pointer);
    if (id === null) {
      throw new RecoveryError(
        'PRECHECK_FAILED',
        `${p.productName} did not say its device id (${p.api.deviceId.endpoint} ${p.api.deviceId.pointer}).`,
        { hint: 'The backup is kept per device id: check the product answers, then back up again.' },
      );
    }
    c.device.id = safeDeviceId(id);
    c.product.device = c.device.id;
    words.push(`Its device id is ${c.device.id}: the backup is filed under it.`);
  }
  for (const f of p.facts) {
    const v = await c.api!.value(f.endpoint, f.pointer);
    c.facts[f.id] = v;
    words.push(`${f.title}: ${v ?? 'not set'}.`);
  }
  return words.length > 0 ? ` ${words.join(' ')}` : '';
}

function artifactSums(c: Ctx): { name: string; sha256: string }[] {
  return c.artifacts.map((a) => ({ name: a.path, sha256: a.sha256 }));
}

function buildManifest(c: Ctx, a: ArchiveResult): BackupManifest {
  const own = c.o.profile.ownership;
  const port = c.o.profile.api ? apiWithPort(c.o.profile.api, { root: c.o.root ?? null }).port : null;
  return {
    ...(port !== null ? { apiPort: port } : {}),
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    profile: { id: c.o.profile.id, productName: c.o.profile.productName, platform: c.o.profile.platform },
    productVersion: c.productVersion,
    deviceId: c.device.id,
    hostname: c.device.hostname,
    createdAt: (c.o.now ?? new Date()).toISOString(),
    class: c.o.backupClass ?? 'manual',
    items: c.items.map((i) => {
      const s = c.sizes.get(i.id)!;
      // The profile's own path (not the --root one): it is where the data lives on an appliance.
      const declared = i.declaredPath;
      const link = c.links.get(i.id);
      return {
        id: i.id,
        path: declared,
        files: s.files,
        contentBytes: s.bytes,
        ...(link !== undefined ? { linkedTo: i.path } : {}),
      };
    }),
    owner: own ? { user: own.user, group: own.group } : null,
    ownersSeen: a.owners,
    files: a.files,
    dirs: a.dirs,
    symlinks: a.symlinks,
    contentBytes: a.contentBytes,
    archive: {
      compression: 'gzip',
      encryption: a.encrypted ? 'age-scrypt' : null,
      innerManifest: INNER_MANIFEST_PATH,
      parts: a.parts,
      ...(a.gzipMembers.length > 0 ? { gzipMembers: a.gzipMembers } : {}),
    },
    skipped: a.skipped,
    artifacts: c.artifacts,
    ...(Object.keys(c.facts).length > 0 ? { facts: c.facts } : {}),
  };
}

/**
 * The backup runbook: prechecks → version → stop service → open files → archive → verify → start again →
 * retention. On failure the service is started again (if we stopped it) and the unfinished set is removed.
 */
export async function runBackup(o: BackupOptions, io: RunbookIO): Promise<BackupResult> {
  checkLabel(o);
  // The same rule for the wizard, the CLI (its prompt and --passphrase-file) and a schedule: before anything runs.
  const weak = o.passphrase !== undefined && o.passphrase !== '' ? newPassphraseProblem(o.passphrase) : null;
  if (weak !== null) {
    throw new RecoveryError('BAD_INPUT', `This passphrase is too short to protect the backup. Nothing was written.`, {
      hint: weak,
    });
  }
  checkItemChoices(o);
  await checkBackupTarget(o.to);
  const stateDir = defaultStateDir(o.stateDir);
  refuseRealProductInPractice(stateDir, o.profile, () =>
    resolveItems(o.profile, {
      ...(o.root === undefined ? {} : { root: o.root }),
      ...(o.folders === undefined ? {} : { folders: o.folders }),
      here: process.platform,
    }).map((i) => i.path),
  );
  return withJobLock(stateDir, { command: 'backup' }, async () => {
    await recoverInterruptedBackup({ stateDir }, io);
    const journal = await BackupJournalStore.create(stateDir, o.profile, o.leaveStopped === true);
    return backupHoldingLock(o, io, journal, stateDir);
  });
}

/** Where the backup goes must be a folder (or not exist yet): not a pipe, a device or a file (exit 2). */
export async function checkBackupTarget(to: string): Promise<void> {
  await refuseSpecialPath(to, 'a stick or folder to write the backup to', STICK_HINT, { folderOnly: true });
}

/**
 * `--include`/`--exclude` name folders of the profile (an item's id, or one of its `*` expansions, `<id>.<name>`). A
 * mistyped one (`--include Log`) was ignored: the backup ran without the folder the technician asked for, and
 * said nothing. Refused before anything runs, naming the profile's optional folders.
 */
export function checkItemChoices(o: Pick<BackupOptions, 'profile' | 'include' | 'exclude'>): void {
  const known = new Set(o.profile.items.flatMap((i) => [i.id, i.id.split('.')[0]!]));
  const optional = o.profile.items.filter((i) => !i.required).map((i) => i.id);
  for (const [option, ids] of [
    ['--include', o.include],
    ['--exclude', o.exclude],
  ] as const) {
    const unknown = (ids ?? []).filter((id) => !known.has(id) && !known.has(id.split('.')[0]!));
    if (unknown.length === 0) continue;
    throw new RecoveryError(
      'BAD_INPUT',
      `The profile "${o.profile.id}" has no folder ${unknown.map((id) => `"${id}"`).join(', ')} (${option}). Nothing was changed.`,
      {
        hint:
          optional.length > 0
            ? `Its optional folders: ${optional.join(', ')} (names as written, upper and lower case).`
            : 'This profile has no optional folders: run the backup without it.',
      },
    );
  }
}

/** The technician's name for the backup, against the product's rules for it (before anything runs). */
export function checkLabel(o: Pick<BackupOptions, 'profile' | 'label'>): void {
  const rule = o.profile.label;
  if (o.label === undefined) return;
  const ok =
    rule !== undefined
      ? o.label.length <= MATCH_TEXT_MAX && new RegExp(rule.pattern).test(o.label)
      : /^[^\0\n\r]{1,200}$/.test(o.label);
  if (!ok) {
    throw new RecoveryError('BAD_INPUT', `"${o.label}" is not a valid name for a ${o.profile.productName} backup.`, {
      hint: `${rule?.message ?? 'Give a name of one line (at most 200 characters).'} Nothing was changed.`,
    });
  }
}

async function backupHoldingLock(
  o: BackupOptions,
  io: RunbookIO,
  journal: BackupJournalStore,
  stateDir: string,
): Promise<BackupResult> {
  const startedAt = new Date().toISOString();
  const times = new Map<string, { startedAt?: string; finishedAt?: string }>();
  const local = o.deviceId === undefined ? await localDeviceId() : { id: o.deviceId, hostname: os.hostname() };
  const service = serviceFor(o.profile.service, {
    confirm: (message) => io.interaction.confirm({ stepId: 'stop-service', title: 'Service', message, action: 'Done' }),
  });
  const c: Ctx = {
    o,
    journal,
    links: new Map(),
    ageKey: null,
    items: selectItems(
      resolveItems(o.profile, {
        ...(o.root === undefined ? {} : { root: o.root }),
        ...(o.folders === undefined ? {} : { folders: o.folders }),
        here: process.platform,
      }),
      o,
    ),
    sizes: new Map(),
    service,
    api: applianceClientFor(o.profile, { root: o.root ?? null, service }),
    before: null,
    stoppedByUs: false,
    startedAgain: false,
    productVersion: null,
    device: { id: safeDeviceId(local.id), hostname: local.hostname },
    splitSize: undefined,
    setDir: null,
    deviceFolder: null,
    set: null,
    archive: null,
    manifest: null,
    removedOld: [],
    warnings: [],
    warn(message) {
      this.warnings.push(message);
      io.emit({ type: 'log', level: 'warn', message });
    },
    product: undefined as unknown as ProductHost,
    artifacts: [],
    facts: {},
  };
  c.product = {
    profile: o.profile,
    root: o.root === undefined ? null : path.resolve(o.root),
    label: o.label ?? backupStamp(o.now ?? new Date()),
    device: c.device.id,
    passphrase: undefined,
    signal: io.signal,
    state: emptyProductState(),
    save: () => Promise.resolve(),
    setFolder: () => {
      if (c.set === null) throw new RecoveryError('INTERNAL', 'The backup folder does not exist yet.');
      return c.set;
    },
    addArtifact: (r) => c.artifacts.push(r),
  };
  const def: RunbookDef<Ctx> = {
    kind: 'backup',
    title: `Back up ${o.profile.productName}`,
    steps: backupSteps(o.profile),
    cancel: (x) => {
      const first = o.profile.stopService.includes('backup')
        ? 'The backup stops before the service is stopped.'
        : 'The backup stops.';
      const kept = keptForGood(x);
      return kept === ''
        ? `${first} Nothing on this machine or the stick changes.`
        : `${first} Nothing else on this machine or the stick changes: ${kept}`;
    },
  };
  try {
    return await runHeld(def, c, o, io, journal, stateDir, startedAt, times);
  } finally {
    await c.set?.close();
    await c.deviceFolder?.close();
  }
}

async function runHeld(
  def: RunbookDef<Ctx>,
  c: Ctx,
  o: BackupOptions,
  io: RunbookIO,
  journal: BackupJournalStore,
  stateDir: string,
  startedAt: string,
  times: Map<string, { startedAt?: string; finishedAt?: string }>,
): Promise<BackupResult> {
  let steps: StepInfo[];
  try {
    steps = await executeRunbook(def, c, io, {
      async beforeStep(id) {
        times.set(id, { startedAt: new Date().toISOString() });
      },
      async afterStep(info) {
        times.set(info.id, { ...times.get(info.id), finishedAt: new Date().toISOString() });
      },
    });
  } catch (e) {
    releaseAgeKey(c.ageKey);
    let err = splitPartTooLarge(toRecoveryError(e, c.setDir ?? o.to), c.splitSize);
    const after = await cleanupAfterFailure(c, io);
    if (after.serviceBack) await journal.close();
    // A cancel that lands once manifest.json is written ends a complete, checked backup: say so, not only "cancelled".
    if (err.code === 'CANCELLED')
      err = after.setKept
        ? cancelledWhenComplete(c, after.serviceBack)
        : cancelledBefore(c, after.serviceBack, after.setLeft);
    io.emit({ type: 'finished', ok: false, error: err.toJSON() });
    throw err;
  }
  releaseAgeKey(c.ageKey);
  await removeWork(c.product).catch(() => undefined);
  await journal.close();
  // The backup is verified and the service runs again: the report comes last, and never fails the backup.
  const report = await writeBackupReport(
    {
      manifest: c.manifest!,
      setDir: c.setDir!,
      ...(c.deviceFolder !== null ? { deviceFolder: c.deviceFolder } : {}),
      stateDir,
      steps,
      times,
      startedAt,
      warnings: [...c.warnings],
      removedOld: c.removedOld.map((r) => r.dir),
      ...(o.ticket ? { ticket: o.ticket } : {}),
    },
    (w) => c.warn(w),
  );
  const result: BackupResult = {
    setDir: c.setDir!,
    manifest: c.manifest!,
    removedOld: c.removedOld.map((r) => r.dir),
    removed: c.removedOld,
    warnings: c.warnings,
    reports: report.written,
    saved: report.saved,
  };
  io.emit({
    type: 'finished',
    ok: true,
    result: {
      kind: 'backup',
      setDir: result.setDir,
      removedOld: result.removedOld,
      warnings: c.warnings,
      reports: report.written,
      saved: report.saved,
    },
  });
  return result;
}

/**
 * Puts things back after a failed backup. serviceBack is false when the service could not be started again (the
 * journal stays); setKept is true when the set was complete (manifest.json written), so it stays on the medium;
 * setLeft when an unfinished set could not be removed.
 */
async function cleanupAfterFailure(
  c: Ctx,
  io: RunbookIO,
): Promise<{ serviceBack: boolean; setKept: boolean; setLeft: boolean }> {
  const log = (message: string, level: 'info' | 'warn' = 'info') => io.emit({ type: 'log', level, message });
  for (const line of await undoProductSteps(c.product, log)) log(line);
  await removeWork(c.product).catch(() => undefined);
  // The set this job made is the folder it holds, wherever another account may have moved it by now.
  const manifestWritten = c.set !== null && (await c.set.lstat(MANIFEST_NAME).catch(() => null)) !== null;
  let setLeft = false;
  if (c.setDir !== null && !manifestWritten) {
    // On a stick other accounts may write to: by descriptor, never following a link swapped in meanwhile. What
    // is emptied is the held folder; its name is removed only while it still names that folder.
    try {
      // Only a folder this job made and holds: when it has none (its mkdir failed, or the folder it made was swapped
      // before it was opened), whatever bears the set's name is not its to delete. An account that may write the
      // device folder can give that name to another set (root's previous backup) between the choice of the name and
      // the mkdir, which then fails. Nothing is removed; the record of the start is dropped.
      if (c.set !== null) {
        const name = path.basename(c.setDir);
        removeHeldTree(c.deviceFolder !== null ? c.deviceFolder.at(name) : c.setDir, c.set.fh.fd);
      }
      await forgetSets(c.journal.stateDir, [c.setDir], c.o.profile.id).catch(() => undefined);
    } catch {
      setLeft = true;
      io.emit({
        type: 'log',
        level: 'warn',
        message: `Could not remove the unfinished backup ${c.setDir}; delete it by hand.`,
      });
    }
  }
  if (c.stoppedByUs && !c.startedAgain && !c.o.leaveStopped) {
    try {
      await c.service.start();
      await c.service.waitFor('running', c.o.profile.service.startTimeoutSeconds * 1000);
      io.emit({
        type: 'log',
        level: 'info',
        message: byHand(c)
          ? 'The service was started again by hand (confirmed by the technician).'
          : 'The service was started again after the failure.',
      });
    } catch (e) {
      io.emit({
        type: 'log',
        level: 'warn',
        message: `The service could not be started again: ${toRecoveryError(e).message.replace(/\.$/, '')}. Start it by hand.`,
      });
      return { serviceBack: false, setKept: c.setDir !== null && manifestWritten, setLeft };
    }
  }
  return { serviceBack: true, setKept: c.setDir !== null && manifestWritten, setLeft };
}

/** The product's own steps a cancel does not undo, as a sentence with a leading space, or ''. */
function stays(c: Ctx): string {
  const kept = keptForGood(c);
  return kept === '' ? '' : ` ${kept[0]!.toUpperCase()}${kept.slice(1)}`;
}

/**
 * What becomes of the service when a backup is cancelled: one decision, said before the clean-up (cancelWords,
 * WILL_BECOME) and after it (the cancelled messages, BECAME). Only this job's own stop is undone, unless it was
 * told to leave the service stopped; `serviceBack` is false when the clean-up could not start it again.
 */
type ServiceFate =
  | 'runs-again'
  | 'left-stopped'
  | 'by-hand'
  | 'started'
  | 'not-started'
  | 'not-stopped'
  | 'checking'
  | 'checking-left-stopped'
  | 'was-stopped';

function serviceFate(c: Ctx, serviceBack = true): ServiceFate {
  if (c.stoppedByUs) {
    if (c.startedAgain) return 'runs-again';
    if (c.o.leaveStopped) return 'left-stopped';
    if (!serviceBack) return 'not-started';
    return byHand(c) ? 'by-hand' : 'started';
  }
  if (!c.o.profile.stopService.includes('backup')) return 'not-stopped';
  // The stop step is about to look: it stops (and later starts) the service only if it runs.
  if (c.before === null) return c.o.leaveStopped ? 'checking-left-stopped' : 'checking';
  return 'was-stopped';
}

/** Before the clean-up, a clause: "…, and <what happens to the service>." */
const WILL_BECOME: Record<ServiceFate, string> = {
  'runs-again': 'the service runs again',
  'left-stopped': 'the service stays stopped, as asked (--leave-stopped)',
  'by-hand': 'you are asked to start the service again',
  started: 'the service is started again',
  'not-started': 'the service cannot be started again: start it by hand',
  'not-stopped': 'the service was not stopped',
  checking: 'the service is started again if it was running',
  'checking-left-stopped': 'the service stays stopped (--leave-stopped)',
  'was-stopped': 'the service was already stopped before the backup and stays stopped',
};

/** After it, a sentence with a leading space ('' when this job never stopped the service). */
const BECAME: Record<ServiceFate, string> = {
  'runs-again': ' The service runs again.',
  'left-stopped': ' The service stays stopped, as asked (--leave-stopped).',
  'by-hand': ' The service was started again by hand.',
  started: ' The service was started again.',
  'not-started': ' The service could not be started again: start it by hand.',
  'not-stopped': '',
  checking: '',
  'checking-left-stopped': '',
  'was-stopped': '',
};

function serviceAfterCancel(c: Ctx, serviceBack: boolean): string {
  return BECAME[serviceFate(c, serviceBack)];
}

/** The CANCELLED a technician gets when the cancel came after the set was complete: what stays and what runs. */
function cancelledWhenComplete(c: Ctx, serviceBack: boolean): RecoveryError {
  return new RecoveryError(
    'CANCELLED',
    `Cancelled after the backup was complete: ${path.basename(c.setDir!)} is on the stick, checked, and stays.${serviceAfterCancel(c, serviceBack)} Old backups were not removed.${stays(c)}`,
    { details: { setDir: c.setDir } },
  );
}

/**
 * The CANCELLED of a backup cancelled before its set was complete: what cleanupAfterFailure did (the screen's
 * checklist still shows "Start the service again" as not done, so the message says what became of the service).
 */
function cancelledBefore(c: Ctx, serviceBack: boolean, setLeft: boolean): RecoveryError {
  const set =
    c.setDir === null
      ? 'Nothing was written to the stick.'
      : setLeft
        ? `The unfinished backup ${c.setDir} could not be removed: delete it by hand.`
        : 'The unfinished backup was removed from the stick.';
  return new RecoveryError(
    'CANCELLED',
    `Cancelled by the technician. ${set}${serviceAfterCancel(c, serviceBack)} Earlier backups were not touched.${stays(c)}`,
    { details: c.setDir === null ? {} : { setDir: c.setDir } },
  );
}

function byHand(c: Ctx): boolean {
  return c.o.profile.service.manager === 'none';
}

/**
 * Makes the set folder `name` (just found free) in the held `parent` and returns it held open (the caller syncs
 * `parent` once it holds the set, so that its clean-up can empty it if that fails).
 * EEXIST is UNSAFE_PATH: another account that may write `parent` put something there meanwhile, which is left alone.
 * A backup and an adoption (hand-made.ts) make their sets so.
 */
export async function makeSetFolder(parent: SafeDir, name: string, setDir: string, mode?: number): Promise<SafeDir> {
  await fsp.mkdir(parent.at(name), mode === undefined ? {} : { mode }).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    throw new RecoveryError(
      'UNSAFE_PATH',
      `${setDir} appeared while the backup was about to make it: another account can write to ${parent.dir}. Nothing was written there, and what is there was left alone.`,
      {
        hint: 'Use a stick only you can write to (or format it), then start again.',
        details: { path: setDir },
      },
    );
  });
  return SafeDir.open(parent.at(name), setDir);
}

/**
 * The set folder's path on the stick must still name the folder this job holds (and the archive's parts must be
 * in it): an account that may write the device folder can rename the set away and put a link or a folder of its
 * own by its name. Then nothing more is written for it, and the clean-up empties the held folder. A backup and an
 * adoption (hand-made.ts) ask the same.
 */
export async function refuseMovedSet(
  set: SafeDir,
  setDir: string,
  parts: readonly { name: string; size: number }[],
): Promise<void> {
  // Windows keeps the paths (SafeDir.at is the path there): only the parts are looked for.
  let inPlace = process.platform === 'win32' || (await set.isAt(setDir));
  for (const p of parts) {
    if (!inPlace) break;
    const st = await set.lstat(p.name);
    inPlace = st !== null && st.isFile() && st.size === p.size;
  }
  if (!inPlace) {
    throw new RecoveryError(
      'UNSAFE_PATH',
      `The backup folder ${setDir} was replaced (by a link or another folder) while it was being written: the backup is not complete.`,
      {
        hint: 'Another account can write to the folders on this stick. Use a stick only you can write to (or format it), then start again.',
        details: { path: setDir },
      },
    );
  }
}

/** Files that changed while they were read (size, mtime or ctime): a warning naming them, or a failure with --strict. */
function reportChangedFiles(c: Ctx, a: ArchiveResult): void {
  const changed = a.changed ?? [];
  if (changed.length === 0) return;
  const shown = changed
    .slice(0, 10)
    .map((x) => `${x.path} (${x.detail})`)
    .join(', ');
  const more = changed.length > 10 ? ` and ${changed.length - 10} more` : '';
  const text = `${countOf(changed.length, 'file')} changed while they were being backed up: ${shown}${more}. Their copy in the backup may be inconsistent.`;
  if (c.o.strict === true) {
    throw new RecoveryError('FILES_IN_USE', text, {
      hint: `Stop ${c.o.profile.productName} (and anything else writing there) and back up again. The unfinished backup is removed.`,
      details: { changed: changed.slice(0, 100) },
    });
  }
  c.warn(
    `${text} Stop ${c.o.profile.productName} completely and back up again, or use --strict to make this an error.`,
  );
}
