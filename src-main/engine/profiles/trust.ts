import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { shellWord } from '../backup/restore-txt.js';
import { otherFilesystemProblem } from '../util/own-filesystem.js';
import { builtinProfileIds, loadProfile } from './load.js';
import type { Profile } from './schema.js';

/**
 * Where a profile comes from decides how far it is trusted. Built-in profiles and files only root can change
 * (the file and every folder above it owned by root and not writable by group or others) are the machine's own
 * configuration. Any other file is untrusted input: whoever can write it could make the root process stop,
 * replace and chown the folders it names, or run the command it names.
 */
export type ProfileOrigin = 'builtin' | 'root-owned' | 'practice' | 'untrusted';

export interface ProfileTrust {
  origin: ProfileOrigin;
  /** Why a file is untrusted, in plain words. */
  reason?: string;
}

/** The folder for a machine's own profiles: /etc/edge-recovery/profiles, %ProgramData%\EdgeRecovery\profiles. */
export function systemProfilesDir(platform: NodeJS.Platform = process.platform, env = process.env): string {
  if (platform === 'win32') {
    return path.win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'EdgeRecovery', 'profiles');
  }
  return '/etc/edge-recovery/profiles';
}

/**
 * Why `file` could be changed by someone other than root, or null when only root can change it: the file is a
 * regular file on one of this machine's own filesystems (util/own-filesystem.ts), and it and every folder up to "/" (after
 * resolving links) belong to root and are not writable by group or others. Windows ACLs are not checked: there only
 * built-in profiles count as trusted.
 */
export async function rootOnlyProblem(file: string): Promise<string | null> {
  if (process.platform === 'win32') return 'on Windows only the built-in profiles are trusted';
  let real: string;
  try {
    real = await fsp.realpath(file);
  } catch (e) {
    return `it cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  const st = await fsp.lstat(real);
  if (!st.isFile()) return `${real} is not a regular file`;
  const foreign = otherFilesystemProblem(real, st.dev);
  if (foreign !== null) return foreign;
  for (let p = real; ; p = path.dirname(p)) {
    const s = p === real ? st : await fsp.lstat(p);
    if (s.uid !== 0) return `${p} belongs to uid ${s.uid}, not root`;
    if (s.mode & 0o022) {
      return `${p} is writable by ${s.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(s.mode & 0o7777).toString(8)})`;
    }
    if (p === path.dirname(p)) return null;
  }
}

/** Where `ref` comes from: a built-in id, one of `practiceRefs`, a root-only file, or untrusted input. */
export async function profileTrust(ref: string, opts: { practiceRefs?: string[] } = {}): Promise<ProfileTrust> {
  if (builtinProfileIds().includes(ref)) return { origin: 'builtin' };
  if (opts.practiceRefs?.includes(ref)) return { origin: 'practice' };
  const problem = await rootOnlyProblem(ref);
  return problem === null ? { origin: 'root-owned' } : { origin: 'untrusted', reason: problem };
}

/**
 * A profile by id or file, and how far it is trusted: the file read is the file judged. A trusted file is read by
 * its resolved path, whose every folder only root can change, so nobody else can point it elsewhere in between; read
 * and judged by `ref` twice, a link in a user's folder could name the user's profile for the read and a root-only
 * file (any, e.g. /etc/passwd) for the judgement, and the user's commands ran as a trusted profile's.
 */
export async function loadJudgedProfile(
  ref: string,
  opts: { practiceRefs?: string[] } = {},
): Promise<{ profile: Profile; trust: ProfileTrust }> {
  if (builtinProfileIds().includes(ref)) return { profile: await loadProfile(ref), trust: { origin: 'builtin' } };
  if (opts.practiceRefs?.includes(ref)) return { profile: await loadProfile(ref), trust: { origin: 'practice' } };
  const real = await fsp.realpath(ref).catch(() => null);
  const problem = await rootOnlyProblem(real ?? ref);
  if (real !== null && problem === null) return { profile: await loadProfile(real), trust: { origin: 'root-owned' } };
  // Judged once: untrusted, whatever the name leads to by the time it is read.
  return { profile: await loadProfile(ref), trust: { origin: 'untrusted', reason: problem ?? undefined } };
}

/** The commands a profile makes this tool run, as "field: command" lines (none for a service manager's name). */
export function profileCommands(profile: Profile): string[] {
  const out: string[] = [];
  if (profile.service.manager === 'process' && profile.service.command) {
    out.push(`service.command: ${profile.service.command.join(' ')}`);
  }
  // The package database's query for the installed version is a program too, run with this tool's rights.
  const vc = profile.version.command;
  if (vc !== undefined) {
    out.push(`version.command: ${vc.argv.join(' ')}`);
    if (vc.windows !== undefined) out.push(`version.command.windows: ${vc.windows.join(' ')}`);
  }
  (profile.steps ?? []).forEach((step, i) => {
    if (step.kind === 'command' || step.kind === 'reset') out.push(`steps.${i} (${step.id}): ${step.argv.join(' ')}`);
    if (step.kind === 'service' && step.service.manager === 'process' && step.service.command) {
      out.push(`steps.${i} (${step.id}): ${step.service.command.join(' ')}`);
    }
    if (step.undo?.kind === 'command') out.push(`steps.${i}.undo (${step.id}): ${step.undo.argv.join(' ')}`);
  });
  return out;
}

/**
 * The files a profile has this tool read as root and put where others may see them, as "field: what" lines: an
 * artifact step copies its file (or its folder's matches) into the backup, onto the stick; a follow-log step shows
 * the lines a file gets. From an untrusted profile (a stick's), `/etc/shadow` or `/root/.ssh/*` would be copied onto
 * that stick like any product's backup: gated as commands are (assertCommandsAllowed).
 */
export function profileReads(profile: Profile): string[] {
  const out: string[] = [];
  (profile.steps ?? []).forEach((step, i) => {
    if (step.kind === 'artifact') {
      const what = step.mode === 'collect' ? `${step.dir ?? ''}/${step.glob ?? ''}` : (step.path ?? '');
      out.push(`steps.${i} (${step.id}): copies ${what} into the backup`);
    }
    if (step.kind === 'follow-log') out.push(`steps.${i} (${step.id}): shows the lines of ${step.file}`);
  });
  return out;
}

/** The warning the CLI prints for a profile file that is not trusted. */
export function untrustedWarning(ref: string, reason: string | undefined): string {
  return (
    `Warning: the profile ${ref} is untrusted input: it is not built in and ${reason ?? 'not only root can change it'}. ` +
    `Check its folders, service and API address before going on. To trust it, copy it into ${systemProfilesDir()} ` +
    `(owned by root, mode 644, in folders only root can write).`
  );
}

/**
 * What a backup or a restore with this profile has root do to the machine, as phrases: the folders it reads onto the
 * stick or replaces, and the service it stops and starts. From an untrusted profile (a stick's), that is whatever
 * folder and service the file's writer chose: the profile rules refuse the system's own, but any other (another
 * product's data, a home, a unit no rule knows) would be read onto the stick or replaced as root.
 */
export function profileActs(profile: Profile, job: 'backup' | 'restore'): string[] {
  const folders = profile.items.map((i) => i.path).join(', ');
  const out: string[] = [];
  if (folders !== '') {
    out.push(
      job === 'backup'
        ? `read ${folders} as root and copy them onto the stick`
        : `replace ${folders} as root with what the backup holds`,
    );
  }
  if (profile.service.manager !== 'none') {
    out.push(`stop and start the ${profile.service.manager} service ${profile.service.name}`);
  }
  return out;
}

/** How to make a profile file trusted: the exact copy into a root-only folder of this machine, and the name to give. */
export function trustCopyHint(ref: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    // rootOnlyProblem: on Windows only the built-in profiles are trusted (no file's permissions are judged there).
    return 'name a built-in profile instead (edge-recovery profiles lists them): on Windows no profile file is trusted';
  }
  const target = path.join(systemProfilesDir(platform), path.basename(ref));
  return `copy it into a root-only folder on this machine's own disk (install -D -o root -g root -m 644 ${shellWord(ref, true)} ${shellWord(target, true)}), and name that file: --profile ${shellWord(target, true)}`;
}

/**
 * Refuses an untrusted profile that would run commands or read files as root (profileReads), or, for a backup or a
 * restore (`job`), act on its folders and service at all (profileActs), unless the technician said so explicitly: a
 * process manager's command from such a file would otherwise run with this tool's rights, an artifact step copy any
 * file onto the stick, and a restore replace any folder no rule knows as root. The wizard offers only trusted
 * profiles (host/profile-views.ts); the CLI takes another file only with the flag.
 */
export function assertCommandsAllowed(
  ref: string,
  profile: Profile,
  trust: ProfileTrust,
  allowCommands: boolean,
  flag = '--allow-profile-commands',
  job?: 'backup' | 'restore',
): void {
  if (trust.origin !== 'untrusted' || allowCommands) return;
  const commands = profileCommands(profile);
  const reads = profileReads(profile);
  const acts = job === undefined ? [] : profileActs(profile, job);
  if (commands.length === 0 && reads.length === 0 && acts.length === 0) return;
  const does = [
    ...(commands.length > 0 ? [`run commands with this tool's rights (${commands.join('; ')})`] : []),
    ...(reads.length > 0 ? [`read files as root and copy or show them (${reads.join('; ')})`] : []),
    ...acts,
  ].join(', and ');
  const read = [
    ...(commands.length > 0 ? ['the commands'] : []),
    ...(reads.length > 0 ? ['what it reads'] : []),
    ...(acts.length > 0 ? ['its folders and service'] : []),
  ].join(', ');
  throw new RecoveryError(
    'PROFILE_UNTRUSTED',
    `The profile ${ref} would ${does}, and it is untrusted input: ${trust.reason ?? 'not only root can change it'}. Nothing was changed.`,
    {
      hint: `Read ${read} first. If it is right, pass ${flag}, or ${trustCopyHint(ref)}.`,
      details: { ref, commands, reads, acts },
    },
  );
}
