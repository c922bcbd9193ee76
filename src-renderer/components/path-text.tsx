import { shortenPaths } from '../lib/short-paths.js';

/** Text with its folders shortened to their names; the full text is the tooltip (and `full` shows it inline). */
export function PathText({ text, full = false }: { text: string; full?: boolean }) {
  const short = shortenPaths(text);
  if (full || short === text) return <>{text}</>;
  return <span title={text}>{short}</span>;
}
