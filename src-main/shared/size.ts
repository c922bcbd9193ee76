/**
 * The one way sizes are written, on every screen, in the CLI, the step summaries and the report: binary units
 * ("7.1 KiB", "941 MiB"), one decimal below 100 and none from 100, whole bytes under 1 KiB ("1 byte", "12 bytes").
 * The engine's summaries and the wizard's own figures sit on one screen; two rules there read as two sizes
 * ("7.06 KiB" above "7.1 KiB"). Pure: the renderer imports it too (no Node, no Electron).
 */
const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'unknown size';
  if (n < 0) return `-${formatBytes(-n)}`;
  const whole = Math.round(n);
  if (whole < 1024) return `${whole} ${whole === 1 ? 'byte' : 'bytes'}`;
  let v = whole;
  let i = -1;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  // Rounded as written: 99.96 is "100", and 1023.7 of a unit is "1.0" of the next, never "1024 KiB".
  let text = v.toFixed(1);
  if (Number(text) >= 100) text = v.toFixed(0);
  if (text === '1024' && i < UNITS.length - 1) {
    text = '1.0';
    i++;
  }
  return `${text} ${UNITS[i]}`;
}
