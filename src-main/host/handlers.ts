import os from 'node:os';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError, toRecoveryError } from '../engine/errors.js';
import { builtinProfileIds, loadProfile, resolveItems } from '../engine/profiles/load.js';
import type { Profile } from '../engine/profiles/schema.js';
import { loadJudgedProfile, systemProfilesDir } from '../engine/profiles/trust.js';
import type { PracticeSandbox } from '../practice/sandbox.js';
import {
  parseRequest,
  type Envelope,
  type ItemPlan,
  type ParsedInput,
  type ProfilePlan,
  type RequestName,
  type RequestOutput,
} from '../shared/contract.js';
import pkg from '../../package.json' with { type: 'json' };
import { JobHost } from './jobs.js';
import { measureFolder } from './measure.js';
import { foundInside, judgeMedium, judgeSourceFolders, type PagePlaces } from './page-paths.js';
import { canElevateFor, isElevated, privilegeProblems } from './privileges.js';
import { detectProfile, listProfiles, summarize, trustedProfileFiles } from './profile-views.js';
import { ReportAccess } from './report-access.js';

export interface HandlerContext {
  /** A sandbox created before (serve --practice); otherwise `practice.setup` creates one on demand. */
  practice?: PracticeSandbox;
  /** Where restore journals and reports live (Electron: userData; serve/CLI: a folder given on the command line). */
  stateDir: string;
  shell: 'electron' | 'browser';
  /**
   * The folder of this machine's own profiles (default: /etc/edge-recovery/profiles). Its JSON files are offered
   * only while they and every folder above them are root's and not writable by others (engine/profiles/trust.ts).
   */
  profilesDir?: string;
  /** Parent folder for a sandbox created on demand (tests); the system temp folder otherwise. */
  practiceBaseDir?: string;
  /** How a sandbox created on demand runs its appliances (Electron passes its own binary; see sandbox.ts). */
  practiceApplianceCommand?: string[];
  /** Electron only: restarts the app elevated. Absent in the browser shell. */
  relaunchElevated?: () => Promise<{ started: boolean; message: string }>;
}

export type Handlers = { [K in RequestName]: (input: ParsedInput<K>) => Promise<RequestOutput<K>> };

export interface RequestHost {
  handlers: Handlers;
  jobs: JobHost;
  /** Validates `rawInput` against the contract and runs the handler; every failure is data, never a stack. */
  dispatch(name: string, rawInput: unknown): Promise<Envelope<unknown>>;
  /** Cancels jobs and removes a practice sandbox this host created. */
  dispose(): Promise<void>;
}

/**
 * The one table from contract requests to engine calls, shared by Electron IPC and the loopback server.
 * Engine modules are imported when first used, so a screen that only lists profiles does not load the
 * archive code, and the host starts even while an optional engine part is missing.
 */
export function createHandlers(ctx: HandlerContext): RequestHost {
  const jobs = new JobHost();
  let practice: PracticeSandbox | undefined = ctx.practice;
  let practiceCreating: Promise<PracticeSandbox> | undefined;
  const ownsPractice = ctx.practice === undefined;
  const stateDir = (): string => practice?.stateDir ?? ctx.stateDir;
  /** Sandboxes of product practices run from the wizard (kept for their reports, removed on dispose). */
  const productSandboxes: string[] = [];
  const reports = new ReportAccess(() => [
    path.join(ctx.stateDir, 'reports'),
    ...(practice ? [path.join(practice.stateDir, 'reports')] : []),
    // A product practice writes its report beside the backup on its practice stick and in its state folder.
    ...productSandboxes,
  ]);

  let device: Promise<{ id: string; hostname: string }> | undefined;
  const deviceInfo = (): Promise<{ id: string; hostname: string }> => {
    device ??= import('../engine/media/device-id.js')
      .then((m) => m.localDeviceId())
      .then((d) => ({ id: d.id, hostname: d.hostname }))
      .catch(() => {
        device = undefined; // try again next time rather than caching a failure
        return { id: '', hostname: os.hostname() };
      });
    return device;
  };

  const practiceRefs = (): string[] => (practice ? [practice.old.profileRef, practice.replacement.profileRef] : []);
  const profilesDir = ctx.profilesDir ?? systemProfilesDir();
  /**
   * The page names a profile by `ref`; it may only name one this host offers (built in, practice, or a root-only
   * file in the profiles folder), never an arbitrary path: a profile decides what root stops, replaces and runs.
   */
  const pageProfile = async (ref: string, use: 'job' | 'read' = 'read'): Promise<Profile> => {
    if (practice && use === 'job') {
      // A practice session's jobs keep their journal in the sandbox (removed when practice ends) and take its lock,
      // not the machine's: only its practice appliances may be named (the engine checks the job's folders too).
      if (practiceRefs().includes(ref)) return loadProfile(ref);
      throw new RecoveryError(
        'PROFILE_UNTRUSTED',
        `Practice works only on the practice appliances; "${ref.slice(0, 200)}" is not one of them, so nothing was started. Nothing was changed.`,
        {
          hint: ownsPractice
            ? 'To back up or restore this device for real, press "Leave practice" on the start screen first.'
            : 'This wizard was started for practice ("edge-recovery serve --practice"). To back up or restore this device for real, stop it and start "edge-recovery serve" without --practice.',
        },
      );
    }
    if (builtinProfileIds().includes(ref) || practiceRefs().includes(ref)) return loadProfile(ref);
    if ((await trustedProfileFiles(profilesDir)).includes(ref)) {
      // Read as the file judged: a link of the folder through a folder someone else controls can be judged while it
      // names a root-only file and read while it names theirs (loadJudgedProfile reads the resolved, root-only path).
      const { profile, trust } = await loadJudgedProfile(ref);
      if (trust.origin === 'root-owned') return profile;
    }
    throw new RecoveryError('PROFILE_UNTRUSTED', `The wizard does not use the profile "${ref.slice(0, 200)}".`, {
      hint: `Choose a profile from the list. To add one, copy its file into ${profilesDir} (owned by root, mode 644, in folders only root can write) and reload.`,
    });
  };
  /**
   * What the page may name as a folder (page-paths.ts): the profile's own folders, this host's practice sandbox,
   * a stick the drive rules offer, the places this machine's own backups went. Every handler table answers a page
   * that may have fewer rights than the table (the helper is root for the desktop user, serve root for a browser),
   * so the rule holds in all of them; the CLI, the technician typing as root, does not use this table.
   */
  const places: PagePlaces = {
    sandboxes: () => (practice ? [practice.dir] : []),
    practiceSticks: () => (practice ? [practice.stickDir] : []),
    ownLocations: async () => {
      const { backupLocations } = await import('../engine/schedule/backup-record.js');
      return backupLocations(ctx.stateDir);
    },
    removableMounts: async () => {
      const { listDrives } = await import('../engine/media/drives.js');
      return (await listDrives({ all: false }))
        .filter((d) => d.status !== 'hidden')
        .flatMap((d) => d.mountpoints.map((m) => m.path));
    },
  };

  /**
   * In practice mode both appliances live on this one host; each gets its own device id so the restore onto the
   * replacement rehearses the real case: a backup from another device, accepted consciously.
   */
  const practiceDeviceFor = (profileRef: string, real: string): string | undefined => {
    if (!practice) return undefined;
    if (profileRef === practice.old.profileRef) return `practice-old-${real || 'host'}`;
    if (profileRef === practice.replacement.profileRef) return `practice-replacement-${real || 'host'}`;
    return undefined;
  };

  /**
   * The ticket fields typed before a job: validated (one line, length-limited), remembered in the host's own state
   * folder for the next job (also in practice mode: the technician is the same), and handed to the job's report.
   */
  const takeTicket = async (t: { number?: string; site?: string; technician?: string } | undefined) => {
    if (t === undefined) return undefined;
    const { parseTicket, rememberTicket, hasTicket } = await import('../engine/report/ticket.js');
    const clean = parseTicket(t);
    await rememberTicket(ctx.stateDir, clean).catch(() => undefined);
    return hasTicket(clean) ? clean : undefined;
  };

  const handlers: Handlers = {
    'app.info': async () => {
      const d = await deviceInfo();
      return {
        version: pkg.version,
        platform: process.platform,
        elevated: await isElevated(),
        practice: practice !== undefined,
        practiceOnly: !ownsPractice,
        shell: ctx.shell,
        detected: practice ? null : await detectProfile(),
        hostname: d.hostname,
        deviceId: d.id,
      };
    },

    'profiles.list': async () =>
      practice
        ? // In practice only the practice appliances, and the products that have a stand-in (practice.product).
          (await listProfiles({ refs: practiceRefs() })).filter((p) => practiceRefs().includes(p.ref) || p.practice)
        : listProfiles({ profilesDir }),

    'profiles.plan': async (i) => {
      const profileRef = i.profileRef;
      const profile = await pageProfile(profileRef);
      const { root, folders } = await judgeSourceFolders(i, places, profile);
      const items: ItemPlan[] = [];
      for (const it of resolveItems(profile, {
        ...(root === undefined ? {} : { root }),
        ...(folders === undefined ? {} : { folders }),
      })) {
        const m = await measureFolder(it.path);
        items.push({
          id: it.id,
          path: it.path,
          exists: m.exists,
          required: it.required,
          selected: it.selected,
          ...(it.description !== undefined ? { description: it.description } : {}),
          sizeBytes: m.sizeBytes,
          files: m.files,
        });
      }
      let service = { state: 'unknown', detail: '' };
      try {
        const { serviceFor } = await import('../engine/service/index.js');
        const st = await serviceFor(profile.service).status();
        service = { state: st.state, detail: st.detail };
      } catch (e) {
        service = { state: 'unknown', detail: toRecoveryError(e).message };
      }
      const elevated = await isElevated();
      const problems = privilegeProblems(profile, { elevated });
      for (const it of items) {
        if (it.required && !it.exists) {
          problems.push({ code: 'SOURCE_MISSING', message: `The folder ${it.path} (${it.id}) does not exist here.` });
        }
      }
      const { archiveSpaceNeeded } = await import('../engine/backup/space-needed.js');
      const taken = items.filter((i) => i.exists && (i.required || i.selected !== false));
      return {
        profile: summarize(profile, profileRef),
        items,
        service,
        problems,
        canElevate: canElevateFor(problems, elevated),
        backupNeedBytes: archiveSpaceNeeded(
          taken.reduce((a, i) => a + i.sizeBytes, 0),
          taken.reduce((a, i) => a + i.files, 0),
        ),
        space: await spaceBeside(items),
      };
    },

    'backups.recoverInterrupted': async () => {
      const { recoverInterruptedBackup } = await import('../engine/backup/backup-journal.js');
      const dirs = [...new Set([ctx.stateDir, stateDir()])];
      const found: { message: string; serviceStarted: boolean; unfinishedSet: string | null }[] = [];
      for (const dir of dirs) {
        const r = await recoverInterruptedBackup({ stateDir: dir });
        if (r !== null) found.push(r);
      }
      if (found.length === 0) return null;
      return {
        message: found.map((r) => r.message).join(' '),
        serviceStarted: found.some((r) => r.serviceStarted),
        unfinishedSet: found.find((r) => r.unfinishedSet !== null)?.unfinishedSet ?? null,
      };
    },

    'drives.list': async ({ all, minFreeBytes }) => {
      const { listDrives } = await import('../engine/media/drives.js');
      return listDrives(minFreeBytes === undefined ? { all } : { all, minFreeBytes });
    },

    'drives.eject': async ({ target }) => {
      if (practice && path.resolve(target) === path.resolve(practice.stickDir)) {
        // What the button does with a real stick, since the practice is where a technician learns it.
        return {
          ok: true,
          message:
            `Practice: the "stick" is the folder ${practice.stickDir} on this computer, so nothing was unmounted and there is nothing to pull out. ` +
            'With a real stick, this button writes out what is still cached, unmounts the stick and powers it off: pull it out only when the wizard (on Windows, Windows itself) says it is safe. Pulled out earlier, the backup on it can be incomplete.',
        };
      }
      // Only what the drive rules list as a removable drive (by device or mount point): the page must not be
      // able to unmount any other filesystem of this machine.
      const { listDrives } = await import('../engine/media/drives.js');
      const same = (a: string, b: string): boolean =>
        process.platform === 'win32'
          ? a.replace(/[\\/]+$/, '').toLowerCase() === b.replace(/[\\/]+$/, '').toLowerCase()
          : path.resolve(a) === path.resolve(b);
      const listed = (await listDrives({ all: false })).some(
        (d) => d.status !== 'hidden' && (same(d.device, target) || d.mountpoints.some((m) => same(m.path, target))),
      );
      if (!listed) {
        return {
          ok: false,
          message: `${target} is not one of the removable drives the wizard lists, so it does not eject it. Use the system's own "eject" if it really is a stick.`,
        };
      }
      const { ejectDrive } = await import('../engine/media/eject.js');
      return ejectDrive(target);
    },

    'backups.list': async ({ dir }) => {
      const from = await judgeMedium(dir, 'read', 'the place to list backups from', places);
      const { listBackups } = await import('../engine/backup/list-backups.js');
      const d = await deviceInfo();
      // `thisDeviceId` marks this machine's group; `device` would filter the others out.
      const found = await listBackups(from.path, d.id ? { thisDeviceId: d.id } : {});
      // Only what really is in the place judged: the walk follows a link planted on a stick (EdgeRecovery → /root).
      const groups: typeof found = [];
      for (const g of found) {
        const backups = [];
        for (const b of g.backups) if (await foundInside(from, b.path)) backups.push(b);
        if (backups.length > 0) groups.push({ ...g, backups });
      }
      reports.rememberBackups(groups.flatMap((g) => g.backups.map((b) => b.path)));
      return groups;
    },

    'backup.start': async (i) => {
      const profile = await pageProfile(i.profileRef, 'job');
      // Judged before anything is remembered or started: a refused path changes nothing.
      const { root, folders } = await judgeSourceFolders(i, places, profile);
      const to = await judgeMedium(i.to, 'write', 'the stick to write the backup to', places);
      const ticket = await takeTicket(i.ticket);
      const { runBackup } = await import('../engine/backup/run-backup.js');
      const d = await deviceInfo();
      const dir = stateDir();
      const jobId = jobs.start(
        'backup',
        (io) =>
          runBackup(
            {
              profile,
              to: to.path,
              toDevice: to.dev,
              root,
              folders,
              ...(i.include !== undefined ? { include: i.include } : {}),
              ...(i.exclude !== undefined ? { exclude: i.exclude } : {}),
              deviceId: practiceDeviceFor(i.profileRef, d.id) ?? (d.id || undefined),
              passphrase: i.passphrase,
              splitSize: i.splitSizeBytes,
              keep: i.keep,
              leaveStopped: i.leaveStopped,
              stateDir: dir,
              ...(ticket ? { ticket } : {}),
            },
            io,
          ).then((r) => {
            // Remembered for the start screen's "last verified backup" without holding the job open (its
            // "finished" event is already out); never fails the backup itself.
            void import('../engine/schedule/backup-record.js')
              .then(({ recordVerifiedBackup }) =>
                recordVerifiedBackup(dir, {
                  profileId: r.manifest.profile.id,
                  deviceId: r.manifest.deviceId,
                  setDir: r.setDir,
                  to: to.path,
                  createdAt: r.manifest.createdAt,
                  class: r.manifest.class ?? 'manual',
                  encrypted: r.manifest.archive.encryption !== null,
                }),
              )
              .catch(() => undefined);
            return r;
          }),
        { changesMachine: true },
      );
      return { jobId };
    },

    'backups.last': async ({ profileRef }) => {
      const { lastBackup } = await import('../engine/schedule/backup-record.js');
      const profileId = profileRef === undefined ? undefined : (await pageProfile(profileRef)).id;
      return lastBackup(stateDir(), profileId === undefined ? {} : { profileId });
    },

    'mirror.start': async (i) => {
      const from = await judgeMedium(i.from, 'read', 'the place to copy backups from', places);
      if (i.glob !== undefined && from.kind === 'own') {
        // A glob copies any file of that name: the place our backups went may hold any root-only file.
        throw new RecoveryError(
          'PATH_REFUSED',
          `The wizard copies only backup sets from ${JSON.stringify(i.from)} (where this machine's backups go), not other files by pattern. Nothing was copied.`,
          {
            hint: "To copy a product's own backup files, put them on a stick, or use the command line as root (edge-recovery mirror --glob).",
            ui: { hint: 'Copy the backups without a file pattern.' },
            details: { given: i.from, real: from.path },
          },
        );
      }
      const to = await judgeMedium(i.to, 'write', 'the stick to copy backups to', places);
      const { keep, glob } = i;
      const { runMirror } = await import('../engine/schedule/mirror.js');
      const dir = stateDir();
      const jobId = jobs.start(
        'mirror',
        (io) =>
          runMirror(
            {
              from: from.path,
              fromDevice: from.dev,
              to: to.path,
              toDevice: to.dev,
              keep,
              ...(glob !== undefined ? { glob } : {}),
              stateDir: dir,
            },
            io,
          ),
        { changesMachine: false },
      );
      return { jobId };
    },

    'emergencyKit.html': async ({ profileRef }) => {
      const profile = await pageProfile(profileRef);
      const { emergencyKitHtml } = await import('../engine/schedule/emergency-kit.js');
      const { lastBackup } = await import('../engine/schedule/backup-record.js');
      const d = await deviceInfo();
      const last = await lastBackup(stateDir(), { profileId: profile.id });
      return {
        html: emergencyKitHtml({
          profile,
          deviceId: practiceDeviceFor(profileRef, d.id) ?? d.id,
          hostname: d.hostname,
          backupsAt: last?.to ?? null,
          schedule: null,
          passphraseFile: null,
          lastBackup: last,
        }),
      };
    },

    'verify.start': async ({ backup, passphrase }) => {
      const set = await judgeMedium(backup, 'read', 'the backup to verify', places);
      // runVerify is verifyBackup as a runbook: it emits the plan, progress and finished events the wizard shows.
      const { runVerify } = await import('../engine/backup/verify-backup.js');
      return {
        jobId: jobs.start(
          'verify',
          (io) => runVerify(set.path, { passphrase, identity: { dev: set.dev, ino: set.ino } }, io),
          { changesMachine: false },
        ),
      };
    },

    'restore.start': async (i) => {
      const profile = await pageProfile(i.profileRef, 'job');
      const { root } = await judgeSourceFolders({ root: i.root }, places);
      const set = await judgeMedium(i.backup, 'read', 'the backup to restore', places);
      const ticket = await takeTicket(i.ticket);
      const { runRestore } = await import('../engine/restore/run-restore.js');
      const dir = stateDir();
      const practiceDevice = practiceDeviceFor(i.profileRef, (await deviceInfo()).id);
      reports.rememberBackups([set.path]); // its report is written beside the set
      const jobId = jobs.start(
        'restore',
        (io) =>
          runRestore(
            {
              backup: set.path,
              backupIdentity: { dev: set.dev, ino: set.ino },
              profile,
              root,
              passphrase: i.passphrase,
              allowOtherDevice: i.allowOtherDevice,
              allowVersionMismatch: i.allowVersionMismatch,
              keepDefaults: i.keepDefaults,
              stateDir: dir,
              ...(ticket ? { ticket } : {}),
              ...(practiceDevice !== undefined ? { tuning: { deviceId: practiceDevice } } : {}),
            },
            io,
          ),
        { changesMachine: true },
      );
      return { jobId };
    },

    'restore.status': async () => {
      // Only a restore that can still be resumed or rolled back: an ended one must not greet the technician.
      const { unfinishedRestore } = await import('../engine/restore/run-restore.js');
      return unfinishedRestore({ stateDir: stateDir() });
    },

    'restore.resume': async ({ passphrase }) => {
      const { resumeRestore } = await import('../engine/restore/run-restore.js');
      const dir = stateDir();
      return {
        jobId: jobs.start('resume', (io) => resumeRestore({ stateDir: dir, passphrase }, io), { changesMachine: true }),
      };
    },

    'restore.rollback': async () => {
      const { rollbackRestore } = await import('../engine/restore/run-restore.js');
      const dir = stateDir();
      return {
        jobId: jobs.start('rollback', (io) => rollbackRestore({ stateDir: dir }, io), { changesMachine: true }),
      };
    },

    'restore.credentials': async () => {
      const { enterOpenCredentials } = await import('../engine/restore/after-restore.js');
      const dir = stateDir();
      return {
        jobId: jobs.start('credentials', (io) => enterOpenCredentials({ stateDir: dir }, io), { changesMachine: true }),
      };
    },

    'restore.finish': async () => {
      const { deleteKeptFolders } = await import('../engine/restore/after-restore.js');
      const dir = stateDir();
      return {
        jobId: jobs.start('finish', (io) => deleteKeptFolders({ stateDir: dir }, io), { changesMachine: true }),
      };
    },

    'restore.leftovers': async () => {
      const { readJournal } = await import('../engine/restore/journal.js');
      const j = await readJournal(stateDir());
      if (j === null || j.status !== 'finished') return null;
      const kept = j.oldFolders?.decision === 'kept' ? j.oldFolders : null;
      if (j.credentials.pending.length === 0 && kept === null) return null;
      return {
        id: j.id,
        backup: j.backup,
        credentialsPending: j.credentials.pending,
        keptFolders: kept ? { paths: kept.paths, files: kept.files, bytes: kept.bytes } : null,
      };
    },

    'job.respond': async ({ jobId, promptId, answer }) => ({ accepted: jobs.respond(jobId, promptId, answer) }),

    'job.running': async () => jobs.running(),

    'job.cancel': async ({ jobId }) => ({ cancelled: jobs.cancel(jobId) }),

    'job.events': async ({ jobId, afterSeq }) => jobs.events(jobId, afterSeq),

    'report.read': async ({ path: p }) => ({ html: await reports.read(p) }),

    'ticket.get': async () => {
      const { readRememberedTicket } = await import('../engine/report/ticket.js');
      return readRememberedTicket(ctx.stateDir);
    },

    'practice.setup': async () => {
      if (!practice) {
        practiceCreating ??= import('../practice/sandbox.js').then((m) =>
          m.createPracticeSandbox({
            ...(ctx.practiceBaseDir === undefined ? {} : { baseDir: ctx.practiceBaseDir }),
            ...(ctx.practiceApplianceCommand === undefined ? {} : { applianceCommand: ctx.practiceApplianceCommand }),
          }),
        );
        try {
          practice = await practiceCreating;
        } finally {
          practiceCreating = undefined;
        }
      }
      return practice.view();
    },

    'practice.leave': async () => {
      if (!practice) return { left: true, message: 'Not in practice.' };
      if (!ownsPractice) {
        return {
          left: false,
          message:
            'This wizard was started for practice ("edge-recovery serve --practice") and works only on the practice appliances. To back up or restore this device for real, stop it and start "edge-recovery serve" without --practice.',
        };
      }
      if (jobs.busy) {
        throw new RecoveryError('BAD_INPUT', 'A practice job is still running.', {
          hint: 'Wait for it to finish (or cancel it), then leave practice.',
        });
      }
      const p = practice;
      practice = undefined;
      await p.dispose();
      return { left: true, message: 'Practice ended: its appliances were stopped and its sandbox removed.' };
    },

    'practice.product': async (i) => {
      const { practiceProfileIds, runProductPractice } = await import('../practice/product-practice.js');
      if (!practiceProfileIds().includes(i.profileId)) {
        throw new RecoveryError('PROFILE_NOT_FOUND', `There is no practice for "${i.profileId}".`, {
          hint: `Practice exists for: ${practiceProfileIds().join(', ')}.`,
        });
      }
      return {
        jobId: jobs.start(
          'practice',
          (io) =>
            runProductPractice(
              i.profileId,
              {
                ...io,
                // One job, two runbooks: the backup's own "finished" would end the job's view before the restore.
                emit: (e) => {
                  if (e.type === 'finished' && e.ok && e.result?.kind === 'backup') {
                    io.emit({ type: 'log', level: 'info', message: `Backup made: ${e.result.setDir}` });
                    return;
                  }
                  io.emit(e);
                },
              },
              {
                keep: true,
                ...(ctx.practiceBaseDir === undefined ? {} : { baseDir: ctx.practiceBaseDir }),
                onSandbox: (dir) => productSandboxes.push(dir),
              },
            ),
          { changesMachine: false },
        ),
      };
    },

    'app.relaunchElevated': async () => {
      if (!ctx.relaunchElevated) {
        return {
          started: false,
          message:
            'The browser wizard cannot raise its own rights. Stop "edge-recovery serve" and start it again with sudo (or as Administrator).',
        };
      }
      if (jobs.busy) {
        throw new RecoveryError('BAD_INPUT', 'A job is still running; relaunching now would cancel it.', {
          hint: 'Wait for the job to finish, then relaunch with administrator rights.',
        });
      }
      return ctx.relaunchElevated();
    },
  };

  async function dispatch(name: string, rawInput: unknown): Promise<Envelope<unknown>> {
    const parsed = parseRequest(name, rawInput ?? {});
    if (!parsed.ok) return { ok: false, error: parsed.error };
    try {
      const handler = handlers[parsed.name] as (input: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(parsed.input) };
    } catch (e) {
      return { ok: false, error: toRecoveryError(e).toJSON() };
    }
  }

  async function dispose(): Promise<void> {
    await jobs.shutdown();
    for (const d of productSandboxes.splice(0))
      await fsp.rm(d, { recursive: true, force: true }).catch(() => undefined);
    if (practice && ownsPractice) {
      const p = practice;
      practice = undefined;
      await p.dispose();
    }
  }

  return { handlers, jobs, dispatch, dispose };
}

/** Used by transports to refuse a request before it reaches the table (e.g. a stale window). */
export function refused(message: string): Envelope<never> {
  return { ok: false, error: new RecoveryError('BAD_INPUT', message).toJSON() };
}

type ProfilePlanSpace = ProfilePlan['space'];

/** Free space where each folder lives, one line per filesystem (by its mount point). */
async function spaceBeside(items: readonly ItemPlan[]): Promise<ProfilePlanSpace> {
  const { filesystemOf, freeSpace } = await import('../engine/media/filesystem.js');
  const out: ProfilePlanSpace = [];
  for (const it of items) {
    const parent = path.dirname(it.path);
    const mount = await filesystemOf(parent).then(
      (f) => f.mountpoint,
      () => parent,
    );
    const line = out.find((l) => l.path === mount);
    if (line) {
      line.itemIds.push(it.id);
      continue;
    }
    const s = await freeSpace(parent).catch(() => null);
    out.push({ path: mount, itemIds: [it.id], freeBytes: s?.freeBytes ?? null, totalBytes: s?.totalBytes ?? null });
  }
  return out;
}
