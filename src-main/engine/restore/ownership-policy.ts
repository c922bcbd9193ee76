import type { Ownership } from '../profiles/schema.js';

/**
 * The ownership policy as pure rules: which mode a path should have. Paths are relative to the item's
 * parent with the item id first ("Configuration/certs/a.key"), like the profile's exception globs.
 */

type GlobToken = 'any' | 'star' | 'span' | 'opt' | { lit: string };

/**
 * `**` spans folders, `*` and `?` stay inside one name; everything else is literal. Matched by a walk over the
 * path that keeps the set of places the glob can be at (time: the glob's length times the path's), not by a
 * backtracking regular expression: the paths come from a stick and the glob from a profile, and a regular
 * expression of `*a*` names (as in `*a*` / `*a*` / `*a*` / `*a*` / b) takes seconds on one path of 250 characters,
 * growing with the power of the number of names.
 */
export function globMatcher(glob: string): { test(relPath: string): boolean } {
  const toks: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // "**/" also matches no folder at all: "a/**/b" matches "a/b" ('opt' skips its "**" and "/").
        if (glob[i + 2] === '/') {
          toks.push('opt', 'span', { lit: '/' });
          i += 2;
        } else {
          toks.push('span');
          i += 1;
        }
      } else toks.push('star');
    } else if (c === '?') toks.push('any');
    else toks.push({ lit: c });
  }
  if (toks.every((t) => typeof t === 'object')) return { test: (s) => s === glob };
  // Most paths differ from a glob in its literal start or end ("Configuration/", ".key"): a quick no.
  const lits = (list: GlobToken[]): string => {
    const n = list.findIndex((t) => typeof t !== 'object');
    return (n === -1 ? list : list.slice(0, n)).map((t) => (t as { lit: string }).lit).join('');
  };
  const head = lits(toks);
  const tail = [...lits([...toks].reverse())].reverse().join('');
  const end = toks.length;
  // Per place: what it is (LIT, ANY, STAR, SPAN, OPT) and, for a literal, its character code.
  const kind = Int8Array.from(toks, (t) => (typeof t === 'object' ? LIT : KIND[t]));
  const code = Int32Array.from(toks, (t) => (typeof t === 'object' ? t.lit.charCodeAt(0) : -1));
  let cur = new Int32Array(end + 1);
  let next = new Int32Array(end + 1);
  const seen = new Uint32Array(end + 1);
  let round = 0;
  /** Adds `at` and the places reachable from it without taking a character; returns the list's new length. */
  const add = (list: Int32Array, n: number, at: number): number => {
    if (seen[at] === round) return n;
    seen[at] = round;
    list[n++] = at;
    const k = kind[at];
    if (k === STAR || k === SPAN) return add(list, n, at + 1);
    if (k === OPT) return add(list, add(list, n, at + 1), at + 3);
    return n;
  };
  const SLASH = 47;
  return {
    test(s) {
      if (!s.startsWith(head) || !s.endsWith(tail)) return false;
      // The literal start is matched: the walk begins after it.
      round++;
      let n = add(cur, 0, head.length);
      for (let i = head.length; i < s.length && n > 0; i++) {
        const ch = s.charCodeAt(i);
        round++;
        let m = 0;
        for (let j = 0; j < n; j++) {
          const at = cur[j]!;
          const k = kind[at];
          if (k === SPAN || (k === STAR && ch !== SLASH)) m = add(next, m, at);
          else if ((k === ANY && ch !== SLASH) || (k === LIT && code[at] === ch)) m = add(next, m, at + 1);
        }
        [cur, next] = [next, cur];
        n = m;
      }
      for (let j = 0; j < n; j++) if (cur[j] === end) return true;
      return false;
    },
  };
}

const [LIT, ANY, STAR, SPAN, OPT] = [0, 1, 2, 3, 4];
const KIND = { any: ANY, star: STAR, span: SPAN, opt: OPT } as const;

export interface CompiledPolicy {
  user: string;
  group: string;
  modeFor(relPath: string, kind: 'dir' | 'file'): number;
}

export function compilePolicy(o: Ownership): CompiledPolicy {
  const rules = o.exceptions.map((e) => ({ re: globMatcher(e.glob), dirMode: e.dirMode, fileMode: e.fileMode }));
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
