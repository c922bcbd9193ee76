import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../engine/errors.js';
import { procFdPath } from '../engine/util/atomic-fs.js';
import { openRegularFile, readOpenedCapped } from '../engine/util/given-path.js';
import { isInside } from '../engine/util/path-inside.js';

const MAX_REPORT_BYTES = 8 * 1024 * 1024;

/** Strictly under `parent` (a report is a file in the folder, never the folder itself). */
function inside(parent: string, child: string): boolean {
  return path.resolve(parent) !== path.resolve(child) && isInside(parent, child);
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
 * resolving symlinks, so a link in a report folder cannot point elsewhere, and the file is read from the
 * descriptor of what was checked (a folder a stick or a local user controls can change under the path).
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
    // By descriptor from here: the name is opened once, only as a regular file, never through a link (a name that
    // became a link, a FIFO or a device after the checks above is refused, not followed, waited on or opened), and
    // what was opened is checked again where the kernel says it is.
    const opened = await openRegularFile(real, { noFollow: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT')
        throw new RecoveryError('BACKUP_NOT_FOUND', `The report ${requested} does not exist (any more).`);
      throw denied;
    });
    if (opened.fh === null) throw denied;
    const { fh, st } = opened;
    try {
      if (st.size > MAX_REPORT_BYTES) throw denied;
      if (process.platform === 'linux') {
        const at = await fsp.readlink(procFdPath(fh.fd)).catch(() => null);
        if (at === null || !(await this.allowed(at))) throw denied;
      }
      // At most its size and one byte: a report that grows while it is read is refused, never read without end.
      const bytes = await readOpenedCapped(fh, st.size);
      if (bytes === null) throw new RecoveryError('BAD_INPUT', `The report ${requested} changed while it was read.`);
      return bytes.toString('utf8');
    } finally {
      await fh.close();
    }
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
