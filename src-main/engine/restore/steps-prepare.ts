import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { verifyArchive } from '../archive/index.js';
import { checkParts } from '../archive/read-pipeline.js';
import { adoptIntoSet, describeMapping, UNVERIFIED_NOTE } from '../backup/hand-made.js';
import { MANIFEST_NAME, type BackupManifest } from '../backup/manifest.js';
import { apiWithPort, compareVersions } from '../appliance/client.js';
import { versionFromCommand } from '../appliance/installed-version.js';
import { checkVersion } from '../appliance/version-compare.js';
import { RecoveryError } from '../errors.js';
import { freeSpace } from '../media/filesystem.js';
import { localDeviceId } from '../media/device-id.js';
import { countOf, formatBytes, type ProgressSink } from '../progress.js';
import { builtinProfileIds } from '../profiles/builtin-sources.js';
import { resolveItemPath } from '../profiles/load.js';
import { exists } from '../util/atomic-fs.js';
import { readGivenFile } from '../util/given-path.js';
import type { Step } from '../runbook/runner.js';
import { checkManifestIntegrity } from '../backup/manifest-integrity.js';
import { readBackupSet } from '../backup/manifest.js';
import { needAgeKey, needManifest, type RestoreCtx } from './context.js';
import { crashPoint } from './crash-point.js';
import { screenEntries } from './entry-screen.js';
import { manifestLimits } from '../backup/verify-backup.js';
import { ownerIds } from './repair-ownership.js';
import { verifyArtifacts } from '../runbook/product/artifacts.js';
import { boundText } from '../profiles/safe-pattern.js';

/** What a version read from a file may look like: "1.1.1.46", "5.3.2-rc1", "2024.1+build7" (at most 64 characters). */
const VERSION_SHAPE = /^v?\d[0-9A-Za-z.+~_-]{0,63}$/;

/** Whether the file is readable by every account (the mode's "others" read bit), as a version file is. */
async function everyoneCanRead(file: string): Promise<boolean> {
  if (process.platform === 'win32') return true;
  return ((await fsp.stat(file)).mode & 0o004) !== 0;
}

/** The installed version: the API first, then the profile's version file, else null. */
async function installedVersion(c: RestoreCtx): Promise<{ version: string | null; from: string }> {
  if (c.api !== null) {
    try {
      return { version: await c.api.productVersion(), from: 'the product API' };
    } catch {
      // The product may be installed but stopped: the version file still tells.
    }
  }
  const vc = c.profile.version.command;
  if (vc !== undefined) {
    const r = await versionFromCommand(vc);
    if (r.version !== null) return r;
  }
  const vf = c.profile.version.file;
  if (vf !== undefined) {
    const file = resolveItemPath(vf.path, c.store.j.root === null ? {} : { root: c.store.j.root });
    try {
      // What it says is shown, journaled and written into the report on the stick: only a file any account may read
      // (a profile from a stick naming /etc/shadow had its text taken for the version), and only a version.
      if (!(await everyoneCanRead(file))) {
        return { version: null, from: `${file} (readable only by some accounts, so not read)` };
      }
      // Never waits on a FIFO nor reads a device in its place; a version file is small.
      const text = (await readGivenFile(file, { what: 'the version file', max: 1024 * 1024 })).toString('utf8');
      const m = vf.pattern ? new RegExp(vf.pattern, 'm').exec(boundText(text)) : null;
      const v = vf.pattern ? (m?.[1] ?? m?.[0] ?? null) : text.trim();
      return { version: v !== null && VERSION_SHAPE.test(v) ? v : null, from: file };
    } catch {
      return { version: null, from: file };
    }
  }
  // Said as what was tried: "asked nowhere" when the API was asked and did not answer (a stopped product).
  return {
    version: null,
    from:
      c.api !== null
        ? 'the product API, which did not answer'
        : 'nowhere: the profile names no API, version command or file',
  };
}

/** What the copy of a hand-made archive leaves free on the state folder's disk, at least. */
const KEEP_FREE = 16 * 1024 * 1024;

/**
 * A hand-made archive: read it through into a set of this restore's own (journal folder, root-only), unless
 * an earlier run finished that already (its manifest is written last). Only the folders found are restored.
 */
async function readHandMadeSource(
  c: RestoreCtx,
  hm: NonNullable<RestoreCtx['store']['j']['handMade']>,
  progress: ProgressSink,
): Promise<string> {
  const j = c.store.j;
  if (!(await exists(path.join(j.backup, MANIFEST_NAME))) || hm.source === undefined) {
    await fsp.rm(j.backup, { recursive: true, force: true });
    await fsp.mkdir(path.dirname(j.backup), { recursive: true, mode: 0o700 });
    // The copy goes to the state folder (usually the system disk, often the product's too) while the product
    // runs: room for it is checked first, as for the staging copies. Recompressed, it may come out somewhat
    // larger than the archive (a faster gzip level than the archive's): a quarter more, plus a margin.
    const size = (await fsp.stat(hm.file)).size;
    const need = Math.ceil(size * 1.25) + KEEP_FREE;
    const { freeBytes } = await freeSpace(path.dirname(j.backup));
    if (freeBytes < need) {
      throw new RecoveryError(
        'NOT_ENOUGH_SPACE',
        `There is ${formatBytes(freeBytes)} free in ${path.dirname(j.backup)}; the checked copy of the hand-made archive needs about ${formatBytes(need)}.`,
        {
          hint: 'Free some space there, or run the restore with --state-dir on a disk with room (not the stick). Nothing was changed.',
        },
      );
    }
    const r = await adoptIntoSet(
      hm.file,
      c.profile,
      j.backup,
      { onProgress: progress, signal: c.signal },
      {
        id: 'hand-made',
        hostname: '',
      },
      undefined,
      // The quarter is a guess: an archive packed harder than our level 1 (zip -9 of zero-filled files comes out 4.5
      // times larger, a hostile one likewise) would otherwise fill the disk under the running product. The copy
      // stops while this much is still free.
      KEEP_FREE,
    );
    await r.set.close();
    c.manifest = r.manifest;
    hm.source = r.manifest.source!;
    hm.mapping = describeMapping(r.result, c.profile);
    const found = new Set(r.manifest.items.map((i) => i.id));
    j.items = j.items.filter((i) => found.has(i.id));
    if (!j.warnings.includes(UNVERIFIED_NOTE)) j.warnings.push(UNVERIFIED_NOTE);
    await c.store.save('hand-made-read');
  }
  return `${UNVERIFIED_NOTE} ${hm.mapping ?? ''} `;
}

export const verifyStep: Step<RestoreCtx> = {
  id: 'verify',
  title: 'Check the backup',
  explain: (c) =>
    c.store.j.handMade
      ? `${UNVERIFIED_NOTE} Read ${c.store.j.handMade.file} completely, judge every entry as for our own backups, find the profile's folders by name and copy them, with a checksum for every file, into ${c.store.j.backup}; then read that copy back. Nothing on this machine changes.`
      : `Check the backup at ${c.store.j.backup}: manifest.json against SHA256SUMS${c.store.j.options.encrypted ? ' and its passphrase-keyed code (the passphrase is tried now)' : ''}, and every data part present with its recorded size. Every part's and every file's hash is checked while unpacking (next steps, with the service still running), before anything in use is touched. Nothing on this machine changes.`,
  async run(c, s) {
    const hm = c.store.j.handMade;
    let handMadeSummary = '';
    if (hm) handMadeSummary = await readHandMadeSource(c, hm, s.progress);
    const m = await needManifest(c);
    if (m.archive.encryption !== null && (c.passphrase === undefined || c.passphrase === '')) {
      throw new RecoveryError(
        'PASSPHRASE_REQUIRED',
        'This backup is encrypted: the passphrase is needed to check and restore it.',
        {
          hint: 'Give the passphrase that was used for the backup (--passphrase-file, or type it when asked).',
          ui: { hint: 'Type the passphrase that was used for the backup.' },
        },
      );
    }
    // manifest.json decides the compatibility checks: it must be the one written with this backup.
    const set = await readBackupSet(c.store.j.backup);
    c.manifest = set.manifest;
    const key = await needAgeKey(c);
    const authentic = await checkManifestIntegrity(set, key);
    const itemIds = c.store.j.items.map((i) => i.id);
    let read: string;
    if (hm) {
      // A hand-made archive was copied into a set of our own just now: read that copy back as `verify` does.
      await fsp.mkdir(path.dirname(c.store.j.innerManifestFile), { recursive: true, mode: 0o700 });
      const r = await verifyArchive(
        c.store.j.backup,
        {
          parts: set.manifest.archive.parts,
          ...(key !== null ? { ageKey: key } : {}),
          manifestOut: c.store.j.innerManifestFile,
          screen: { itemIds },
          limits: manifestLimits(m),
        },
        { onProgress: s.progress, signal: c.signal },
      );
      countsMatch(r, m);
      const entries = await screenEntries(c.store.j.innerManifestFile, new Set(itemIds));
      read = `${r.files === 1 ? 'The 1 file' : `All ${r.files} files`} (${formatBytes(r.contentBytes)}) read back and ${r.files === 1 ? 'matches its hash' : 'match their hashes'}; ${entries === 1 ? 'the 1 entry stays inside its folder' : `all ${entries} entries stay inside their folders`};`;
    } else {
      // Every byte is read once, by the extraction (with the service still running): here only what tells a
      // wrong or incomplete set before anything starts. A stick is read once instead of twice.
      checkParts(c.store.j.backup, m.archive.parts);
      manifestLimits(m); // refuses a manifest declaring more folders and links than the extraction can hold
      const bytes = m.archive.parts.reduce((a, p) => a + p.size, 0);
      const n = m.archive.parts.length;
      read = `${n === 1 ? 'The data part is' : `All ${n} data parts are`} there with ${n === 1 ? 'its' : 'their'} recorded size${n === 1 ? '' : 's'} (${formatBytes(bytes)}); ${countOf(m.files, 'file')} (${formatBytes(m.contentBytes)}) to unpack and check;`;
    }
    // What the manifest declares; the extraction stops at these totals and reports what it measured.
    c.store.j.facts.files = m.files;
    c.store.j.facts.contentBytes = m.contentBytes;
    c.store.j.facts.itemBytes = Object.fromEntries(
      itemIds.map((id) => [id, m.items.find((i) => i.id === id)?.contentBytes ?? 0]),
    );
    let own = '';
    if (m.artifacts.length > 0) {
      const a = await verifyArtifacts(c.store.j.backup, m.artifacts, {
        ...(c.passphrase ? { passphrase: c.passphrase } : {}),
        onProgress: s.progress,
        ...(c.signal ? { signal: c.signal } : {}),
      });
      own = ` The product's own ${countOf(a.files, 'file')} match their checksums${a.decrypted > 0 ? ` (${a.decrypted} decrypted and read through)` : ''}.`;
    }
    crashPoint('verify:done');
    return `${handMadeSummary}${read} ${authentic}${own}`;
  },
};

/** The archive holds what manifest.json says it holds (files and bytes), or BACKUP_CORRUPT. */
export function countsMatch(r: { files: number; contentBytes: number }, m: BackupManifest): void {
  if (r.files !== m.files || r.contentBytes !== m.contentBytes) {
    throw new RecoveryError(
      'BACKUP_CORRUPT',
      `The archive holds ${r.files} files (${formatBytes(r.contentBytes)}) but manifest.json says ${m.files} (${formatBytes(m.contentBytes)}).`,
      { hint: 'The backup was changed after it was written. Use another copy.' },
    );
  }
}

export const compatibilityStep: Step<RestoreCtx> = {
  id: 'compatibility',
  title: 'Check the backup fits this machine',
  explain: (c) =>
    `Compare the backup's profile, product version and device with this machine (${c.profile.productName}, version policy "${c.profile.version.policy}"). Nothing changes.`,
  async run(c) {
    const m = await needManifest(c);
    const j = c.store.j;
    j.backupFacts = {
      profileId: m.profile.id,
      deviceId: m.deviceId,
      hostname: m.hostname,
      productVersion: m.productVersion,
      createdAt: m.createdAt,
    };
    if (m.profile.id !== c.profile.id) {
      throw new RecoveryError(
        'PROFILE_MISMATCH',
        `The backup was made with the profile "${m.profile.id}", but this restore uses "${c.profile.id}".`,
        {
          hint: `Restore it with ${await profileToGive(m.profile.id, j.backup)}, or pick a backup made with "${c.profile.id}". Nothing was changed.`,
        },
      );
    }
    const inBackup = new Set(m.items.map((i) => i.id));
    const missing = c.profile.items.filter((i) => i.required && !inBackup.has(i.id)).map((i) => i.id);
    if (missing.length > 0) {
      throw new RecoveryError(
        'PROFILE_MISMATCH',
        `The backup lacks the ${missing.length === 1 ? 'folder' : 'folders'} ${missing.join(', ')} that the profile "${c.profile.id}" requires.`,
        {
          hint: 'Pick a complete backup of this product.',
        },
      );
    }
    const lines: string[] = [];
    const inst = await installedVersion(c);
    j.facts.installedVersion = inst.version;
    if (m.productVersion === null || c.profile.version.policy === 'any') {
      lines.push(
        m.productVersion === null ? 'The backup records no product version.' : 'Any product version is accepted.',
      );
    } else if (inst.version === null) {
      if (!j.options.allowVersionMismatch) {
        throw new RecoveryError(
          'VERSION_MISMATCH',
          `Cannot tell which version of ${c.profile.productName} is installed (asked ${inst.from}); the backup was made on ${m.productVersion}.`,
          {
            hint: 'Start the product so its API answers, or, if you are sure the versions fit, run again with --allow-version-mismatch.',
            ui: { hint: 'Start the product so its API answers, then start the restore again.' },
          },
        );
      }
      lines.push(
        `Installed version unknown; accepted because --allow-version-mismatch was given (backup: ${m.productVersion}).`,
      );
    } else {
      const v = checkVersion(
        c.profile.version.policy,
        c.profile.version.significantParts,
        m.productVersion,
        inst.version,
      );
      if (!v.ok && !j.options.allowVersionMismatch) {
        throw new RecoveryError('VERSION_MISMATCH', v.reason, {
          hint: 'Install the matching version first, or, if you are sure, run again with --allow-version-mismatch.',
          ui: { hint: 'Install the version the backup was made with first, then start the restore again.' },
          details: { backupVersion: m.productVersion, installedVersion: inst.version },
        });
      }
      lines.push(v.ok ? v.reason : `${v.reason} Accepted because --allow-version-mismatch was given.`);
    }
    if (c.profile.api?.portFile) {
      const p = apiWithPort(c.profile.api, { root: j.root });
      lines.push(
        p.port === null
          ? `No API port in ${c.profile.api.portFile.path} here: using ${c.profile.api.baseUrl}.`
          : `The API listens on port ${p.port} here (from ${p.from})${m.apiPort !== undefined && m.apiPort !== p.port ? `; the old box used ${m.apiPort}` : ''}.`,
      );
    }
    const min = c.profile.version.minimum;
    if (min !== undefined && inst.version !== null && compareVersions(inst.version, min) < 0) {
      throw new RecoveryError(
        'VERSION_MISMATCH',
        `${c.profile.productName} ${inst.version} is installed here; its backups restore from version ${min} on.`,
        { hint: `Update ${c.profile.productName} to ${min} or later first. Nothing was changed.` },
      );
    }
    lines.push(...(await compareFacts(c, m)));
    const own = c.profile.api?.deviceId;
    const productId = own && c.api ? await c.api.value(own.endpoint, own.pointer).catch(() => null) : null;
    if (own && productId === null) {
      throw new RecoveryError(
        'PRECHECK_FAILED',
        `${c.profile.productName} did not say its device id (${own.endpoint}).`,
        {
          hint: 'The restore compares device ids (switch device): start the product so its API answers. Nothing was changed.',
        },
      );
    }
    const here = productId ?? c.tuning.deviceId ?? (await localDeviceId()).id;
    j.facts.thisDeviceId = here;
    if (m.source?.kind === 'hand-made') {
      lines.push('A hand-made archive records no device or product version: the technician vouches for it.');
    } else if (m.deviceId !== here) {
      if (!j.options.allowOtherDevice) {
        throw new RecoveryError(
          'OTHER_DEVICE',
          `The backup comes from the device ${m.deviceId} (${m.hostname}); this machine is ${here}.`,
          {
            hint: 'If this machine replaces that one, run again with --allow-other-device (in the wizard: "This machine replaces the old one").',
            ui: {
              hint: 'If this machine replaces that one, choose the backup again and switch on "This machine replaces the old one".',
            },
            details: { backupDevice: m.deviceId, thisDevice: here },
          },
        );
      }
      lines.push(
        own
          ? `Switch device: this ${c.profile.productName} has the device id ${here}; the technician chose the backup of the device ${m.deviceId} (${m.hostname}), which this one replaces.`
          : `The backup comes from ${m.deviceId} (${m.hostname}), this machine is ${here}: accepted as its replacement.`,
      );
    } else {
      lines.push('The backup was made on this device.');
    }
    return lines.join(' ');
  },
};

/** The profile's facts: what the backup recorded against what this product answers now. */
async function compareFacts(c: RestoreCtx, m: BackupManifest): Promise<string[]> {
  const lines: string[] = [];
  for (const f of c.profile.facts) {
    const then = m.facts?.[f.id] ?? null;
    if (f.rule === 'same-when-set' && then === null) {
      lines.push(`${f.title}: not set in the backup, so any is accepted.`);
      continue;
    }
    const ask = f.here ?? f;
    const now = c.api ? await c.api.value(ask.endpoint, ask.pointer).catch(() => null) : null;
    if (now !== then) {
      throw new RecoveryError(
        'PROFILE_MISMATCH',
        `${f.title}: the backup has ${then ?? 'none'}, this machine ${now ?? 'none'}.`,
        {
          hint: `${f.refuse} Nothing was changed.`,
          details: { fact: f.id, backup: then, here: now },
        },
      );
    }
    lines.push(`${f.title}: ${now ?? 'none'}, as in the backup.`);
  }
  return lines;
}

export const precheckStep: Step<RestoreCtx> = {
  id: 'prechecks',
  title: 'Pre-checks',
  explain: (c) => {
    const own = c.profile.ownership;
    return `Run the product's restore checks, confirm ${own ? `the owner ${own.user}:${own.group} exists and ` : ''}there is room beside each folder for the staging copy. Nothing changes.`;
  },
  async run(c, s) {
    const lines: string[] = [];
    for (const pc of c.profile.prechecks.filter((p) => p.when.includes('restore'))) {
      if (c.api === null) break;
      try {
        const r = await c.api.runPrecheck(pc);
        if (!r.ok) throw new RecoveryError('PRECHECK_FAILED', `${pc.title}: ${r.message}`, { hint: pc.failMessage });
        lines.push(`${pc.title}: ok.`);
      } catch (e) {
        // A stopped product answers nothing, and has nothing in progress either: a warning, not a refusal.
        if (!(e instanceof RecoveryError && e.code === 'APPLIANCE_UNREACHABLE')) throw e;
        const w = `Could not run the check "${pc.title}": the product's API does not answer (is it stopped?).`;
        c.store.j.warnings.push(w);
        s.log(w, 'warn');
        lines.push(w);
      }
    }
    if (c.profile.ownership && process.platform !== 'win32') {
      ownerIds(c.profile.ownership);
      lines.push(`Owner ${c.profile.ownership.user}:${c.profile.ownership.group} exists.`);
    }
    const m = await needManifest(c);
    for (const item of c.store.j.items) {
      // Declared (the extraction stops where the archive holds more than manifest.json declares), or measured
      // by a hand-made archive's read-back; the larger of the two.
      const declared = m.items.find((i) => i.id === item.id)?.contentBytes ?? 0;
      const measured = c.store.j.facts.itemBytes?.[item.id] ?? c.store.j.facts.contentBytes;
      const need = Math.max(declared, measured) * 1.05 + 16 * 1024 * 1024;
      const { freeBytes } = await freeSpace(path.dirname(item.target));
      if (freeBytes < need) {
        throw new RecoveryError(
          'NOT_ENOUGH_SPACE',
          `There is ${formatBytes(freeBytes)} free beside ${item.target}; the staging copy needs about ${formatBytes(need)}.`,
          {
            hint: 'Free some space on that disk and start again. Nothing was changed.',
          },
        );
      }
    }
    lines.push('Enough free space for the staging copies.');
    return lines.join(' ');
  },
};

/**
 * The profile a backup made with `id` is restored with, as `--profile` takes it: a built-in id, or else a file.
 * A practice backup ("eds-practice", a profile file of the practice sandbox, not a built-in id) names the sandbox's
 * replacement appliance (its profile file, and the root its folders are under) when the backup lies in a practice
 * sandbox: only the place is looked at, nothing there is read.
 */
export async function profileToGive(id: string, backup: string): Promise<string> {
  if (builtinProfileIds().includes(id)) return `the profile "${id}" (--profile ${id})`;
  for (let dir = path.dirname(path.resolve(backup)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (!path.basename(dir).startsWith('edge-recovery-practice-')) continue;
    const home = path.join(dir, 'replacement');
    const st = await fsp.lstat(path.join(home, 'profile.json')).catch(() => null);
    if (st?.isFile()) {
      // Its service is the practice appliance's own command: a profile file in /tmp runs it only when allowed.
      return `the practice's replacement appliance (--profile ${path.join(home, 'profile.json')} --root ${path.join(home, 'root')} --allow-profile-commands: its service is the practice appliance, a command)`;
    }
    break;
  }
  return `the profile file it was made with, whose id is "${id}" (--profile <that file>; "${id}" is not a built-in profile: those are ${builtinProfileIds().join(', ')})`;
}
