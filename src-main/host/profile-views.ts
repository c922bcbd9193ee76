import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { builtinProfiles, loadProfile, resolveItems } from '../engine/profiles/load.js';
import { stepPointWords } from '../engine/profiles/step-points.js';
import { rootOnlyProblem } from '../engine/profiles/trust.js';
import type { Profile } from '../engine/profiles/schema.js';
import type { ProfileSummary } from '../shared/contract.js';

/** Profiles with a practice stand-in (src-main/practice/product-practice.ts). */
const PRACTICE_IDS = ['opencrvs', 'stackstate-linux', 'evc-edge', 'deviceon-linux'];

const octal = (n: number): string => n.toString(8).padStart(3, '0');

export function summarize(profile: Profile, ref: string): ProfileSummary {
  const s: ProfileSummary = {
    ref,
    id: profile.id,
    productName: profile.productName,
    platform: profile.platform,
    service: { manager: profile.service.manager, name: profile.service.name },
    items: profile.items.map((i) => {
      const v: ProfileSummary['items'][number] = {
        id: i.id,
        path: i.path,
        required: i.required,
        selected: i.selected,
      };
      if (i.description !== undefined) v.description = i.description;
      return v;
    }),
    credentialResources: profile.credentials.map((c) => c.title),
  };
  if (profile.description !== undefined) s.description = profile.description;
  if (profile.steps.length > 0) {
    s.productSteps = profile.steps.map((p) => ({
      id: p.id,
      at: p.at,
      kind: p.kind,
      title: p.title,
      explain: p.explain,
      when: stepPointWords(p.at, profile),
      destructive: p.kind === 'reset' || p.confirm !== undefined,
    }));
  }
  if (PRACTICE_IDS.includes(profile.id)) s.practice = true;
  if (profile.ownership) {
    const o = profile.ownership;
    s.owner = { user: o.user, group: o.group, dirMode: octal(o.dirMode), fileMode: octal(o.fileMode) };
  }
  return s;
}

/** The JSON files of `dir` that only root can change (the others are untrusted input and not offered). */
export async function trustedProfileFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return []; // no such folder: built-ins only
  }
  const out: string[] = [];
  for (const f of names) {
    const file = path.join(dir, f);
    if ((await rootOnlyProblem(file)) === null) out.push(file);
  }
  return out;
}

/** Built-in profiles (ref = id), then trusted files of the profiles folder (ref = path); a broken file is skipped. */
export async function listProfiles(extra: { profilesDir?: string; refs?: string[] }): Promise<ProfileSummary[]> {
  const out = builtinProfiles().map((p) => summarize(p, p.id));
  const refs = [...(extra.refs ?? [])];
  if (extra.profilesDir) refs.push(...(await trustedProfileFiles(extra.profilesDir)));
  for (const ref of refs) {
    try {
      out.push(summarize(await loadProfile(ref), ref));
    } catch {
      // An invalid profile file must not hide the valid ones; `profiles.plan` on it says what is wrong.
    }
  }
  return out;
}

const platformName = (): 'linux' | 'windows' | null =>
  process.platform === 'linux' ? 'linux' : process.platform === 'win32' ? 'windows' : null;

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The built-in profile whose required folders all exist here, so the start screen can suggest it. */
export async function detectProfile(): Promise<{ profileId: string; reason: string } | null> {
  const platform = platformName();
  for (const p of builtinProfiles()) {
    if (p.platform !== platform) continue;
    let items;
    try {
      items = resolveItems(p);
    } catch {
      continue; // %VAR% unset: not this product
    }
    const required = items.filter((i) => i.required);
    const found = await Promise.all(required.map((i) => isDir(i.path)));
    if (required.length > 0 && found.every(Boolean)) {
      return { profileId: p.id, reason: `Found ${required.map((i) => i.path).join(' and ')}.` };
    }
  }
  return null;
}
