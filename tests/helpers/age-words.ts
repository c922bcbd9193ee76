import { describeAge } from '../../src-main/engine/schedule/backup-record.js';

/**
 * The age words ("just now", "1 minute ago", …) a screen may truthfully show for a backup made at `createdAt`
 * when it was read between `from` and `to` (ms since the epoch), as a regex alternation. "just now" alone would
 * only hold on a machine fast enough to get there within the minute.
 */
export function ageWordsBetween(createdAt: string, from: number, to: number): string {
  const made = Date.parse(createdAt);
  const words = new Set<string>();
  // The words change at most once a minute: sampling every 30 s between the two ends sees each of them.
  for (let t = from; t < to; t += 30_000) words.add(describeAge(t - made));
  words.add(describeAge(to - made));
  return `(?:${[...words].map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
}
