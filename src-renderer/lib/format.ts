/** Plain-words formatting for sizes, rates and times; pure so tests and every screen agree. */

import { formatBytes as sizeText } from '../../src-main/shared/size.js';

/** A size by the engine's own rule (src-main/shared/size.ts), so a step's summary and the meter beside it agree. */
export function formatBytes(n: number | null | undefined): string {
  return n === null || n === undefined ? 'unknown size' : sizeText(n);
}
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.max(0, Math.round(bytesPerSecond)))}/s`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return 'estimating…';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatCount(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // UTC with the zone spelled out: backups are named in UTC and technicians compare them across sites.
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
