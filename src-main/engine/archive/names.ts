// Names and constants of the archive format, apart from the code that writes it: the host side (archive/index)
// and the CLI need them without loading the writer or age.

/**
 * Level 1 by measurement (scripts/bench.ts, BENCH_SCALE=0.1, mixed data): level 3 gave the same size
 * ratio (0.454 / 0.462) but was up to 2× slower on 10 KiB files (27 vs 56 MB/s). Random and zero blocks
 * gain nothing from effort; the technician waits for throughput, not for the last percent.
 */
export const DEFAULT_GZIP_LEVEL = 1;

export const ITEM_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

export function archiveBaseName(encrypted: boolean): string {
  return encrypted ? 'data.tar.gz.age' : 'data.tar.gz';
}
