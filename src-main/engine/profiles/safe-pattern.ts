/**
 * Regular expressions come from profiles, and a profile file may be untrusted input. V8's engine backtracks: a
 * pattern such as `(a+)+$`, `(a|a)*$` or `(.*a){20}` takes seconds to centuries on a line of a few dozen characters
 * (ReDoS). Such shapes are refused when the profile is loaded, naming the field; what is left is matched against a
 * bounded piece of text (`boundText`), so the work of one match stays small.
 *
 * The check is a small parser of the JavaScript pattern syntax (no `u` flag, as the profiles' patterns are
 * compiled) and three rules, each about ambiguity under repetition, where backtracking explodes:
 *   1. nested repetition: a repeated group (`+`, `*`, `{n,}`, `{2,}`…) that holds a count that varies, or an
 *      unbounded repeat of a group holding any repeat: `(a+)+`, `(\d+\.){3}`, `(.*a){20}`, `(a{2,3})*`, `(a?){40}`,
 *      `(a{1,16}){1,16}`;
 *   2. alternatives that can start with the same character (or match nothing), repeated: `(a|a)*`, `(a|ab)+`;
 *   3. repeats in a row that can take the same characters, with nothing between them that the first could not take
 *      too, whose numbers of lengths multiply past MATCH_TEXT_MAX: `.*.*`, `\d+\d*`, `.*x.*y`,
 *      `a{0,16}a{0,16}a{0,16}` (polynomial: seconds on a 4 KiB line).
 * Character sets are compared on a sample alphabet (ASCII, the spaces, and every character the pattern names), with
 * V8 itself deciding membership.
 */

import { z } from 'zod';

/** Every character JavaScript's \s takes (without the u flag \d and \w are ASCII): always in the sample. */
const SPACES =
  '\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
const BASE: string[] = [
  ...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)),
  ...SPACES,
  '\u00e9',
  '\u4e2d',
  '\ud83d',
];

/**
 * The characters sets are compared on: the base sample plus every character the pattern names (literally, as an
 * escape, or as a range's end). Two ranges overlap only if one's end lies in the other, so a set such as
 * [\u0100-\u01ff] is never judged empty, or apart from \u0150, for want of a sample character in it.
 */
function sampleFor(source: string): string[] {
  const chars = new Set<string>(BASE);
  for (const c of source) for (let i = 0; i < c.length; i++) chars.add(c[i]!);
  for (const m of source.matchAll(/\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|c([A-Za-z])|([0-7]{1,3}))/g)) {
    const code =
      m[1] !== undefined
        ? parseInt(m[1], 16)
        : m[2] !== undefined
          ? parseInt(m[2], 16)
          : m[3] !== undefined
            ? m[3].charCodeAt(0) % 32
            : parseInt(m[4]!, 8);
    if (code <= 0xffff) chars.add(String.fromCharCode(code));
  }
  return [...chars];
}

/** The sample of the pattern being checked (patternProblem sets it; the check is synchronous). */
let SAMPLE: string[] = BASE;
let N = SAMPLE.length;
type CharSet = boolean[];

const none = (): CharSet => new Array<boolean>(N).fill(false);
const all = (): CharSet => new Array<boolean>(N).fill(true);
const union = (a: CharSet, b: CharSet): CharSet => a.map((x, i) => x || b[i]!);
const overlaps = (a: CharSet, b: CharSet): boolean => a.some((x, i) => x && b[i]!);
const within = (a: CharSet, b: CharSet): boolean => a.every((x, i) => !x || b[i]!);

/** Sets of the pattern being checked, by atom (its sample is the pattern's own). */
let known = new Map<string, CharSet>();
function setOf(atomSource: string): CharSet {
  const hit = known.get(atomSource);
  if (hit !== undefined) return hit;
  const set = compileSet(atomSource);
  known.set(atomSource, set);
  return set;
}
function compileSet(atomSource: string): CharSet {
  if (atomSource.length === 1) return SAMPLE.map((c) => c === atomSource); // a plain character
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${atomSource})$`);
  } catch {
    return all();
  }
  return SAMPLE.map((c) => re.test(c));
}

interface Item {
  /** The characters it can take (any of its repeats); for a group, all its atoms' together. */
  set: CharSet;
  /** The characters it can start with. */
  first: CharSet;
  min: number;
  max: number; // Infinity when unbounded
  /** Matches the empty string (a zero-width assertion, or a group that can). */
  empty: boolean;
  /** For groups: the alternation inside (lookarounds are kept out of the sets). */
  body?: Alt;
  lookaround?: boolean;
}
interface Seq {
  items: Item[];
}
interface Alt {
  branches: Seq[];
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  alt(): Alt {
    const branches: Seq[] = [this.seq()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.seq());
    }
    return { branches };
  }

  seq(): Seq {
    const items: Item[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.atom();
      const q = this.quantifier();
      items.push(q === null ? atom : this.repeat(atom, q.min, q.max));
    }
    return { items };
  }

  repeat(a: Item, min: number, max: number): Item {
    return { ...a, min: a.min * min, max: a.max * max, empty: a.empty || min === 0 };
  }

  quantifier(): { min: number; max: number } | null {
    const c = this.s[this.i];
    let q: { min: number; max: number } | null = null;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q !== null) this.i++;
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (m === null) return null; // a literal "{" (no u flag)
      this.i += m[0].length;
      const min = Number(m[1]);
      q = { min, max: m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]) };
    }
    if (q !== null && this.s[this.i] === '?') this.i++; // lazy: the same ambiguity
    return q;
  }

  char(source: string): Item {
    const set = setOf(source);
    return { set, first: set, min: 1, max: 1, empty: false };
  }

  zeroWidth(): Item {
    return { set: none(), first: none(), min: 1, max: 1, empty: true };
  }

  atom(): Item {
    const s = this.s;
    const c = s[this.i]!;
    if (c === '^' || c === '$') {
      this.i++;
      return this.zeroWidth();
    }
    if (c === '.') {
      this.i++;
      return this.char('(?:.)'); // not the one-character fast path: "." is any character but line ends
    }
    if (c === '[') {
      let j = this.i + 1;
      if (s[j] === '^') j++;
      for (; j < s.length && s[j] !== ']'; j++) if (s[j] === '\\') j++;
      const src = s.slice(this.i, j + 1);
      this.i = j + 1;
      return this.char(src);
    }
    if (c === '\\') {
      const n = s[this.i + 1] ?? '';
      if (n === 'b' || n === 'B') {
        this.i += 2;
        return this.zeroWidth();
      }
      if (/[1-9]/.test(n) || n === 'k') {
        // A back-reference takes what its group took: any characters, any length.
        this.i += 2;
        if (n === 'k' && s[this.i] === '<') this.i = s.indexOf('>', this.i) + 1 || s.length;
        else while (/[0-9]/.test(s[this.i] ?? '')) this.i++;
        return { set: all(), first: all(), min: 0, max: Infinity, empty: true };
      }
      const m = /^\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|c[A-Za-z]|[\s\S])/.exec(s.slice(this.i));
      const src = m?.[0] ?? '\\';
      this.i += src.length;
      return this.char(src);
    }
    if (c === '(') {
      let lookaround = false;
      this.i++;
      if (s[this.i] === '?') {
        const m = /^\?(:|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(s.slice(this.i));
        const kind = m?.[1] ?? ':';
        lookaround = kind === '=' || kind === '!' || kind === '<=' || kind === '<!';
        this.i += (m?.[0] ?? '?').length;
      }
      const body = this.alt();
      this.i++; // ")"
      if (lookaround) return { ...this.zeroWidth(), body, lookaround };
      const set = body.branches.reduce((a, b) => union(a, seqSet(b)), none());
      const first = body.branches.reduce((a, b) => union(a, seqFirst(b)), none());
      return { set, first, min: 1, max: 1, empty: body.branches.some(seqEmpty), body };
    }
    this.i++;
    return this.char(/[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c);
  }
}

const seqSet = (q: Seq): CharSet => q.items.reduce((a, it) => union(a, it.set), none());
const seqEmpty = (q: Seq): boolean => q.items.every((it) => it.empty);
function seqFirst(q: Seq): CharSet {
  let f = none();
  for (const it of q.items) {
    f = union(f, it.first);
    if (!it.empty) break;
  }
  return f;
}

/** The repeats inside a group body, any depth (lookarounds included: they backtrack too). */
function* inner(a: Alt): Generator<Item> {
  for (const b of a.branches) {
    for (const it of b.items) {
      yield it;
      if (it.body) yield* inner(it.body);
    }
  }
}

/** Bounded counts this large repeat like `*` (a{1,50}a{1,50} is as slow as a*a*). */
const LARGE = 16;
const unbounded = (it: Item): boolean => it.max === Infinity || it.max > LARGE;
/** Takes any number of characters: repeated itself, or a plain group around something that is. */
const growing = (it: Item): boolean =>
  unbounded(it) || (it.body !== undefined && !it.lookaround && [...inner(it.body)].some(unbounded));

/** How many lengths an item can take (MATCH_TEXT_MAX for any number): its count's, times what its group holds. */
function ways(it: Item): number {
  if (growing(it)) return MATCH_TEXT_MAX;
  let n = it.max - it.min + 1;
  if (it.body !== undefined && !it.lookaround) for (const r of inner(it.body)) n *= r.max - r.min + 1;
  return Math.min(n, MATCH_TEXT_MAX);
}

/**
 * The items of a sequence with every group taken exactly once and holding one alternative replaced by its own items
 * (any depth): `(?:\S+\s+)\S+x` is `\S+\s+\S+x` to the engine, and rule 3 must see that `\s+` (not the whole
 * group, which can take any character) is what lies before the last `\S+`.
 */
function inline(items: Item[]): Item[] {
  return items.flatMap((it) =>
    it.body !== undefined && !it.lookaround && it.min === 1 && it.max === 1 && it.body.branches.length === 1
      ? inline(it.body.branches[0]!.items)
      : [it],
  );
}

function problemIn(a: Alt, repeated: boolean): string | null {
  // Rule 2: alternatives under repetition that can start alike.
  if (repeated && a.branches.length > 1) {
    for (let x = 0; x < a.branches.length; x++) {
      const bx = a.branches[x]!;
      if (seqEmpty(bx)) return 'an alternative that can match nothing, repeated (as in (a|)*)';
      for (let y = x + 1; y < a.branches.length; y++) {
        if (overlaps(seqFirst(bx), seqFirst(a.branches[y]!))) {
          return 'alternatives that can match the same text, repeated (as in (a|a)* or (a|ab)+)';
        }
      }
    }
  }
  for (const b of a.branches) {
    for (let k = 0; k < b.items.length; k++) {
      const it = b.items[k]!;
      if (it.body) {
        const reps = [...inner(it.body)];
        // Rule 1: nested repetition. A group taken more than once must take the same length each time: one
        // variable count inside ((a?){40}, (a{1,16}){1,16}: no count is unbounded) multiplies the ways to split.
        if ((unbounded(it) && reps.some((r) => r.max > 1)) || (it.max > 1 && reps.some((r) => r.max > r.min))) {
          return 'a repeated group that holds a repeat itself (nested quantifiers, as in (a+)+ or (.*a){20})';
        }
        const p = problemIn(it.body, repeated || it.max > 1);
        if (p !== null) return p;
      }
    }
    const items = inline(b.items);
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      // Rule 3: the next items of varying length that can take what this one takes, with only what this one takes
      // between: each multiplies the ways to split the text (a{0,16}a{0,16}a{0,16}a{0,16}b: 17^4 per start).
      if (ways(it) === 1) continue;
      let cost = ways(it);
      for (let j = k + 1; j < items.length; j++) {
        const next = items[j]!;
        if (ways(next) > 1 && overlaps(it.set, next.first)) {
          cost *= ways(next);
          if (cost > MATCH_TEXT_MAX) {
            return 'repeats one after the other that can match the same characters (as in .*.*, .*x.*y or a{0,16}a{0,16}a{0,16})';
          }
        }
        if (!next.empty && !within(next.set, it.set)) break;
      }
    }
  }
  return null;
}

/**
 * Why `source` is refused as a profile's pattern, or null: not a valid regular expression, or a shape whose
 * matching time can explode. Takes well under a millisecond for a pattern of a profile's size.
 */
export function patternProblem(source: string): string | null {
  try {
    new RegExp(source);
  } catch (e) {
    return `is not a valid regular expression (${(e as Error).message})`;
  }
  if (source.length > 1000) return 'is longer than 1000 characters';
  SAMPLE = sampleFor(source);
  N = SAMPLE.length;
  known = new Map();
  const p = new Parser(source);
  const why = problemIn(p.alt(), false);
  return why === null
    ? null
    : `can take exponential or very long time to match (ReDoS): ${why}. Write it without that shape, e.g. [^x]* instead of .* before an x, or a bounded count such as {1,10}`;
}

/** The most text one pattern is run against: lines, a prompt's last output, a version file. */
export const MATCH_TEXT_MAX = 4096;

/** The first MATCH_TEXT_MAX characters of a line or file (or the last ones, where the end matters: a prompt). */
export function boundText(text: string, keep: 'start' | 'end' = 'start'): string {
  if (text.length <= MATCH_TEXT_MAX) return text;
  return keep === 'start' ? text.slice(0, MATCH_TEXT_MAX) : text.slice(-MATCH_TEXT_MAX);
}

/**
 * A profile's glob becomes a regular expression too (`*` → [^/]*, `**` → .*), matched against every restored path
 * (ownership exceptions) or file name (collected artifacts), which come from a stick. Each `*` in a name, and each
 * `**` in the glob, adds a degree to what backtracking can cost: at most two of each keep it to a few milliseconds
 * on a 4 KiB path, whatever the path.
 */
export function globProblem(glob: string): string | null {
  if (glob.length > 1000) return 'is longer than 1000 characters';
  const spans = glob.match(/\*\*/g)?.length ?? 0;
  if (spans > 2) return `has ${spans} "**"; at most 2 are allowed (matching time grows with each)`;
  for (const part of glob.replace(/\*\*/g, '').split('/')) {
    const stars = part.match(/\*/g)?.length ?? 0;
    if (stars > 2)
      return `has ${stars} "*" in one name ("${part}"); at most 2 are allowed (matching time grows with each)`;
  }
  return null;
}

/** A profile field holding a glob (see globProblem). */
export const SafeGlob = z.string().superRefine((s, ctx) => {
  const problem = globProblem(s);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

/** A profile field holding a regular expression: valid, and of no shape that can explode (the issue says why). */
export const SafePattern = z.string().superRefine((s, ctx) => {
  const problem = patternProblem(s);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});
