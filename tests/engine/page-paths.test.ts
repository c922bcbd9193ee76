import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecoveryError } from '../../src-main/engine/errors.js';
import { mkdirNoFollow } from '../../src-main/engine/util/atomic-fs.js';
import { createHandlers } from '../../src-main/host/handlers.js';
import { judgeMedium, judgeSourceFolders, type PagePlaces } from '../../src-main/host/page-paths.js';
import { uidForUser } from '../../src-main/engine/util/system-users.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { installFakeLsblk } from '../helpers/fake-lsblk.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';

let base: string;

beforeAll(async () => {
  base = await fsp.mkdtemp(path.join(os.tmpdir(), 'page-paths-'));
});
afterAll(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

function places(p: Partial<{ sandboxes: string[]; sticks: string[]; own: string[]; mounts: string[] }>): PagePlaces {
  return {
    sandboxes: () => p.sandboxes ?? [],
    practiceSticks: () => p.sticks ?? [],
    ownLocations: async () => p.own ?? [],
    removableMounts: async () => p.mounts ?? [],
  };
}

async function refusal(p: Promise<unknown>): Promise<RecoveryError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'expected a refusal').toBeInstanceOf(RecoveryError);
  expect((e as RecoveryError).code).toBe('PATH_REFUSED');
  expect((e as RecoveryError).message).toMatch(/Nothing was (read or )?changed\.$/);
  return e as RecoveryError;
}

/** A profile whose product runs as `user` (only what judgeSourceFolders reads of it). */
const productProfile = (user?: string) =>
  user === undefined
    ? { id: 'test-product' }
    : { id: 'test-product', ownership: { user, group: user, exceptions: [] } as never };

describe("a backup's folders from the page (profiles.plan, backup.start): the product account's own", () => {
  const account = 'edge-pp';
  let uid: number;
  beforeAll(() => {
    ensureTestOwner(account);
    uid = uidForUser(account)!;
  });

  async function folderOf(name: string, owner: number): Promise<string> {
    const d = path.join(base, 'product', name);
    await fsp.mkdir(d, { recursive: true });
    await fsp.chown(d, owner, owner);
    return d;
  }

  it("takes an existing folder the product's account owns, as its real path (links and `..` resolved)", async () => {
    const mine = await folderOf('Storage', uid);
    await fsp.symlink(mine, path.join(base, 'product', 'to-storage'));
    expect(await judgeSourceFolders({ folders: { Storage: mine } }, places({}), productProfile(account))).toEqual({
      folders: { Storage: mine },
    });
    const via = path.join(base, 'product', 'to-storage', '..', 'Storage');
    expect(
      await judgeSourceFolders(
        { folders: { Storage: path.join(base, 'product', 'to-storage') } },
        places({}),
        productProfile(account),
      ),
    ).toEqual({ folders: { Storage: mine } });
    expect(await judgeSourceFolders({ folders: { Storage: via } }, places({}), productProfile(account))).toEqual({
      folders: { Storage: mine },
    });
  });

  it('refuses a root-owned folder, naming whose it is and whose it must be', async () => {
    const roots = await folderOf('roots', 0);
    const e = await refusal(judgeSourceFolders({ folders: { Storage: roots } }, places({}), productProfile(account)));
    expect(e.message).toContain(JSON.stringify(roots));
    expect(e.message).toContain('it belongs to the account "root"');
    expect(e.message).toContain(`the product's account "${account}"`);
    expect(e.message).toContain('Nothing was read or changed.');
    expect(e.details).toMatchObject({ id: 'Storage', owner: 'root', need: account });
    expect(e.ui?.hint).not.toMatch(/--|edge-recovery /);
    // /root itself: a system folder, and root's.
    await refusal(judgeSourceFolders({ folders: { Storage: '/root' } }, places({}), productProfile(account)));
  });

  it('refuses /etc and the other folders a profile may not name, whoever owns them', async () => {
    for (const sys of ['/etc', '/', '/tmp', '/var', '/home']) {
      const e = await refusal(judgeSourceFolders({ folders: { Storage: sys } }, places({}), productProfile(account)));
      expect(e.message).toContain('is a system folder');
    }
    // A link (and `..`) that lands on one is judged where it lands.
    await fsp.symlink('/etc', path.join(base, 'product', 'etc-link'));
    const e = await refusal(
      judgeSourceFolders(
        { folders: { Storage: path.join(base, 'product', 'etc-link') } },
        places({}),
        productProfile(account),
      ),
    );
    expect(e.message).toContain('(it leads to /etc)');
  });

  it("refuses a link owned by the product's account that leads to a root-owned folder", async () => {
    const target = await folderOf('root-data', 0);
    const link = path.join(base, 'product', 'Storage-link');
    await fsp.symlink(target, link);
    await fsp.lchown(link, uid, uid);
    expect((await fsp.lstat(link)).uid).toBe(uid);
    const e = await refusal(judgeSourceFolders({ folders: { Storage: link } }, places({}), productProfile(account)));
    expect(e.message).toContain(`(it leads to ${target})`);
    expect(e.message).toContain('it belongs to the account "root"');
  });

  it('refuses a folder that does not exist, and a file, saying so', async () => {
    const missing = path.join(base, 'product', 'no-such', 'Storage');
    const e = await refusal(judgeSourceFolders({ folders: { Storage: missing } }, places({}), productProfile(account)));
    expect(e.message).toContain(`${JSON.stringify(missing)} as Storage: it does not exist on this machine`);
    const file = path.join(base, 'product', 'a-file');
    await fsp.writeFile(file, 'x');
    await fsp.chown(file, uid, uid);
    const f = await refusal(judgeSourceFolders({ folders: { Storage: file } }, places({}), productProfile(account)));
    expect(f.message).toContain('it is not a folder');
  });

  it('refuses every folder for a profile without a product account, or whose product runs as root', async () => {
    const mine = await folderOf('Storage2', uid);
    const e = await refusal(judgeSourceFolders({ folders: { Storage: mine } }, places({}), productProfile()));
    expect(e.message).toContain('names no account the product runs as');
    const r = await refusal(
      judgeSourceFolders({ folders: { Storage: await folderOf('r', 0) } }, places({}), productProfile('root')),
    );
    expect(r.message).toContain('the product runs as root');
    const gone = await refusal(
      judgeSourceFolders({ folders: { Storage: mine } }, places({}), productProfile('edge-no-such-account')),
    );
    expect(gone.message).toContain('does not exist on this machine');
  });

  it("refuses the product account's folder inside a folder another account could change (it could be swapped before the backup)", async () => {
    const other = path.join(base, 'product', 'desktop-users');
    await fsp.mkdir(other);
    await fsp.chown(other, 12345, 12345);
    const inOther = path.join(other, 'Storage');
    await fsp.mkdir(inOther);
    await fsp.chown(inOther, uid, uid);
    const e = await refusal(judgeSourceFolders({ folders: { Storage: inOther } }, places({}), productProfile(account)));
    expect(e.message).toContain(`the folder ${other} on the way to it belongs to the account with number 12345`);
    const open = path.join(base, 'product', 'open-to-all');
    await fsp.mkdir(path.join(open, 'Storage'), { recursive: true });
    await fsp.chmod(open, 0o777);
    await fsp.chown(path.join(open, 'Storage'), uid, uid);
    const o = await refusal(
      judgeSourceFolders({ folders: { Storage: path.join(open, 'Storage') } }, places({}), productProfile(account)),
    );
    expect(o.message).toContain(`the folder ${open} on the way to it may be changed by other accounts`);
    // Sticky and the entry the product's: taken (as under /tmp); and the product's own folders on the way are fine.
    await fsp.chmod(open, 0o1777);
    await fsp.mkdir(path.join(open, 'Storage', 'deeper'));
    await fsp.chown(path.join(open, 'Storage', 'deeper'), uid, uid);
    expect(
      await judgeSourceFolders(
        { folders: { Storage: path.join(open, 'Storage', 'deeper') } },
        places({}),
        productProfile(account),
      ),
    ).toEqual({ folders: { Storage: path.join(open, 'Storage', 'deeper') } });
  });

  it("takes the profile's own folder typed back as it is, whoever owns it", async () => {
    const own = await folderOf('own-default', 0);
    const profile = { ...productProfile(account), items: [{ id: 'Storage', path: own }] };
    expect(await judgeSourceFolders({ folders: { Storage: own } }, places({}), profile)).toEqual({
      folders: { Storage: own },
    });
    // Only for its own item: as another item it is judged like any folder.
    await refusal(judgeSourceFolders({ folders: { Configuration: own } }, places({}), profile));
  });

  it("through the handler table: profiles.plan measures the product account's folder at its real path, refuses root's", async () => {
    // A root-only profiles folder (/var/lib is root's, 755, on the system's own filesystem) holding a profile whose product runs as the test account.
    const trusted = await fsp.mkdtemp('/var/lib/erw-page-paths-');
    await fsp.chmod(trusted, 0o755);
    const ref = path.join(trusted, 'site.json');
    await fsp.writeFile(
      ref,
      JSON.stringify({
        schemaVersion: 1,
        id: 'site-product',
        productName: 'A product installed elsewhere',
        platform: 'linux',
        service: { manager: 'none', name: 'none' },
        items: [{ id: 'Storage', path: '/opt/site-product/Storage' }],
        ownership: { user: account, group: account },
      }),
      { mode: 0o644 },
    );
    const mine = await folderOf('Storage-plan', uid);
    await fsp.writeFile(path.join(mine, 'data.bin'), Buffer.alloc(12345));
    await fsp.symlink(mine, path.join(base, 'product', 'plan-link'));
    const host = createHandlers({ shell: 'browser', stateDir: path.join(base, 'state-plan'), profilesDir: trusted });
    try {
      const r = await host.dispatch('profiles.plan', {
        profileRef: ref,
        folders: { Storage: path.join(base, 'product', 'plan-link') },
      });
      expect(r).toMatchObject({
        ok: true,
        value: { items: [{ id: 'Storage', path: mine, exists: true, sizeBytes: 12345 }] },
      });
      const roots = await folderOf('roots-plan', 0);
      const no = await host.dispatch('profiles.plan', { profileRef: ref, folders: { Storage: roots } });
      expect(no).toMatchObject({
        ok: false,
        error: { code: 'PATH_REFUSED', details: { id: 'Storage', owner: 'root' } },
      });
      expect(await host.dispatch('profiles.plan', { profileRef: ref, folders: { Storage: '/etc' } })).toMatchObject({
        ok: false,
        error: { code: 'PATH_REFUSED' },
      });
    } finally {
      await host.dispose();
      await fsp.rm(trusted, { recursive: true, force: true });
    }
  });

  it('takes the practice sandbox as before, and nothing else in practice; `root` stays practice-only', async () => {
    const sandbox = path.join(base, 'sandbox-b');
    await fsp.mkdir(path.join(sandbox, 'old'), { recursive: true });
    expect(
      await judgeSourceFolders(
        { folders: { Storage: path.join(sandbox, 'old', 'not-yet') } },
        places({ sandboxes: [sandbox] }),
        productProfile(account),
      ),
    ).toEqual({ folders: { Storage: path.join(sandbox, 'old', 'not-yet') } });
    const mine = await folderOf('Storage3', uid);
    await refusal(
      judgeSourceFolders({ folders: { Storage: mine } }, places({ sandboxes: [sandbox] }), productProfile(account)),
    );
    await refusal(judgeSourceFolders({ root: mine }, places({}), productProfile(account)));
  });
});

describe('source folders from the page (root, folders)', () => {
  it('are refused outside practice, whatever they are', async () => {
    for (const given of ['/etc', '/root', base, path.join(base, 'nothing', 'here')]) {
      const e = await refusal(judgeSourceFolders({ folders: { Configuration: given } }, places({})));
      expect(e.message).toContain("The wizard works on the profile's own folders only");
      expect(e.hint).toMatch(/--folder ID=PATH/);
      await refusal(judgeSourceFolders({ root: given }, places({})));
    }
  });

  it('are taken inside the practice sandbox (also not yet existing), as their real paths', async () => {
    const sandbox = path.join(base, 'sandbox');
    await fsp.mkdir(path.join(sandbox, 'old', 'root'), { recursive: true });
    await fsp.symlink(path.join(sandbox, 'old'), path.join(base, 'to-old'));
    const r = await judgeSourceFolders(
      {
        root: path.join(sandbox, 'old', 'root'),
        folders: { Storage: path.join(base, 'to-old', 'root', 'not-yet', 'Storage') },
      },
      places({ sandboxes: [sandbox] }),
    );
    expect(r).toEqual({
      root: path.join(sandbox, 'old', 'root'),
      folders: { Storage: path.join(sandbox, 'old', 'root', 'not-yet', 'Storage') },
    });
  });

  it('are judged by where they really lead: a link or `..` out of the sandbox is refused', async () => {
    const sandbox = path.join(base, 'sandbox2');
    await fsp.mkdir(path.join(sandbox, 'old'), { recursive: true });
    await fsp.symlink('/etc', path.join(sandbox, 'old', 'etc-link'));
    const e = await refusal(
      judgeSourceFolders({ folders: { C: path.join(sandbox, 'old', 'etc-link') } }, places({ sandboxes: [sandbox] })),
    );
    expect(e.message).toContain('(it leads to /etc)');
    expect(e.message).toContain('is not in the practice sandbox');
    await refusal(
      judgeSourceFolders(
        { root: path.join(sandbox, 'old', '..', '..', '..', 'root') },
        places({ sandboxes: [sandbox] }),
      ),
    );
    // A name that only starts like the sandbox is not in it.
    await refusal(judgeSourceFolders({ root: `${sandbox}-evil` }, places({ sandboxes: [sandbox] })));
  });
});

describe('practice sticks and this machine’s own backup folder', () => {
  it('the practice stick takes backups and gives sets; links and `..` out of it are refused', async () => {
    const stick = path.join(base, 'p', 'stick');
    await fsp.mkdir(path.join(stick, 'EdgeRecovery', 'dev', 'Backup_x'), { recursive: true });
    await fsp.symlink('/etc', path.join(stick, 'etc'));
    const pl = places({ sticks: [stick] });
    expect(await judgeMedium(stick, 'write', 'the stick', pl)).toMatchObject({ path: stick, kind: 'practice' });
    const set = path.join(stick, 'EdgeRecovery', 'dev', 'Backup_x');
    expect(await judgeMedium(set, 'read', 'the backup', pl)).toMatchObject({ path: set, kind: 'practice' });
    await refusal(judgeMedium(path.join(stick, 'etc'), 'read', 'the backup', pl));
    await refusal(judgeMedium(path.join(stick, '..'), 'write', 'the stick', pl));
    const e = await refusal(judgeMedium(path.join(stick, 'etc'), 'write', 'the stick', pl));
    expect(e.message).toMatch(/it leads to \/etc/);
  });

  it('the places this machine’s backups went are read from, never written to; `/` is never one', async () => {
    const own = path.join(base, 'var-backups');
    await fsp.mkdir(path.join(own, 'EdgeRecovery'), { recursive: true });
    const pl = places({ own: [own, '/'] });
    expect(await judgeMedium(own, 'read', 'the place', pl)).toMatchObject({ path: own, kind: 'own' });
    expect(await judgeMedium(path.join(own, 'EdgeRecovery'), 'read', 'x', pl)).toMatchObject({ kind: 'own' });
    await refusal(judgeMedium(own, 'write', 'the stick', pl));
    const e = await refusal(judgeMedium('/etc', 'read', 'the backup to verify', pl));
    expect(e.message).toContain('the backup to verify');
    expect(e.ui?.hint).toMatch(/Look again/);
  });

  it('a folder that does not exist is refused, not created', async () => {
    const gone = path.join(base, 'gone', 'stick');
    await refusal(judgeMedium(gone, 'write', 'the stick', places({ mounts: [gone] })));
    expect(existsSync(path.join(base, 'gone'))).toBe(false);
  });
});

describe.skipIf(skipLoopTests)(
  `sticks (real mounts)${loopMountUnavailable ? ` (${loopMountUnavailable})` : ''}`,
  () => {
    let stick: LoopMount;
    let tmpfs: string;
    beforeAll(async () => {
      stick = await createLoopMount(16, { name: 'EDGE STICK' });
      tmpfs = await fsp.mkdtemp(path.join(os.tmpdir(), 'page-paths-tmpfs-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pagepaths', tmpfs]);
      await fsp.mkdir(path.join(stick.mountpoint, 'EdgeRecovery', 'dev', 'Backup_a'), { recursive: true });
    });
    afterAll(async () => {
      execFileSync('sh', ['-c', `umount '${tmpfs}' 2>/dev/null || true`]);
      await fsp.rm(tmpfs, { recursive: true, force: true });
      await stick?.cleanup();
    });

    it('a listed stick’s mount point is written to (judged by its real path, with its device); a folder on it is not', async () => {
      const pl = places({ mounts: [stick.mountpoint] });
      const st = await fsp.stat(stick.mountpoint);
      expect(await judgeMedium(stick.mountpoint, 'write', 'the stick', pl)).toEqual({
        path: stick.mountpoint,
        dev: st.dev,
        ino: st.ino,
        kind: 'stick',
      });
      // `..` and a link resolve to it: the real path is what is judged and handed on.
      const via = path.join(stick.mountpoint, 'EdgeRecovery', '..');
      expect((await judgeMedium(via, 'write', 'the stick', pl)).path).toBe(stick.mountpoint);
      await fsp.symlink(stick.mountpoint, path.join(base, 'stick-link'));
      expect((await judgeMedium(path.join(base, 'stick-link'), 'write', 'x', pl)).path).toBe(stick.mountpoint);
      const e = await refusal(judgeMedium(path.join(stick.mountpoint, 'EdgeRecovery'), 'write', 'the stick', pl));
      expect(e.message).toContain('it is a folder, not the mount point of a stick the wizard lists');
    });

    it('a mount the drive rules do not offer (not removable) is refused; so is a listed folder that is not a mount', async () => {
      const e = await refusal(judgeMedium(tmpfs, 'write', 'the stick', places({ mounts: [stick.mountpoint] })));
      expect(e.message).toContain('a mounted filesystem the wizard does not offer as a removable stick');
      await refusal(judgeMedium(tmpfs, 'read', 'the place', places({ mounts: [stick.mountpoint] })));
      // A stale listing naming a plain folder (nothing mounted there): the kernel's mount table decides.
      const plain = path.join(base, 'plain');
      await fsp.mkdir(plain, { recursive: true });
      await refusal(judgeMedium(plain, 'write', 'the stick', places({ mounts: [plain] })));
      await refusal(judgeMedium(plain, 'read', 'the place', places({ mounts: [plain] })));
    });

    it('sets are read from the stick; a link on the stick leading off it, `..`, or a filesystem mounted inside it are refused', async () => {
      const pl = places({ mounts: [stick.mountpoint] });
      const set = path.join(stick.mountpoint, 'EdgeRecovery', 'dev', 'Backup_a');
      expect(await judgeMedium(set, 'read', 'the backup', pl)).toMatchObject({ path: set, kind: 'stick' });
      await fsp.symlink('/root', path.join(stick.mountpoint, 'EdgeRecovery', 'dev', 'Backup_planted'));
      const e = await refusal(
        judgeMedium(path.join(stick.mountpoint, 'EdgeRecovery', 'dev', 'Backup_planted'), 'read', 'the backup', pl),
      );
      expect(e.message).toContain('it leads to /root');
      await refusal(judgeMedium(path.join(stick.mountpoint, '..'), 'read', 'the place', pl));
      const inner = path.join(stick.mountpoint, 'inner');
      await fsp.mkdir(inner);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pagepathsinner', inner]);
      try {
        const e2 = await refusal(judgeMedium(inner, 'read', 'the place', pl));
        expect(e2.message).toContain(`not on the stick mounted at ${stick.mountpoint}`);
      } finally {
        execFileSync('umount', [inner]);
      }
    });

    it('a stick mounted where another account could swap its folder is not written to, nor read from', async () => {
      const open = path.join(base, 'open');
      await fsp.mkdir(path.join(open, 'mnt'), { recursive: true });
      await fsp.chmod(open, 0o777);
      execFileSync('mount', [stick.device, path.join(open, 'mnt')]);
      try {
        const pl = places({ mounts: [path.join(open, 'mnt')] });
        const e = await refusal(judgeMedium(path.join(open, 'mnt'), 'write', 'the stick', pl));
        expect(e.message).toMatch(/is writable by others/);
        // The same for a read of a set on it (the stick's own folders may be anyone's; the way to it may not).
        const set = path.join(open, 'mnt', 'EdgeRecovery', 'dev', 'Backup_a');
        const r = await refusal(judgeMedium(set, 'read', 'the backup', pl));
        expect(r.message).toMatch(/does not read backups from .* is writable by others/);
        const owned = path.join(base, 'owned');
        await fsp.mkdir(path.join(owned, 'mnt'), { recursive: true });
        await fsp.chown(owned, 65534, 65534); // another account's folder on the way
        execFileSync('mount', [stick.device, path.join(owned, 'mnt')]);
        try {
          const pl2 = places({ mounts: [path.join(owned, 'mnt')] });
          const r2 = await refusal(judgeMedium(path.join(owned, 'mnt', 'EdgeRecovery'), 'read', 'the place', pl2));
          expect(r2.message).toMatch(/belongs to uid 65534/);
        } finally {
          execFileSync('umount', [path.join(owned, 'mnt')]);
        }
      } finally {
        execFileSync('umount', [path.join(open, 'mnt')]);
      }
    });

    it('unmounted and replaced by a folder between check and use: the first write is refused (MEDIUM_GONE), nothing made', async () => {
      const pl = places({ mounts: [stick.mountpoint] });
      const judged = await judgeMedium(stick.mountpoint, 'write', 'the stick', pl);
      execFileSync('umount', [stick.mountpoint]);
      try {
        // The empty mount folder is still there (on the system disk): the page's check now refuses it ...
        await refusal(judgeMedium(stick.mountpoint, 'write', 'the stick', pl));
        // ... and a job judged before writes nothing there.
        const e = await mkdirNoFollow(judged.path, ['EdgeRecovery', 'x'], 0o755, {
          dev: judged.dev,
          shownAs: judged.path,
        }).then(
          () => null,
          (x: unknown) => x as RecoveryError,
        );
        expect(e?.code).toBe('MEDIUM_GONE');
        expect(await fsp.readdir(stick.mountpoint)).toEqual([]);
      } finally {
        execFileSync('mount', [stick.device, stick.mountpoint]);
      }
      expect(await mkdirNoFollow(judged.path, ['EdgeRecovery'], 0o755, { dev: judged.dev, shownAs: 'x' })).toBe(
        path.join(stick.mountpoint, 'EdgeRecovery'),
      );
    });

    it('through the handler table: drives.list’s stick is listed, any other mount or folder refused, nothing read', async () => {
      const fake = await installFakeLsblk('usb-stick-ext4', { STICK: stick.mountpoint, ROOT: '/' });
      const host = createHandlers({ shell: 'browser', stateDir: path.join(base, 'state'), practiceBaseDir: base });
      try {
        expect(await host.dispatch('backups.list', { dir: stick.mountpoint })).toMatchObject({ ok: true });
        for (const dir of [tmpfs, '/etc', '/root', path.join(stick.mountpoint, '..', '..')]) {
          expect(await host.dispatch('backups.list', { dir })).toMatchObject({
            ok: false,
            error: { code: 'PATH_REFUSED' },
          });
        }
      } finally {
        await fake.restore();
        await host.dispose();
      }
    });
  },
);
