/**
 * The environment every program this tool starts gets: what programs need to run (PATH, locale, time zone, the
 * Windows system folders), nothing of ours. The tool may hold secrets in its own environment (a passphrase
 * variable, a token); a child, such as a product service started after a restore, would keep them for its life.
 */
const KEEP_POSIX = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'LC_MESSAGES',
  'TZ',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
];
const KEEP_WINDOWS = [
  'PATH',
  'PATHEXT',
  'SystemRoot',
  'windir',
  'SystemDrive',
  'ProgramData',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'CommonProgramFiles',
  'ALLUSERSPROFILE',
  'TEMP',
  'TMP',
  'COMSPEC',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
  'USERNAME',
  'COMPUTERNAME',
  'NUMBER_OF_PROCESSORS',
  'PROCESSOR_ARCHITECTURE',
  'OS',
];

export function childEnv(
  extra: Record<string, string> = {},
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of platform === 'win32' ? KEEP_WINDOWS : KEEP_POSIX) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  return { ...out, ...extra };
}
