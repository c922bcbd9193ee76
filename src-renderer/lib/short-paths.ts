/**
 * Summaries and confirmations name folders by their full path, which at 1366 px wraps into walls of text broken
 * mid-word. On screen they show the folder's own name; the full text stays one click (or a tooltip) away.
 * A folder inside a hidden work folder (the restore's staging copy, `.edge-recovery-<job>/Configuration`) keeps
 * that parent: by its own name alone it read as the product's folder in use, so the swap showed
 * "…/Configuration → …/Configuration" and a rollback "…/Configuration → deleted (if present)" for the staging copy.
 */
const ABSOLUTE_PATH = /(?:[A-Za-z]:\\|\/)[^\s,;:()"'→]*[^\s,;:()"'→.]/g;

export function shortenPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (p) => {
    const parts = p.split(/[\\/]/).filter((x) => x !== '');
    if (parts.length <= 1) return p;
    const parent = parts[parts.length - 2] ?? '';
    if (parts.length >= 3 && parent.startsWith('.')) return `…/${parent}/${parts[parts.length - 1]}`;
    return `…/${parts[parts.length - 1]}`;
  });
}

export function hasPaths(text: string): boolean {
  ABSOLUTE_PATH.lastIndex = 0;
  const found = ABSOLUTE_PATH.test(text);
  ABSOLUTE_PATH.lastIndex = 0;
  return found;
}
