import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { RecoveryError } from '../errors.js';
import { readGivenFile } from '../util/given-path.js';
import { systemFolderProblem } from './rules.js';
import { CheckedProfileSchema, type Profile } from './schema.js';
import { BUILTIN_SOURCES, builtinProfileIds } from './builtin-sources.js';

export { builtinProfileIds };

/** "items.1.path: must start with /" — names the field, says what is wrong. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const where = i.path.length > 0 ? i.path.map(String).join('.') : '(profile)';
    return `${where}: ${i.message}`;
  });
}

export function parseProfile(raw: unknown, source: string): Profile {
  const r = CheckedProfileSchema.safeParse(raw);
  if (!r.success) {
    const lines = describeIssues(r.error);
    throw new RecoveryError('BAD_PROFILE', `The profile ${source} is not valid: ${lines.join('; ')}`, {
      hint: 'Fix the named fields in the profile file (see "Profile format" in the README).',
      details: { source, issues: lines },
    });
  }
  const problems = checkProductSteps(r.data);
  if (problems.length > 0) {
    throw new RecoveryError('BAD_PROFILE', `The profile ${source} is not valid: ${problems.join('; ')}`, {
      hint: 'Fix the named steps in the profile file (see "Product steps" in the README).',
      details: { source, issues: problems },
    });
  }
  return r.data;
}

/** Rules across steps: unique ids, artifacts referred to exist, something to back up, an API for http steps. */
export function checkProductSteps(p: Profile): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const artifacts = new Set(p.steps.filter((s) => s.kind === 'artifact').map((s) => s.id));
  for (const [i, s] of p.steps.entries()) {
    if (seen.has(s.id)) out.push(`steps.${i}.id: the id "${s.id}" is used twice`);
    seen.add(s.id);
    if ((s.kind === 'http' || s.undo?.kind === 'http') && p.api === undefined) {
      out.push(`steps.${i}: an http step needs the profile's "api"`);
    }
    for (const m of JSON.stringify(s).matchAll(/\{artifact:([a-z0-9-]+)\}/g)) {
      if (!artifacts.has(m[1]!)) out.push(`steps.${i}: {artifact:${m[1]}} names no artifact step`);
    }
  }
  if (p.items.length === 0 && artifacts.size === 0) {
    out.push('items: a profile needs folders to archive or artifact steps that put files into the backup');
  }
  return out;
}

export function builtinProfiles(): Profile[] {
  return Object.entries(BUILTIN_SOURCES).map(([id, raw]) => parseProfile(raw, `built-in "${id}"`));
}

/** The most read of a profile file (the built-in ones are a few KiB). */
const PROFILE_FILE_MAX = 1024 * 1024;

/** Loads a built-in profile by id, or a JSON profile file by path. */
export async function loadProfile(ref: string): Promise<Profile> {
  const builtin = BUILTIN_SOURCES[ref];
  if (builtin !== undefined) return parseProfile(builtin, `built-in "${ref}"`);
  const looksLikePath = ref.includes('/') || ref.includes('\\') || ref.endsWith('.json');
  if (!looksLikePath) {
    throw new RecoveryError('PROFILE_NOT_FOUND', `There is no built-in profile "${ref}".`, {
      hint: `Use one of: ${builtinProfileIds().join(', ')}, or the path of a profile JSON file.`,
    });
  }
  // A pipe, a device or a file too large is bad input as such (exit 2); one that cannot be opened is not found.
  const text = (
    await readGivenFile(ref, {
      what: 'the profile file',
      max: PROFILE_FILE_MAX,
      openError: (e) =>
        new RecoveryError('PROFILE_NOT_FOUND', `Cannot read the profile file ${ref}: ${e.message}`, { cause: e }),
    })
  ).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RecoveryError('BAD_PROFILE', `The profile file ${ref} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseProfile(raw, path.basename(ref));
}

/** Expands %VAR% from the environment (Windows profiles: %ProgramData%). */
export function expandEnv(p: string, env: NodeJS.ProcessEnv = process.env): string {
  return p.replace(/%([A-Za-z_][A-Za-z0-9_()]*)%/g, (_m, name: string) => {
    const key = Object.keys(env).find((k) => k.toLowerCase() === name.toLowerCase());
    const v = key === undefined ? undefined : env[key];
    if (v === undefined) {
      throw new RecoveryError('BAD_PROFILE', `The profile uses %${name}%, which is not set on this machine.`);
    }
    return v;
  });
}

/**
 * The folder an item lives in on this machine. With `root`, the profile's absolute path is
 * taken under that folder (a disk mounted from another machine, or a test sandbox); a
 * Windows drive letter is dropped there.
 */
export function resolveItemPath(itemPath: string, opts: { root?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const expanded = expandEnv(itemPath, opts.env);
  if (opts.root === undefined) return expanded;
  const rel = expanded
    .replace(/^[A-Za-z]:/, '')
    .replace(/\\/g, '/')
    .replace(/^\/+/, '');
  return path.join(opts.root, rel);
}

export interface ResolvedItem {
  id: string;
  path: string;
  required: boolean;
  /** Backed up by default (optional items may be off by default). */
  selected: boolean;
  /** The profile's own path for this item (with a `*` filled in), as recorded in a backup's manifest. */
  declaredPath: string;
  description?: string;
}

export interface ResolveOptions {
  root?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Folders the technician chose instead of the profile's (item id → absolute path on this machine). They are
   * taken as they are, not under `root`.
   */
  folders?: Record<string, string>;
  /**
   * Item ids a backup holds: a `*` item then resolves to those of its expansions (`<id>.<name>`), whether or not the
   * folder exists yet on this machine. Without it, `*` matches the folders that exist here.
   */
  fromBackup?: readonly string[];
  /**
   * The system the folders are used on (a job on this machine: process.platform). Without `root`, every folder
   * must then be an absolute path there: a Windows profile's `C:\\…` on Linux is a relative name, and a restore
   * wrote folders named `C:\\EdgeData\\Storage` into its working directory and called it done.
   */
  here?: NodeJS.Platform;
}

function absoluteOn(p: string, platform: NodeJS.Platform): boolean {
  return platform === 'win32' ? /^(?:[A-Za-z]:[\\/]|\\\\)/.test(p) : p.startsWith('/');
}

function checkFolderHere(profile: Profile, id: string, p: string, opts: ResolveOptions, chosen: boolean): void {
  const here = opts.here;
  if (here === undefined || absoluteOn(p, here)) return;
  const system = here === 'win32' ? 'Windows' : here === 'darwin' ? 'macOS' : 'Linux';
  if (chosen) {
    throw new RecoveryError(
      'BAD_INPUT',
      `The folder for ${id} must be an absolute path on this ${system} machine, not "${p}".`,
    );
  }
  throw new RecoveryError(
    'BAD_PROFILE',
    `The profile ${profile.id} is for ${profile.platform === 'windows' ? 'Windows' : 'Linux'}: its folder ${id} (${p}) is not a path on this ${system} machine.`,
    {
      hint: 'Choose the profile made for this system (edge-recovery profiles), or give --root <dir> for the disk of such a machine mounted here. Nothing was changed.',
    },
  );
}

const WILDCARD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The names `*` stands for: folders here (`<parent>/<name>/<rest>` must be a folder), or ids in a backup. */
function expandWildcard(
  i: Profile['items'][number],
  opts: ResolveOptions,
): { name: string; path: string; declared: string }[] {
  const sep = i.path.includes('\\') && !i.path.includes('/') ? '\\' : '/';
  const parts = i.path.split(/[\\/]/);
  const at = parts.indexOf('*');
  const fill = (name: string): string => parts.map((p, k) => (k === at ? name : p)).join(sep);
  let names: string[];
  if (opts.fromBackup !== undefined) {
    names = opts.fromBackup.filter((id) => id.startsWith(`${i.id}.`)).map((id) => id.slice(i.id.length + 1));
  } else {
    const parent = resolveItemPath(parts.slice(0, at).join(sep) || sep, opts);
    let entries: string[] = [];
    try {
      entries = readdirSync(parent).sort();
    } catch {
      entries = [];
    }
    names = entries.filter((n) => {
      try {
        return statSync(resolveItemPath(fill(n), opts)).isDirectory();
      } catch {
        return false;
      }
    });
  }
  return names
    .filter((n) => WILDCARD_NAME.test(n))
    .map((n) => ({ name: n, path: resolveItemPath(fill(n), opts), declared: fill(n) }));
}

export function resolveItems(profile: Profile, opts: ResolveOptions = {}): ResolvedItem[] {
  for (const [id, p] of Object.entries(opts.folders ?? {})) {
    if (!profile.items.some((i) => i.id === id)) {
      throw new RecoveryError('BAD_INPUT', `The profile ${profile.id} has no folder "${id}".`, {
        hint: `Its folders are: ${profile.items.map((i) => i.id).join(', ')}.`,
      });
    }
    if (!path.isAbsolute(p) && !path.win32.isAbsolute(p)) {
      throw new RecoveryError('BAD_INPUT', `The folder for ${id} must be an absolute path, not "${p}".`);
    }
    checkFolderHere(profile, id, p, opts, true);
  }
  if (opts.root === undefined) {
    for (const i of profile.items) {
      if (opts.folders?.[i.id] === undefined)
        checkFolderHere(profile, i.id, resolveItemPath(i.path, opts), opts, false);
    }
  }
  return profile.items.flatMap((i) => {
    if (i.path.split(/[\\/]/).includes('*')) {
      return expandWildcard(i, opts).map((x) => {
        // The name comes from this machine's folders or from a backup's list (a stick's): the folder it makes is
        // judged as the profile's own folders are (wildcardProblem keeps `*` out of system folders already).
        const bad = systemFolderProblem(x.declared, profile.platform);
        if (bad !== null) {
          throw new RecoveryError(
            'UNSAFE_PATH',
            `The profile ${profile.id}'s folder ${i.id} (${i.path}) would stand for ${x.declared} here: ${bad}.`,
            {
              hint: `The name ${x.name} for its "*" comes from the backup's list of folders (or this machine's): check that the backup is this product's, and name only the product's own folders around the "*" in the profile (see "Profile format" in the README). Nothing was changed.`,
              details: { id: `${i.id}.${x.name}`, path: x.declared },
            },
          );
        }
        const r: ResolvedItem = {
          id: `${i.id}.${x.name}`,
          path: x.path,
          required: false,
          selected: i.selected,
          declaredPath: x.declared,
        };
        if (i.description !== undefined) r.description = i.description;
        return r;
      });
    }
    const chosen = opts.folders?.[i.id];
    const r: ResolvedItem = {
      id: i.id,
      path: chosen !== undefined ? path.resolve(chosen) : resolveItemPath(i.path, opts),
      required: i.required,
      selected: i.selected,
      declaredPath: i.path,
    };
    if (i.description !== undefined) r.description = i.description;
    return r;
  });
}
