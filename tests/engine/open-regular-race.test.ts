import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArtifacts } from '../../src-main/engine/runbook/product/artifacts.js';
import { readOpensslEncTar } from '../../src-main/engine/runbook/product/openssl-enc.js';
import { emptyProductState, runProductStep } from '../../src-main/engine/runbook/product/product-steps.js';
import { readPassphraseFile } from '../../src-main/engine/schedule/passphrase-file.js';
import { readGivenFile, readSmallFileSync } from '../../src-main/engine/util/given-path.js';
import { readStickText } from '../../src-main/engine/util/stick-file.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { isRoot } from '../helpers/datasets.js';
import { watchOpens } from '../helpers/open-watch.js';
import { productHost, stepsProfile } from '../helpers/product-host.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * A file the technician names (--passphrase-file, --credentials-file, --profile, a profile's version or port file)
 * or a file on a stick may sit in a folder a less-privileged account controls. That account flips a link in the
 * path between a folder holding a regular file and a folder holding a device node of the same name (a copy of
 * /dev/null; opening a watchdog would start it), as fast as it can, while root reads the file again and again.
 * Judging the name by lstat and then opening it by name opened the device whenever the flip fell between the two
 * (within a few hundred reads here); the readers now open only the inode they judged (O_PATH, then
 * /proc/self/fd/<n>). inotify (IN_OPEN) on the device node says whether it was ever opened.
 * Each reader runs until it has both read the real file and refused the device at least ROUNDS times (so the race
 * was live), or the device was opened; no timing of this machine decides the outcome.
 */
const OWNER = 'edge-rt';
const ROUNDS = 200;
const GIVE_UP_MS = 90_000;
const REAL = 'the real file\n';

let work: string;
beforeAll(async () => {
  if (!isRoot) return;
  ensureTestOwner(OWNER);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'open-regular-race-'));
  await fsp.chmod(work, 0o755);
});
afterAll(async () => {
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

/** What one read came to: the real file's text, or a refusal of the device (anything else fails the test). */
type Outcome = 'read' | 'refused';

async function race(
  name: string,
  file: string,
  readOnce: (p: string) => Promise<Outcome>,
  rounds = ROUNDS,
  content: string | Buffer = REAL,
  refusedOnly = false,
): Promise<void> {
  const dir = path.join(work, name);
  const real = path.join(dir, 'real');
  const devs = path.join(dir, 'devs');
  const mine = path.join(dir, 'user');
  for (const d of [dir, real, devs, mine]) await fsp.mkdir(d, { mode: 0o755 });
  await fsp.writeFile(path.join(real, file), content, { mode: 0o600 });
  const node = path.join(devs, file);
  execFileSync('mknod', ['-m', '600', node, 'c', '1', '3']);
  await fsp.chown(mine, uidForUser(OWNER)!, gidForGroup(OWNER)!);
  const link = path.join(mine, 'set');
  await fsp.symlink(real, link);
  const stop = path.join(dir, 'stop');
  const watch = await watchOpens([node], path.join(dir, 'sentinel'));
  const racer = racerAsync(OWNER, ['flip-link', link, real, devs, stop, String(GIVE_UP_MS / 1000 + 30)]);
  let said: Record<string, unknown> = {};
  const seen = { read: 0, refused: 0 };
  try {
    const until = Date.now() + GIVE_UP_MS;
    const more = (): boolean => (seen.read < rounds && !refusedOnly) || seen.refused < rounds;
    for (let i = 1; more() && !watch.saw(node) && Date.now() < until; i++) {
      seen[await readOnce(path.join(link, file))]++;
      if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve)); // lets the watcher's news in
    }
  } finally {
    await fsp.writeFile(stop, '');
    said = await racer;
    await watch.settle();
    watch.stop();
  }
  expect({ deviceOpened: watch.saw(node), racer: said }).toMatchObject({ deviceOpened: false });
  if (refusedOnly) expect(seen.read, 'nothing was read through the flipping link').toBe(0);
  else expect(seen.read, 'the real file was read while the link flipped').toBeGreaterThanOrEqual(rounds);
  expect(seen.refused, 'the device was refused while the link flipped').toBeGreaterThanOrEqual(rounds);
}

/** Classifies a reader's result: its text is the real file's, or its error says it is not a regular file. */
function outcome(text: string | null, err: unknown, refusal: RegExp): Outcome {
  if (err === undefined && text === REAL) return 'read';
  if (err !== undefined && refusal.test((err as Error).message)) return 'refused';
  throw new Error(`unexpected: ${err === undefined ? JSON.stringify(text) : String(err)}`);
}

async function settled(p: Promise<Buffer | string>, refusal: RegExp): Promise<Outcome> {
  return p.then(
    (b) => outcome(b.toString(), undefined, refusal),
    (e: unknown) => outcome(null, e, refusal),
  );
}

describe.skipIf(!isRoot)('a file swapped for a device by a local user while root opens it', () => {
  it('a file option (--passphrase-file, --credentials-file, --profile, version file) never opens the device', () =>
    race('given', 'passphrase.txt', (p) =>
      settled(
        readGivenFile(p, { what: 'the passphrase file', max: 4096 }),
        /is not a regular file: it is a character device/,
      ),
    ));

  it("a file read without following links (a mirrored copy's checksum) never opens the device", () =>
    race('nofollow', 'data.tar.gz.sha256', (p) =>
      settled(
        readGivenFile(p, { what: 'the checksum file', max: 4096, noFollow: true }),
        /is not a regular file: it is a character device/,
      ),
    ));

  it("a scheduled run's passphrase file is refused in a folder another account changes, and the device never opened", () =>
    // The account's folder on the way is refused before anything is opened (schedule-passphrase-folders), whichever
    // way its link points: read neither the file nor the device.
    race(
      'schedule',
      'edge-recovery.pass',
      (p) =>
        settled(
          readPassphraseFile(p).then((t) => `${t}\n`),
          /^The passphrase file \S+ is not safe to read: the folder \S+ belongs to uid \d+\./,
        ),
      ROUNDS,
      REAL,
      true,
    ));

  it("a stick's manifest.json never opens the device", () =>
    race('stick', 'manifest.json', (p) => settled(readStickText(p), /manifest\.json in .* is not a regular file/)));

  it("a product's openssl-enc backup is read through the descriptor its header was judged on, never reopened", async () => {
    const src = path.join(work, 'enc-src');
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, 'db.gz'), 'x'.repeat(3000));
    const tgz = path.join(work, 'enc.tar.gz');
    execFileSync('tar', ['-czf', tgz, '-C', src, 'db.gz']);
    const enc = path.join(work, 'enc.tar.gz.enc');
    execFileSync('openssl', ['enc', '-aes-256-cbc', '-salt', '-pbkdf2', '-pass', 'pass:pw', '-in', tgz, '-out', enc]);
    await race(
      'enc',
      'nightly.tar.gz.enc',
      (p) =>
        readOpensslEncTar(p, 'pw').then(
          (r) => outcome(r.entries === 1 && r.bytes === 3000 ? REAL : JSON.stringify(r), undefined, /$^/),
          (e: unknown) => outcome(null, e, /nightly\.tar\.gz\.enc is not a regular file; nothing was decrypted/),
        ),
      ROUNDS / 4, // a key derivation per read: slower than the others, and the old code opened the device at once
      await fsp.readFile(enc),
    );
  });

  it("a product's openssl-enc file in a set is decrypted from the descriptor it was hashed on, not by its name again", async () => {
    // Two sets, both root's: the real one (its file matches the record) and another whose file of the same name
    // the passphrase does not open. A local user's link names the set and flips between the two while root
    // verifies. Hashing one file and then decrypting the other (the name opened twice) is the old code's outcome.
    const dir = path.join(work, 'enc-verify');
    const src = path.join(dir, 'src');
    await fsp.mkdir(src, { recursive: true });
    await fsp.writeFile(path.join(src, 'db.gz'), 'x'.repeat(3000));
    const tgz = path.join(dir, 'db.tar.gz');
    execFileSync('tar', ['-czf', tgz, '-C', src, 'db.gz']);
    const rel = 'artifacts/nightly/nightly.tar.gz.enc';
    const sets = { real: path.join(dir, 'real'), other: path.join(dir, 'other') };
    for (const [which, set] of Object.entries(sets)) {
      await fsp.mkdir(path.dirname(path.join(set, rel)), { recursive: true });
      const pass = `pass:${which === 'real' ? 'pw' : 'not-the-passphrase'}`;
      execFileSync('openssl', [
        'enc',
        '-aes-256-cbc',
        '-salt',
        '-pbkdf2',
        '-pass',
        pass,
        '-in',
        tgz,
        '-out',
        path.join(set, rel),
      ]);
    }
    const data = await fsp.readFile(path.join(sets.real, rel));
    const record = {
      step: 'nightly',
      path: rel,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      source: '/var/backups/nightly.tar.gz.enc',
      mtime: new Date().toISOString(),
      format: 'openssl-enc-tar-gz' as const,
    };
    const mine = path.join(dir, 'user');
    await fsp.mkdir(mine, { mode: 0o755 });
    await fsp.chown(mine, uidForUser(OWNER)!, gidForGroup(OWNER)!);
    const link = path.join(mine, 'set');
    await fsp.symlink(sets.real, link);
    const stop = path.join(dir, 'stop');
    const racer = racerAsync(OWNER, ['flip-link', link, sets.real, sets.other, stop, String(GIVE_UP_MS / 1000 + 30)]);
    const seen: Record<string, number> = { verified: 0, 'checksum refused': 0 };
    try {
      const until = Date.now() + GIVE_UP_MS;
      while ((seen.verified! < 50 || seen['checksum refused']! < 50) && Date.now() < until) {
        const said = await verifyArtifacts(link, [record], { passphrase: 'pw' }).then(
          (r) => (r.decrypted === 1 ? 'verified' : JSON.stringify(r)),
          (e: unknown) =>
            /does not match its recorded checksum/.test((e as Error).message)
              ? 'checksum refused'
              : `${(e as { code?: string }).code}: ${(e as Error).message}`,
        );
        seen[said] = (seen[said] ?? 0) + 1;
      }
    } finally {
      await fsp.writeFile(stop, '');
      await racer;
    }
    // Only the two honest outcomes: the real file hashed and decrypted, or the other file refused by its hash.
    expect(Object.keys(seen).sort(), JSON.stringify(seen)).toEqual(['checksum refused', 'verified']);
    expect(seen.verified).toBeGreaterThanOrEqual(50);
    expect(seen['checksum refused']).toBeGreaterThanOrEqual(50);
  });

  it("a product's log followed by a step (the product's account may swap it) never opens the device", () => {
    const step = {
      id: 'log',
      title: 'Follow the log',
      explain: 'Waits for the product to say it is done.',
      at: 'restore.after-start',
      kind: 'follow-log',
      file: '{root}/product.log',
      successPattern: 'the real file',
      timeoutSeconds: 30,
    };
    return race('follow', 'product.log', async (p) => {
      const profile = stepsProfile([{ ...step, file: p }]);
      // From the start of the file (a fresh step reads only what is written after it began).
      const h = productHost(profile, { pollMs: 1, state: { ...emptyProductState(), offsets: { log: 0 } } });
      return runProductStep(h, profile.steps[0]!, { log: () => undefined, progress: () => undefined }).then(
        (said) => outcome(/says: the real file$/.test(said) ? REAL : said, undefined, /$^/),
        (e: unknown) => outcome(null, e, /product\.log is not a regular file/),
      );
    });
  });

  it("the product's API port file (read synchronously) never opens the device", () =>
    race(
      'port',
      'appsettings.json',
      async (p) => {
        const text = readSmallFileSync(p, 4096);
        return text === null ? 'refused' : outcome(text, undefined, /$^/);
      },
      20 * ROUNDS,
    )); // stat and open back to back, synchronously: a narrower window than the others'
});
