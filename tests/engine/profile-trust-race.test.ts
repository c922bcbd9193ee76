import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJudgedProfile } from '../../src-main/engine/profiles/trust.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { plantedProfile } from '../helpers/planted-profile.js';

/**
 * `--profile <file>`: a file someone other than root can change is untrusted, and one that runs commands is refused
 * (unless --allow-profile-commands; a schedule refuses it outright). The CLI read the file by its name, then judged
 * the name again with realpath: a local user whose folder held the link (given by the technician, or named in a
 * schedule) pointed it at their own profile for the read and at a root-only file (/etc/passwd will do) for the
 * judgement, and root ran the profile's commands as a trusted profile's. The profile read must be the file judged.
 * A real unprivileged account flips the link (tests/helpers/racer.mjs).
 */
const RACER = fileURLToPath(new URL('../helpers/racer.mjs', import.meta.url));
const USER = 'nobody';
const uid = uidForUser(USER);
const blocked =
  process.platform !== 'linux' || process.getuid?.() !== 0 || uid === null ? 'needs Linux, root and nobody' : null;
const SECONDS = 15;

let dir = '';
beforeAll(async () => {
  if (blocked) return;
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'profile-trust-race-'));
  await fsp.chmod(dir, 0o755);
});
afterAll(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe.skipIf(blocked !== null)('a profile link flipped between the read and the judgement', () => {
  it("never gives the user's profile a root-only file's trust", async () => {
    const mine = path.join(dir, 'user');
    await fsp.mkdir(mine);
    await fsp.chown(mine, uid!, gidForGroup(USER) ?? 65534);
    const evil = path.join(mine, 'evil.json');
    await fsp.writeFile(
      evil,
      plantedProfile({ id: 'planted', productName: 'A profile of a local user', argv: ['/usr/bin/id'] }),
    );
    await fsp.chown(evil, uid!, gidForGroup(USER) ?? 65534);
    const link = path.join(mine, 'profile.json');
    await fsp.symlink(evil, link);
    const stop = path.join(dir, 'stop');
    const racer = spawn(
      'setpriv',
      [
        `--reuid=${uid!}`,
        `--regid=${gidForGroup(USER) ?? 65534}`,
        '--clear-groups',
        process.execPath,
        RACER,
        'flip-link',
        link,
        evil,
        '/etc/passwd',
        stop,
        String(SECONDS + 30),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let said = '';
    racer.stdout.on('data', (d: Buffer) => (said += d.toString()));
    const racerDone = new Promise<void>((resolve) => racer.on('close', () => resolve()));
    const seen = { untrusted: 0, refused: 0, trustedPlanted: 0 };
    try {
      const until = Date.now() + SECONDS * 1000;
      while (Date.now() < until && seen.trustedPlanted === 0) {
        try {
          const { profile, trust } = await loadJudgedProfile(link);
          if (profile.id === 'planted' && trust.origin !== 'untrusted') seen.trustedPlanted++;
          else seen.untrusted++;
        } catch {
          seen.refused++; // /etc/passwd is no profile
        }
      }
    } finally {
      await fsp.writeFile(stop, '');
      await racerDone;
    }
    // The user's profile was never trusted, and the race was run (both sides of the link seen).
    expect({ ...seen, racer: said.trim() }).toMatchObject({ trustedPlanted: 0 });
    expect(seen.untrusted, said).toBeGreaterThan(20);
    expect(seen.refused, said).toBeGreaterThan(20);
  }, 120_000);
});
