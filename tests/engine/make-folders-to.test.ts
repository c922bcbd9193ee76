import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFoldersTo } from '../../src-main/engine/util/atomic-fs.js';
import { linkedFolder } from '../../src-main/engine/util/linked-folder.js';
import { shAs } from '../helpers/as-account.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * makeFoldersTo: `mkdir -p` for root that follows only the links no other account could have put (root's, in a
 * folder only root may write or a sticky one), so a system's or an administrator's links still lead where they
 * should, and a link a product's account put in a folder of its own leads nowhere.
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (a second, unprivileged account)' : undefined;
const OWNER = 'edge-rt';

describe.skipIf(blocked !== undefined)('makeFoldersTo', () => {
  let dir = '';
  beforeAll(async () => {
    ensureTestOwner(OWNER);
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'make-folders-to-'));
    await fsp.chmod(dir, 0o755);
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("follows root's own links in root's folders (absolute and relative, with ..) and makes the folders there", async () => {
    const disk = path.join(dir, 'data-disk');
    await fsp.mkdir(disk);
    await fsp.mkdir(path.join(dir, 'opt'));
    await fsp.symlink(disk, path.join(dir, 'opt', 'product'));
    await fsp.symlink('../opt/product', path.join(dir, 'opt', 'again'));
    await makeFoldersTo(path.join(dir, 'opt', 'product', 'a', 'b'));
    await makeFoldersTo(path.join(dir, 'opt', 'again', 'c'));
    expect((await fsp.readdir(disk)).sort()).toEqual(['a', 'c']);
    expect(await fsp.readdir(path.join(disk, 'a'))).toEqual(['b']);
    // Already there: nothing to make, nothing refused.
    await makeFoldersTo(path.join(dir, 'opt', 'product', 'a', 'b'));
  });

  it("refuses a link in another account's folder, and a link of another account's, making nothing where they lead", async () => {
    const victim = path.join(dir, 'root-only');
    await fsp.mkdir(victim, { mode: 0o700 });
    const own = path.join(dir, 'account');
    await fsp.mkdir(own);
    execFileSync('chown', [`${OWNER}:${OWNER}`, own]);
    shAs(OWNER, 'ln -s "$2" "$1/data"', own, victim);
    // Root's own link, but in a folder the account may write (it could have replaced it).
    await fsp.symlink(victim, path.join(own, 'roots-link'));
    for (const via of ['data', 'roots-link']) {
      const e = await makeFoldersTo(path.join(own, via, 'new', 'Configuration')).catch((x: unknown) => x);
      expect((e as { code?: string }).code, via).toBe('UNSAFE_PATH');
      expect((e as Error).message).toContain(path.join(own, via));
    }
    expect(await fsp.readdir(victim)).toEqual([]);
  });

  it("refuses root's link under a second name another account gave it in a sticky folder (a hard link)", async () => {
    // A sticky folder of root's, as /tmp: root's own link there is followed (no one else may rename it) …
    const sticky = path.join(dir, 'tmp');
    await fsp.mkdir(sticky);
    await fsp.chmod(sticky, 0o1777);
    const ok = path.join(dir, 'ok-disk');
    await fsp.mkdir(ok);
    await fsp.symlink(ok, path.join(sticky, 'roots-own'));
    await makeFoldersTo(path.join(sticky, 'roots-own', 'made'));
    expect(await fsp.readdir(ok)).toEqual(['made']);
    // … but another account may give one of root's links elsewhere (as /var/run -> /run) a name of its choosing there:
    // a hard link to the link, owned by root. With fs.protected_hardlinks=0 (the kernel's default, when no sysctl
    // sets it) an unprivileged account may make it (ln /var/run /tmp/product); made here by root, which may always.
    const victim = path.join(dir, 'root-only-run');
    await fsp.mkdir(victim, { mode: 0o700 });
    const roots = path.join(dir, 'var');
    await fsp.mkdir(roots);
    await fsp.symlink(victim, path.join(roots, 'run'));
    await fsp.link(path.join(roots, 'run'), path.join(sticky, 'product'));
    const e = await makeFoldersTo(path.join(sticky, 'product', 'data', 'Configuration')).catch((x: unknown) => x);
    expect({ code: (e as { code?: string }).code, inVictim: await fsp.readdir(victim) }).toEqual({
      code: 'UNSAFE_PATH',
      inVictim: [],
    });
    // The by-name judge of the same rule (a profile's folder that is a link: linkedFolder, resolveTrusted) too.
    expect(await linkedFolder(path.join(sticky, 'roots-own')).catch((x: unknown) => x)).toBe(ok);
    const l = await linkedFolder(path.join(sticky, 'product')).catch((x: unknown) => x);
    expect((l as { code?: string }).code).toBe('UNSAFE_PATH');
  });
});
