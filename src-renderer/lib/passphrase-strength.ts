/**
 * A rough, explainable strength estimate for the backup passphrase. It only guides the technician; the engine
 * accepts any non-empty passphrase.
 */
export type Strength = { score: 0 | 1 | 2 | 3 | 4; label: string; advice: string };

export function passphraseStrength(p: string): Strength {
  if (!p) return { score: 0, label: 'Empty', advice: 'Type a passphrase.' };
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(p)).length;
  const words = p.trim().split(/\s+/).length;
  const unique = new Set(p).size;
  let bits = p.length * Math.log2(Math.max(10, classes * 20));
  if (unique < p.length / 3) bits /= 2;
  if (words >= 4) bits = Math.max(bits, 60);
  if (bits < 35) return { score: 1, label: 'Weak', advice: 'Use at least 12 characters, or four unrelated words.' };
  if (bits < 55) return { score: 2, label: 'Fair', advice: 'Longer is better: add another word.' };
  if (bits < 75) return { score: 3, label: 'Good', advice: 'Write it down and keep it apart from the stick.' };
  return { score: 4, label: 'Strong', advice: 'Write it down and keep it apart from the stick.' };
}
