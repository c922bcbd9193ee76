export type VersionPolicy = 'same' | 'same-or-newer' | 'any';

function parts(v: string, n: number): number[] | undefined {
  const m = /^\s*v?(\d+(?:\.\d+)*)/.exec(v);
  if (!m) return undefined;
  const nums = m[1]!.split('.').map(Number).slice(0, n);
  while (nums.length < n) nums.push(0);
  return nums;
}

function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Whether a backup made on `backupVersion` may be restored onto `installedVersion`, comparing only the
 * first `significantParts` numeric parts ("1.1.1.46" with 3 → 1.1.1; missing parts count as 0).
 */
export function checkVersion(
  policy: VersionPolicy,
  significantParts: number,
  backupVersion: string,
  installedVersion: string,
): { ok: boolean; reason: string } {
  if (policy === 'any') {
    return {
      ok: true,
      reason: `Any installed version is accepted (backup ${backupVersion}, installed ${installedVersion}).`,
    };
  }
  const b = parts(backupVersion, significantParts);
  const i = parts(installedVersion, significantParts);
  if (b === undefined || i === undefined) {
    const bad =
      b === undefined ? `the backup's version "${backupVersion}"` : `the installed version "${installedVersion}"`;
    return { ok: false, reason: `Cannot compare versions: ${bad} is not a dotted number.` };
  }
  const bs = b.join('.');
  const is = i.join('.');
  const d = cmp(i, b);
  if (policy === 'same') {
    return d === 0
      ? {
          ok: true,
          // The parts compared, only when they are not the whole version ("5.3.2 matches 5.3.2 (5.3.2)").
          reason: `The installed version ${installedVersion} matches the backup's ${backupVersion}${
            bs === backupVersion.trim().replace(/^v/, '') && is === installedVersion.trim().replace(/^v/, '')
              ? ''
              : ` (the first ${significantParts} parts compared: ${bs})`
          }.`,
        }
      : {
          ok: false,
          reason: `The backup was made on version ${backupVersion} but ${installedVersion} is installed; this product needs the same version (${bs}, found ${is}). Install ${bs} first.`,
        };
  }
  return d >= 0
    ? {
        ok: true,
        reason: `The installed version ${installedVersion} is the same as or newer than the backup's ${backupVersion}.`,
      }
    : {
        ok: false,
        reason: `The backup was made on version ${backupVersion}, which is newer than the installed ${installedVersion}. Install ${bs} or newer first.`,
      };
}
