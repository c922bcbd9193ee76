/**
 * Text from a stick (host names, device ids, profile ids, paths in an archive) reaches terminals, logs and
 * report files. Control characters in it could move the cursor, rewrite earlier lines, set the window title
 * or start new lines in a text file (HTML escaping does not stop a newline); bidi overrides can make a path
 * read as another. They are replaced by U+FFFD, visibly, never passed on.
 */
// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** One line of printable text: every control character (newlines included) becomes U+FFFD. */
export function cleanLine(s: string): string {
  return s.replace(CONTROL, '\ufffd');
}

/** Like cleanLine but keeps newlines (multi-line messages of our own that may quote stick text). */
export function cleanText(s: string): string {
  return s
    .split('\n')
    .map((l) => cleanLine(l))
    .join('\n');
}

/** A JSON value with every string cleaned (cleanLine), for documents read from a stick. */
export function cleanStrings<T>(v: T): T {
  if (typeof v === 'string') return cleanLine(v) as T;
  if (Array.isArray(v)) return v.map((x) => cleanStrings(x)) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[cleanLine(k)] = cleanStrings(x);
    return out as T;
  }
  return v;
}
