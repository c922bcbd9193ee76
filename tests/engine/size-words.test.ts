import { describe, expect, it } from 'vitest';
import { evaluateDrive } from '../../src-main/engine/media/drive-rules.js';
import { formatBytes as engineSize } from '../../src-main/engine/progress.js';
import { GB, stick } from '../helpers/drive-facts.js';
import { formatBytesIec } from '../../src-main/engine/report/render-html.js';
import { formatBytes as screenSize, formatRate } from '../../src-renderer/lib/format.js';

/**
 * One rule for sizes wherever a technician reads one: the engine's step summaries ("Wrote 1 file, 7.06 KiB") sat
 * on the wizard's screen beside its own meter ("7.1 KiB of 7.1 KiB"), and the drive rules' reasons said "2.0 GB"
 * beside the picker's "1.9 GiB".
 */
const SIZES = [
  0,
  1,
  8,
  1023,
  1023.6,
  1024,
  7230,
  10 * 1024,
  99.96 * 1024,
  1024 * 1024 - 1,
  1e9,
  2e9,
  16e9,
  3 * 1024 ** 4,
];

describe('sizes in words', () => {
  it('the engine, the wizard and the report write every size the same way', () => {
    for (const n of SIZES) {
      expect(screenSize(n), String(n)).toBe(engineSize(n));
      if (n >= 1024)
        expect(formatBytesIec(n), String(n)).toMatch(new RegExp(`^${engineSize(n).replace('.', '\\.')} \\(`));
    }
  });

  it('binary units, one decimal below 100 and none from 100, whole bytes under 1 KiB', () => {
    expect(SIZES.map(engineSize)).toEqual([
      '0 bytes',
      '1 byte',
      '8 bytes',
      '1023 bytes',
      '1.0 KiB',
      '1.0 KiB',
      '7.1 KiB',
      '10.0 KiB',
      '100 KiB',
      '1.0 MiB',
      '954 MiB',
      '1.9 GiB',
      '14.9 GiB',
      '3.0 TiB',
    ]);
    expect(formatRate(1536.4)).toBe('1.5 KiB/s');
    expect(formatBytesIec(987_654_321)).toBe('942 MiB (987,654,321 bytes)');
    expect(formatBytesIec(8)).toBe('8 bytes');
  });

  it("the drive rules' reasons use the rule the drive picker shows sizes in", () => {
    const v = evaluateDrive(stick({}, { fsType: 'exfat', freeBytes: 1 * GB }), { minFreeBytes: 2 * GB });
    expect(v.reasons[0]!.message).toContain(
      `Only ${screenSize(GB)} free; the backup needs about ${screenSize(2 * GB)}.`,
    );
  });
});
