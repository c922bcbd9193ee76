import { promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * A folder for profile files that a schedule trusts: made by root with mode 700 under /var/lib (root's, 755, on the
 * system's own filesystem), so the file and every folder above it are root's and not writable by others
 * (rootOnlyProblem in src-main/engine/profiles/trust.ts). A file in a test's temp folder under /tmp (sticky,
 * writable by all) is untrusted, and `schedule install` / `schedule run` refuse it. Needs root.
 */
export interface RootOnlyProfiles {
  dir: string;
  /** Writes `text` as `<dir>/<name>` (root's, mode 644) and returns its path. */
  put(name: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

export async function rootOnlyProfiles(prefix: string): Promise<RootOnlyProfiles> {
  if (process.getuid?.() !== 0) throw new Error('rootOnlyProfiles needs root (a folder under /var/lib)');
  const dir = await fsp.mkdtemp(`/var/lib/erw-${prefix}-${process.pid}-`);
  await fsp.chmod(dir, 0o700);
  return {
    dir,
    async put(name, text) {
      const file = path.join(dir, name);
      await fsp.writeFile(file, text, { mode: 0o644 });
      await fsp.chmod(file, 0o644);
      return file;
    },
    remove: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}
