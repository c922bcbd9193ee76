import type { Ownership } from '../profiles/schema.js';

/**
 * The ownership policy as pure rules: which mode a path should have. Paths are relative to the item's
 * parent with the item id first ("Configuration/certs/a.key"), like the profile's exception globs.
 */

/** `**` spans folders, `*` and `?` stay inside one name; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // "**/" also matches no folder at all: "a/**/b" matches "a/b".
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

export interface CompiledPolicy {
  user: string;
  group: string;
  modeFor(relPath: string, kind: 'dir' | 'file'): number;
}

export function compilePolicy(o: Ownership): CompiledPolicy {
  const rules = o.exceptions.map((e) => ({ re: globToRegExp(e.glob), dirMode: e.dirMode, fileMode: e.fileMode }));
  return {
    user: o.user,
    group: o.group,
    modeFor(rel, kind) {
      let mode = kind === 'dir' ? o.dirMode : o.fileMode;
      // Later exceptions win, like later lines in a config file.
      for (const r of rules) {
        const m = kind === 'dir' ? r.dirMode : r.fileMode;
        if (m !== undefined && r.re.test(rel)) mode = m;
      }
      return mode;
    },
  };
}
