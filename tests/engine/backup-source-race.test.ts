import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive } from '../../src-main/engine/archive/index.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * A backup reads the product's folders as root, and the product's account owns them: once they were judged it
 * may swap one of them for a link, to have root pack what the link leads to (e.g. /root's keys) onto the stick.
 * The archive must hold only what is in the product's folders, whatever the account does meanwhile: an item's
 * folder swapped for a link before the backup, and sub-folders swapped for links and back while it runs (a real
 * unprivileged account, racer.mjs toggle-dir).
 */
const OWNER = 'edge-rt';
const SECRET = 'ROOT-ONLY-KEY-7f3a';
const ROUNDS = 30;

let work: string;
let victim: string;
beforeAll(async () => {
  if (!isRoot) return;
  ensureTestOwner(OWNER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'backup-source-race-'));
  await fsp.chmod(work, 0o755);
  // What only root may read.
  victim = path.join(work, 'root-only');
  await fsp.mkdir(victim, { mode: 0o700 });
  for (let k = 0; k < 8; k++) await fsp.writeFile(path.join(victim, `f${k}`), `${SECRET}\n`, { mode: 0o600 });
  await fsp.writeFile(path.join(victim, 'id_rsa'), `${SECRET}\n`, { mode: 0o600 });
});
afterAll(async () => {
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

/** The product's folder: `<name>/Data`, both its account's, with sub-folders s0…s7 holding its own files. */
async function productTree(name: string): Promise<{ parent: string; data: string }> {
  const uid = uidForUser(OWNER)!;
  const gid = gidForGroup(OWNER)!;
  const parent = path.join(work, name);
  const data = path.join(parent, 'Data');
  await fsp.mkdir(data, { recursive: true });
  for (let k = 0; k < 8; k++) {
    const s = path.join(data, `s${k}`);
    await fsp.mkdir(s);
    for (let f = 0; f < 8; f++) await fsp.writeFile(path.join(s, `f${f}`), `the product's own ${k}/${f}\n`);
  }
  execFileSync('chown', ['-R', `${uid}:${gid}`, parent]);
  return { parent, data };
}

/** Every byte of every file in the archive (GNU tar to stdout). */
function archivedText(setDir: string, part: string): string {
  return execFileSync('tar', ['-xzOf', path.join(setDir, part)], { encoding: 'latin1', maxBuffer: 64 << 20 });
}

describe.skipIf(!isRoot)("a backup reads only the product's folders, whatever its account swaps", () => {
  it("refuses an item's folder that its account replaced by a link, and packs nothing of where it leads", async () => {
    const { parent, data } = await productTree('item-link');
    // What the account can do in a folder of its own once the pre-checks passed: its folder becomes a link.
    await fsp.rename(data, path.join(parent, 'Data.real'));
    await fsp.symlink(victim, data);
    await fsp.lchown(data, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    const out = path.join(work, 'item-link-out');
    await fsp.mkdir(out);
    const r = await createArchive({ items: [{ id: 'Data', path: data }], outDir: out }, {}).then(
      (x) => ({ ok: true as const, parts: x.parts }),
      (e: unknown) => ({ ok: false as const, e: e as { code?: string; message: string } }),
    );
    if (r.ok) expect(archivedText(out, r.parts[0]!.name)).not.toContain(SECRET);
    expect(r.ok ? 'archived' : r.e.code).toBe('UNSAFE_PATH');
    if (!r.ok) expect(r.e.message).toContain(`${data} was replaced`);
  });

  // With the second reading thread too (it reads every other folder: it must not be redirected either).
  for (const readHelper of [false, true]) {
    it(`never packs what a sub-folder swapped for a link leads to, while the account swaps them during the backup${readHelper ? ' (with the second reading thread)' : ''}`, async () => {
      const name = `sub-links-${readHelper}`;
      const { parent } = await productTree(name);
      const data = path.join(parent, 'Data');
      const stop = path.join(work, `${name}-stop`);
      // toggle-dir: holds Data open and swaps s0…s7 for links to the root-only folder and back, at random.
      const racer = racerAsync(OWNER, ['toggle-dir', parent, 'Data', 's', victim, stop, '120']);
      const seen = { clean: 0, refused: 0, leaked: 0 };
      try {
        for (let i = 0; i < ROUNDS && seen.leaked === 0; i++) {
          const out = path.join(work, `${name}-out-${i}`);
          await fsp.mkdir(out);
          try {
            const x = await createArchive({ items: [{ id: 'Data', path: data }], outDir: out, readHelper }, {});
            if (archivedText(out, x.parts[0]!.name).includes(SECRET)) seen.leaked++;
            else seen.clean++;
          } catch (e) {
            const code = (e as { code?: string }).code;
            // A swapped folder stops the backup (or a file vanished under it); anything else is a failure.
            expect(['UNSAFE_PATH', 'SOURCE_MISSING'], (e as Error).message).toContain(code);
            seen.refused++;
          }
          await fsp.rm(out, { recursive: true, force: true });
        }
      } finally {
        await fsp.writeFile(stop, '');
      }
      const said = await racer;
      expect(Number(said['toggles'])).toBeGreaterThan(ROUNDS);
      expect(seen.leaked).toBe(0);
      expect(seen.clean + seen.refused).toBe(ROUNDS);
    }, 180_000);
  }
});
