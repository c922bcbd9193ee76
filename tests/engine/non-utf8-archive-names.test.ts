import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

// Debian's python3 (CI installs it).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * A hand-made archive (GNU tar of a tree with an ISO-8859-1 name, `caf\xE9.json`) holds a name that is not UTF-8.
 * Read with replacement characters, `verify` said "every entry acceptable" and the restore wrote the file as
 * `caf\uFFFD.json`: another name than the product had, silently (two names differing only in their bad bytes even
 * collapsed into one "duplicate entry"). Names are now checked as names (tar-header.ts utf8Name): refused with
 * their bytes shown, in the header, in a GNU long-name record and in a pax path.
 */
describe('a hand-made archive holding a name that is not UTF-8', () => {
  let work: string;
  let archive: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'non-utf8-archive-'));
    archive = path.join(work, 'latin1.tar.gz');
    execFileSync(PYTHON, [
      '-c',
      `
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w:gz', format=tarfile.GNU_FORMAT, encoding='iso-8859-1') as t:
    d = tarfile.TarInfo('Configuration'); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    f = tarfile.TarInfo('Configuration/caf\\xe9.json'); f.size = 3; t.addfile(f, io.BytesIO(b'{}\\n'))
`,
      archive,
    ]);
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('verify refuses it (exit 3), naming the entry, instead of reading it as caf\uFFFD.json', async () => {
    const r = await runCli(['verify', archive, '--profile', 'eds-linux']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/Configuration\/caf\\xE9\.json" is not UTF-8/);
  });

  it('refuses it in a GNU long-name record too', async () => {
    const long = path.join(work, 'long.tar.gz');
    execFileSync(PYTHON, [
      '-c',
      `
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w:gz', format=tarfile.GNU_FORMAT, encoding='iso-8859-1') as t:
    d = tarfile.TarInfo('Configuration'); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    f = tarfile.TarInfo('Configuration/' + 'x' * 120 + '\\xe9.json'); f.size = 3; t.addfile(f, io.BytesIO(b'{}\\n'))
`,
      long,
    ]);
    const r = await runCli(['verify', long, '--profile', 'eds-linux']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/x\\xE9\.json" is not UTF-8/);
  });
});
