import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { RecoveryError } from '../errors.js';
import { CheckedProfileSchema, type Profile } from './schema.js';
import edsLinux from './builtin/eds-linux.json' with { type: 'json' };
import edsWindows from './builtin/eds-windows.json' with { type: 'json' };

const BUILTIN_SOURCES: Record<string, unknown> = {
  'eds-linux': edsLinux,
  'eds-windows': edsWindows,
};

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

export function builtinProfileIds(): string[] {
  return Object.keys(BUILTIN_SOURCES);
}

export function builtinProfiles(): Profile[] {
  return Object.entries(BUILTIN_SOURCES).map(([id, raw]) => parseProfile(raw, `built-in "${id}"`));
}

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
  let text: string;
  try {
    text = await fsp.readFile(ref, 'utf8');
  } catch (e) {
    throw new RecoveryError('PROFILE_NOT_FOUND', `Cannot read the profile file ${ref}: ${(e as Error).message}`, {
      cause: e,
    });
  }
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
  }
  return profile.items.map((i) => {
    const chosen = opts.folders?.[i.id];
    const r: ResolvedItem = {
      id: i.id,
      path: chosen !== undefined ? path.resolve(chosen) : resolveItemPath(i.path, opts),
      required: i.required,
    };
    if (i.description !== undefined) r.description = i.description;
    return r;
  });
}
