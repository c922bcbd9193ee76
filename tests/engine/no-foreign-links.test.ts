import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFolderNoForeignLinks } from '../../src-main/engine/util/no-foreign-links.js';
import { isRoot } from '../helpers/datasets.js';

/**
 * The folder a restore report goes into beside a backup on a stick: a link is followed only when it is root's, in
 * a folder of root's nobody else may write (an administrator's /mnt/usb → /media/usb), also through `..` in its
 * target; any other link is refused. The folder returned is the one the path led to.
 */
describe.skipIf(!isRoot || process.platform === 'win32')('a folder opened without following links of others', () => {
  let base = '';
  beforeAll(async () => {
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'no-foreign-links-'));
    await fsp.chmod(base, 0o755);
    await fsp.mkdir(path.join(base, 'media/usb/EdgeRecovery'), { recursive: true });
    await fsp.mkdir(path.join(base, 'mnt'));
    await fsp.mkdir(path.join(base, 'others'), { mode: 0o777 });
    await fsp.chmod(path.join(base, 'others'), 0o777);
  });
  afterAll(async () => {
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  const same = async (a: string, b: string): Promise<boolean> => {
    const [x, y] = await Promise.all([fsp.stat(a), fsp.stat(b)]);
    return x.dev === y.dev && x.ino === y.ino;
  };

  it("follows root's links in root's folders, also through '..' in a target", async () => {
    await fsp.symlink(path.join(base, 'media/usb'), path.join(base, 'mnt/usb'));
    await fsp.symlink('../media/usb/EdgeRecovery', path.join(base, 'mnt/er'));
    for (const p of ['mnt/usb/EdgeRecovery', 'mnt/er', 'mnt/usb/../usb/EdgeRecovery']) {
      const d = await openFolderNoForeignLinks(path.join(base, p));
      try {
        expect(await same(d.self, path.join(base, 'media/usb/EdgeRecovery')), p).toBe(true);
      } finally {
        await d.close();
      }
    }
  });

  it('refuses a link of another account, and a link in a folder others may write', async () => {
    await fsp.symlink(path.join(base, 'media/usb'), path.join(base, 'mnt/theirs'));
    await fsp.lchown(path.join(base, 'mnt/theirs'), 65534, 65534);
    await expect(openFolderNoForeignLinks(path.join(base, 'mnt/theirs/EdgeRecovery'))).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      message: expect.stringMatching(/belongs to uid 65534/) as unknown,
    });
    await fsp.symlink(path.join(base, 'media/usb'), path.join(base, 'others/usb'));
    await expect(openFolderNoForeignLinks(path.join(base, 'others/usb/EdgeRecovery'))).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      message: expect.stringMatching(/others may change/) as unknown,
    });
  });
});
