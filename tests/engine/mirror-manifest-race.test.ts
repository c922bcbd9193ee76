import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_NAME } from '../../src-main/engine/backup/manifest.js';
import { readSetForMirror } from '../../src-main/engine/schedule/mirror.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * The mirror knows a set by its manifest.json: the part hashes it checks the copy against come from the parsed
 * manifest, and the copy (and the record that lets pruning delete it) by that manifest's hash. Both must be of
 * one and the same manifest. They were read apart (parsed by readBackupSet, then hashed by opening the name
 * again), so a local user who can change what the name leads to between the two got a copy checked against one
 * manifest and recorded under another's hash. The manifest is now read once, by descriptor, and hashed from
 * what was parsed. A real unprivileged user flips a link between two sets whose manifests differ while root
 * reads the set again and again; every read must hash the manifest it parsed.
 */
const OWNER = 'edge-rt';
const ROUNDS = 150;
const GIVE_UP_MS = 60_000;

let work: string;
beforeAll(async () => {
  if (!isRoot) return;
  ensureTestOwner(OWNER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'mirror-manifest-race-'));
  await fsp.chmod(work, 0o755);
});
afterAll(async () => {
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe.skipIf(!isRoot)("a set's manifest swapped by a local user while the mirror reads it", () => {
  it('is hashed from the very bytes that were parsed, never read a second time by name', async () => {
    const root = path.join(work, 'root');
    await fsp.mkdir(path.join(root, 'opt/hand/Configuration'), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration/a.json'), '{"a":1}\n');
    const profile = path.join(work, 'hand.json');
    await fsp.writeFile(profile, JSON.stringify(handProfile({ items: ['Configuration'] })));
    const from = path.join(work, 'from');
    const b = await runCli(
      [
        'backup',
        '--profile',
        profile,
        '--allow-profile-commands',
        '--root',
        root,
        '--to',
        from,
        '--device-id',
        'box',
        '--yes',
      ].concat(['--state-dir', path.join(work, 'state')]),
    );
    expect(b.code, b.stderr).toBe(0);
    const device = path.join(from, 'EdgeRecovery', 'box');
    const [name] = (await fsp.readdir(device)).filter((n) => n.startsWith('Backup_'));
    // Set A as written; set B the same but for one part hash its manifest claims.
    const a = path.join(work, 'a');
    const bb = path.join(work, 'b');
    await fsp.cp(path.join(device, name!), a, { recursive: true });
    await fsp.cp(path.join(device, name!), bb, { recursive: true });
    const m = JSON.parse(await fsp.readFile(path.join(bb, MANIFEST_NAME), 'utf8')) as {
      archive: { parts: { sha256: string }[] };
    };
    m.archive.parts[0]!.sha256 = 'f'.repeat(64);
    await fsp.writeFile(path.join(bb, MANIFEST_NAME), JSON.stringify(m, null, 2) + '\n');
    const sums = new Map<string, string>();
    for (const d of [a, bb]) {
      const bytes = await fsp.readFile(path.join(d, MANIFEST_NAME));
      const parts = (JSON.parse(bytes.toString()) as typeof m).archive.parts[0]!.sha256;
      sums.set(parts, createHash('sha256').update(bytes).digest('hex'));
    }
    expect(sums.size).toBe(2);

    const mine = path.join(work, 'user');
    await fsp.mkdir(mine, { mode: 0o755 });
    await fsp.chown(mine, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    const link = path.join(mine, 'set');
    await fsp.symlink(a, link);
    const stop = path.join(work, 'stop');
    const racer = racerAsync(OWNER, ['flip-link', link, a, bb, stop, String(GIVE_UP_MS / 1000 + 30)]);
    let said: Record<string, unknown> = {};
    const seen = { a: 0, b: 0, mismatched: 0 };
    try {
      const until = Date.now() + GIVE_UP_MS;
      while ((seen.a < ROUNDS || seen.b < ROUNDS) && seen.mismatched === 0 && Date.now() < until) {
        const r = await readSetForMirror(link);
        const part = r.manifest.archive.parts[0]!.sha256;
        if (sums.get(part) !== r.manifestSum) seen.mismatched++;
        else if (part === 'f'.repeat(64)) seen.b++;
        else seen.a++;
      }
    } finally {
      await fsp.writeFile(stop, '');
      said = await racer;
    }
    expect({ ...seen, racer: said }).toMatchObject({ mismatched: 0 });
    expect(seen.a, 'set A was read while the link flipped').toBeGreaterThanOrEqual(ROUNDS);
    expect(seen.b, 'set B was read while the link flipped').toBeGreaterThanOrEqual(ROUNDS);
  }, 120_000);
});
