/**
 * The one rule for a new backup's passphrase, wherever one is set: typed in the wizard or at the CLI's prompt, read
 * from --passphrase-file, or a schedule's passphrase file. The wizard took one character while the CLI's prompt
 * asked for eight. Pure: the renderer imports it too (no Node, no Electron).
 */
export const MIN_PASSPHRASE_LENGTH = 8;

/** Why `p` cannot protect a new backup, or null. */
export function newPassphraseProblem(p: string): string | null {
  return p.length < MIN_PASSPHRASE_LENGTH
    ? `Use a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters (12 or more, or four unrelated words, is better).`
    : null;
}
