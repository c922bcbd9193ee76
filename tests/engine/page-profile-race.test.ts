import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers, type RequestHost } from '../../src-main/host/handlers.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { plantedProfile } from '../helpers/planted-profile.js';

/**
 * The wizard offers the root-only files of the machine's profiles folder and, when the page names one, loaded it by
 * its name after judging the name (realpath, then the real path's folders): a file there that is a link through a
 * folder a local user controls (a technician's `ln -s ~/profiles/site.json /etc/edge-recovery/profiles/`) passed the
 * judgement while the user's link pointed at any root-only file (/etc/passwd), and was read a moment later while it
 * pointed at the user's profile: root planned, stopped and replaced what that profile names. The page's profile is
 * now read as the file judged (loadJudgedProfile). A real account flips the link (tests/helpers/racer.mjs).
 */
const OWNER = 'edge-rt';
const SECONDS = 15;

let work = '';
let trusted = '';
let host: RequestHost | null = null;
beforeAll(async () => {
  if (!isRoot) return;
  ensureTestOwner(OWNER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'page-profile-race-'));
  await fsp.chmod(work, 0o755);
  // The machine's profiles folder: root-only all the way up (/var/lib is root's, 755, on the system's own filesystem).
  trusted = await fsp.mkdtemp('/var/lib/erw-page-profile-');
  await fsp.chmod(trusted, 0o755);
  host = createHandlers({ shell: 'browser', stateDir: path.join(work, 'state'), profilesDir: trusted });
});
afterAll(async () => {
  await host?.dispose();
  if (work) await fsp.rm(work, { recursive: true, force: true });
  if (trusted) await fsp.rm(trusted, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('a profile of the profiles folder linked through a user folder', () => {
  it("never plans with the user's profile", async () => {
    const mine = path.join(work, 'user');
    await fsp.mkdir(mine);
    await fsp.chown(mine, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    const evil = path.join(mine, 'evil.json');
    await fsp.writeFile(
      evil,
      plantedProfile({
        id: 'planted',
        productName: 'A profile of a local user',
        item: { id: 'Planted', path: '/opt/planted' },
      }),
    );
    const link = path.join(mine, 'link');
    await fsp.symlink(evil, link);
    const ref = path.join(trusted, 'site.json');
    await fsp.symlink(link, ref);
    const stop = path.join(work, 'stop');
    const racer = racerAsync(OWNER, ['flip-link', link, evil, '/etc/passwd', stop, String(SECONDS + 30)]);
    const seen = { planted: 0, refused: 0, other: 0 };
    try {
      const until = Date.now() + SECONDS * 1000;
      while (Date.now() < until && seen.planted === 0) {
        const r = await host!.dispatch('profiles.plan', { profileRef: ref });
        if (!r.ok) seen.refused++;
        else if ((r.value as { items: { id: string }[] }).items.some((i) => i.id === 'Planted')) seen.planted++;
        else seen.other++;
      }
    } finally {
      await fsp.writeFile(stop, '');
    }
    const said = JSON.stringify(await racer);
    expect({ ...seen, racer: said }).toMatchObject({ planted: 0, other: 0 });
    expect(seen.refused, said).toBeGreaterThan(20);
  }, 120_000);
});
