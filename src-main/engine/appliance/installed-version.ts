import { runTool } from '../media/run-tool.js';
import type { Profile } from '../profiles/schema.js';
import { boundText } from '../profiles/safe-pattern.js';

type VersionCommand = NonNullable<Profile['version']['command']>;

/**
 * The installed version from the package database when the product's API does not answer (it is stopped, or
 * broken): `dpkg-query -W osisoft.edgedatastore` prints "osisoft.edgedatastore\t1.1.1.46"; on Windows the
 * product's entry under the Uninstall registry key has a DisplayVersion. No shell: argv as the profile gives it.
 * Never throws: null with the reason.
 */
export async function versionFromCommand(
  c: VersionCommand,
  platform: NodeJS.Platform = process.platform,
): Promise<{ version: string | null; from: string }> {
  const argv = platform === 'win32' && c.windows !== undefined ? c.windows : c.argv;
  const from = argv.join(' ');
  if (argv.length === 0) return { version: null, from };
  const r = await runTool(argv[0]!, argv.slice(1), 10_000);
  if (r.code !== 0) return { version: null, from };
  const m = new RegExp(c.pattern, 'm').exec(boundText(r.stdout));
  const v = m?.[1] ?? m?.[0] ?? null;
  return { version: v === null || v.trim() === '' ? null : v.trim(), from };
}
