import { lstatSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemPlan } from '../../src-main/engine/restore/journal.js';
import { deleteSetAside } from '../../src-main/engine/restore/steps-finish.js';
import type { RestoreCtx } from '../../src-main/engine/restore/context.js';
import { giveTo, shAs } from '../helpers/as-account.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * After a restore the set-aside folder waits beside the target, in a folder the product's account may own and write
 * (it runs again), until "edge-recovery finish" or the last step deletes it. That account can rename folders there,
 * a root-owned one too (a rename inside one folder needs no right on the folder moved), and put one by the set-aside's
 * name: root deleted it, with files the account could never delete itself. What is deleted must be what was set aside.
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (a real account)' : undefined;
const OWNER = 'er-aside';

describe.skipIf(blocked !== undefined)(`set-aside folders${blocked ? ` (skipped: ${blocked})` : ''}`, () => {
  let work = '';
  beforeAll(async () => {
    ensureTestOwner(OWNER);
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'set-aside-id-'));
    await fsp.chmod(work, 0o755);
  });
  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it("deletes only the folder it set aside, not a root folder the account renamed to the set-aside's name", async () => {
    // The folder beside the target: the product account's.
    const beside = path.join(work, 'product');
    await fsp.mkdir(beside, { mode: 0o755 });
    await giveTo(OWNER, beside);
    const target = path.join(beside, 'Data');
    const setAside = `${target}.before-restore-20261201T060000-1a2b3c4d`;
    await fsp.mkdir(target);
    await fsp.mkdir(setAside);
    await fsp.writeFile(path.join(setAside, 'old.json'), '{}');
    // Root's own folder there, which the account may rename but not empty.
    const rootOwn = path.join(beside, 'licence');
    await fsp.mkdir(rootOwn, { mode: 0o755 });
    await fsp.writeFile(path.join(rootOwn, 'key'), 'root only\n', { mode: 0o644 });
    const st = lstatSync(setAside, { bigint: true });
    const item: ItemPlan = {
      id: 'Data',
      target,
      staging: path.join(beside, '.edge-recovery-r1', 'Data'),
      setAside,
      hadOriginal: true,
      setAsideId: { dev: String(st.dev), ino: String(st.ino) },
    };
    // The account swaps them: its set-aside folder away, root's folder by its name.
    shAs(OWNER, 'mv "$1" "$1.mine" && mv "$2" "$1"', setAside, rootOwn);
    const store = { j: { items: [item], status: 'finished' }, save: () => Promise.resolve() };
    const outcome = await deleteSetAside({ store } as unknown as Pick<RestoreCtx, 'store'>).then(
      () => 'deleted',
      (e: { code?: string }) => e.code ?? String(e),
    );
    const left = await fsp.readdir(beside);
    const withKey = [];
    for (const n of left) {
      if (await fsp.readFile(path.join(beside, n, 'key'), 'utf8').catch(() => null)) withKey.push(n);
    }
    expect({ outcome, withKey }).toEqual({ outcome: 'UNSAFE_PATH', withKey: [path.basename(setAside)] });
    expect(await fsp.readFile(path.join(`${setAside}.mine`, 'old.json'), 'utf8')).toBe('{}');
  });
});
