import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../engine/errors.js';

const MAX_REPORT_BYTES = 8 * 1024 * 1024;

function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function realOrNull(p: string): Promise<string | null> {
  try {
    return await fsp.realpath(p);
  } catch {
    return null;
  }
}

/**
 * The renderer may show recovery reports, and nothing else from the disk: an HTML file under a known report
 * folder, or a `report-*.html` in (or beside) a backup set the app itself listed. Paths are compared after
 * resolving symlinks, so a link in a report folder cannot point elsewhere.
 */
export class ReportAccess {
  private readonly listedBackups = new Set<string>();

  constructor(private readonly reportDirs: () => string[]) {}

  rememberBackups(paths: string[]): void {
    for (const p of paths) this.listedBackups.add(path.resolve(p));
  }

  async read(requested: string): Promise<string> {
    const denied = new RecoveryError('BAD_INPUT', `The app only opens its own recovery reports, not ${requested}.`, {
      hint: 'Open the report from the backup list or the end of a restore.',
    });
    if (!requested.toLowerCase().endsWith('.html') || !path.isAbsolute(requested)) throw denied;
    // Checked on the path as given first, so the answer never tells whether some other file exists.
    if (!(await this.allowed(path.resolve(requested)))) throw denied;
    const real = await realOrNull(requested);
    if (real === null) {
      throw new RecoveryError('BACKUP_NOT_FOUND', `The report ${requested} does not exist (any more).`);
    }
    if (!(await this.allowed(real))) throw denied;
    const st = await fsp.stat(real);
    if (!st.isFile() || st.size > MAX_REPORT_BYTES) throw denied;
    return fsp.readFile(real, 'utf8');
  }

  private async allowed(real: string): Promise<boolean> {
    for (const d of this.reportDirs()) {
      const rd = await realOrNull(d);
      if (inside(path.resolve(d), real) || (rd !== null && inside(rd, real))) return true;
    }
    if (!/^report-[^/\\]*\.html$/i.test(path.basename(real))) return false;
    const dir = path.dirname(real);
    for (const b of this.listedBackups) {
      const rb = await realOrNull(b);
      for (const c of rb === null ? [b] : [b, rb]) if (dir === c || dir === path.dirname(c)) return true;
    }
    return false;
  }
}
