import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapPath, parentsOf, screenName } from '../../src-main/engine/archive/hand-made-map.js';
import { ZipFile } from '../../src-main/engine/archive/zip-reader.js';
import { adoptArchiveJob } from '../../src-main/engine/archive/adopt.js';
import { mapItemsFor, runAdopt } from '../../src-main/engine/backup/hand-made.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { isRecoveryError } from '../../src-main/engine/errors.js';
import { loadProfile } from '../../src-main/engine/profiles/load.js';
import { runCli } from '../helpers/cli.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests } from '../helpers/loop-device.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';

// Debian's python3 (CI installs it); a version manager's shim on PATH can take seconds per start.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const EDS = 'usr/share/OSIsoft/EdgeDataStore';

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!isRecoveryError(e)) throw new Error(`expected a RecoveryError, got ${String(e)}`);
  return { code: e.code, message: e.message };
}

/** The read-through in this thread (the worker around it is covered by hand-made-restore.test.ts). */
function readHandMade(file: string, profile: Profile) {
  return adoptArchiveJob(
    { source: file, items: mapItemsFor(profile) },
    { progress: () => undefined, willCreate: () => undefined },
  );
}

function py(script: string, ...args: string[]): void {
  execFileSync(PYTHON, ['-c', script, ...args]);
}

describe('hand-made archives: mapping and the zip reader', () => {
  let dir: string;
  let profile: Profile;

  beforeAll(async () => {
    profile = await loadProfile('eds-linux');
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hand-made-unit-'));
    const eds = path.join(dir, 'root', EDS);
    await fsp.mkdir(path.join(eds, 'Configuration/sub'), { recursive: true });
    await fsp.mkdir(path.join(eds, 'Storage/streams'), { recursive: true });
    await fsp.writeFile(path.join(eds, 'Configuration/System_Port.json'), '{"Port":5590}\n');
    await fsp.writeFile(path.join(eds, 'Storage/streams/seg.dat'), Buffer.alloc(200_000, 7));
  });

  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('maps folders at the top, under their parent or under the absolute path, and nothing else', () => {
    // The folders on by default: Logs (off by default) and the certificates' `*` item are not searched for.
    const items = mapItemsFor(profile);
    expect(items.map((i) => i.id)).toEqual(['Configuration', 'Storage']);
    expect(mapPath(['Configuration', 'a.json'], items)).toEqual({ id: 'Configuration', rest: ['a.json'], base: '' });
    expect(mapPath(['EdgeDataStore', 'Storage', 'x'], items)).toMatchObject({ id: 'Storage', base: 'EdgeDataStore' });
    expect(mapPath(EDS.split('/').concat('Configuration'), items)).toMatchObject({ id: 'Configuration', base: EDS });
    // Windows folder names: any case.
    expect(mapPath(['edgedatastore', 'configuration'], items)).toMatchObject({ id: 'Configuration' });
    // Not a trailing part of the profile's path: not ours.
    expect(mapPath(['backup', 'Configuration', 'a'], items)).toBeNull();
    expect(mapPath(['Logs', 'x.log'], items)).toBeNull();
    expect(parentsOf('%ProgramData%\\OSIsoft\\EdgeDataStore\\Storage')).toEqual([
      'ProgramData',
      'OSIsoft',
      'EdgeDataStore',
    ]);
  });

  it('refuses absolute, drive-letter and ".." names before anything else', () => {
    expect(() => screenName('/etc/passwd', false)).toThrow(/absolute path/);
    expect(() => screenName('C:\\Windows\\x', true)).toThrow(/drive letter/);
    expect(() => screenName('a/../../b', false)).toThrow(/'\.\.'/);
    expect(() => screenName('EdgeDataStore\\..\\..\\x', true)).toThrow(/'\.\.'/);
    expect(() => screenName('Configuration\\a', false)).toThrow(/backslash/);
    expect(screenName('EdgeDataStore\\Configuration\\a.json', true)).toEqual([
      'EdgeDataStore',
      'Configuration',
      'a.json',
    ]);
    expect(screenName('./Configuration/', false)).toEqual(['Configuration']);
  });

  it('reads zip64 and data-descriptor zips and checks every CRC-32', async () => {
    // Python's zipfile, forced to zip64; Info-ZIP writing to a pipe uses data descriptors.
    const z64 = path.join(dir, 'z64.zip');
    py(
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    with z.open('Configuration/big.bin', 'w', force_zip64=True) as f:
        f.write(b'x' * 300000)
    z.writestr('Configuration/small.json', '{}')`,
      z64,
    );
    const zf = ZipFile.open(z64);
    const entries = zf.entries();
    let n = 0;
    for await (const c of zf.read(entries[0]!)) n += c.length;
    zf.close();
    expect(n).toBe(300000);
    const dd = path.join(dir, 'dd.zip');
    execFileSync('sh', ['-c', `cd "${path.join(dir, 'root', EDS)}" && zip -q -r - Configuration Storage > "${dd}"`]);
    const r = await readHandMade(dd, profile);
    expect(r.format).toBe('zip');
    expect(r.files).toBe(2);
    expect(r.items.map((i) => i.from)).toEqual(['Configuration', 'Storage']);

    // One flipped byte inside stored data: the CRC-32 says so.
    const stored = path.join(dir, 'stored.zip');
    execFileSync('zip', ['-q', '-0', '-r', stored, 'Storage'], { cwd: path.join(dir, 'root', EDS) });
    const buf = await fsp.readFile(stored);
    const at = buf.indexOf(Buffer.alloc(64, 7));
    buf[at + 10] = 8;
    await fsp.writeFile(stored, buf);
    const bad = await refusal(readHandMade(stored, profile));
    expect(bad.code).toBe('BACKUP_CORRUPT');
    expect(bad.message).toMatch(/CRC-32/);
  });

  it('refuses zip links, "..", absolute and drive-letter entries, and a tar link leaving its folder', async () => {
    const link = path.join(dir, 'link.zip');
    await fsp.symlink('../../../etc/passwd', path.join(dir, 'root', EDS, 'Configuration/evil'));
    try {
      execFileSync('zip', ['-q', '-y', '-r', link, 'Configuration'], { cwd: path.join(dir, 'root', EDS) });
    } finally {
      await fsp.rm(path.join(dir, 'root', EDS, 'Configuration/evil'));
    }
    expect(await refusal(readHandMade(link, profile))).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    for (const [name, why] of [
      ['Configuration\\..\\..\\etc\\cron.d\\x', /'\.\.'/],
      ['/etc/passwd', /absolute/],
      ['D:\\EdgeDataStore\\Configuration\\x', /drive letter/],
    ] as const) {
      const f = path.join(dir, `bad-${why.source.replace(/\W/g, '')}.zip`);
      py(
        `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('Configuration/ok.json', '{}')
    zi = zipfile.ZipInfo('placeholder')
    zi.filename = sys.argv[2]
    z.writestr(zi, 'x')`,
        f,
        name,
      );
      const r = await refusal(readHandMade(f, profile));
      expect(r.code, name).toBe('HOSTILE_ARCHIVE');
      expect(r.message, name).toMatch(why);
    }
    const tarLink = path.join(dir, 'link.tgz');
    py(
      `import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w:gz') as t:
    d = tarfile.TarInfo('Configuration'); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    l = tarfile.TarInfo('Configuration/out'); l.type = tarfile.SYMTYPE; l.linkname = '../../etc'; t.addfile(l)`,
      tarLink,
    );
    const r = await refusal(readHandMade(tarLink, profile));
    expect(r).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    expect(r.message).toMatch(/leaving its folder/);

    // A chain of links, each harmless alone (s1 -> .., s2 -> s1/.., s3 -> s2/.. stay inside when read as words),
    // that together leave the folder: the same screen as our own sets resolves them against the tree, so the
    // hand-made reader refuses it too.
    const chain = path.join(dir, 'chain.tgz');
    py(
      `import sys, tarfile
with tarfile.open(sys.argv[1], 'w:gz') as t:
    for name in ['Configuration', 'Configuration/a', 'Configuration/a/b']:
        d = tarfile.TarInfo(name); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
    for name, target in [('s1', '..'), ('s2', 's1/..'), ('s3', 's2/..'), ('etc', 's3/etc')]:
        l = tarfile.TarInfo('Configuration/a/b/' + name); l.type = tarfile.SYMTYPE; l.linkname = target; t.addfile(l)`,
      chain,
    );
    const c = await refusal(readHandMade(chain, profile));
    expect(c).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    expect(c.message).toMatch(/links it passes through/);
  });

  it('says plainly when no folder of the profile is inside, and refuses something that is no archive', async () => {
    const other = path.join(dir, 'other.tar.gz');
    await fsp.mkdir(path.join(dir, 'misc'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'misc', 'notes.txt'), 'hello');
    execFileSync('tar', ['-czf', other, '-C', dir, 'misc']);
    const r = await refusal(readHandMade(other, profile));
    expect(r.code).toBe('PROFILE_MISMATCH');
    expect(r.message).toContain('No folder of the profile (Configuration, Storage)');
    expect(r.message).toContain('misc/notes.txt');
    const junk = path.join(dir, 'junk.zip');
    await fsp.writeFile(junk, 'not an archive at all');
    expect((await refusal(readHandMade(junk, profile))).code).toBe('BACKUP_CORRUPT');
  });

  it('edge-recovery verify reads a hand-made archive through (exit 0, says it has no checksums) and refuses a damaged one (exit 3)', async () => {
    const good = path.join(dir, 'cli.tar.gz');
    execFileSync('tar', ['-czf', good, '-C', path.join(dir, 'root'), EDS]);
    const ok = await runCli(['verify', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(
      'Made by hand: it can be read through, but there are no recorded checksums to compare.',
    );
    expect(ok.stdout).toContain(`Configuration ← ${EDS}/Configuration/`);
    const whole = await fsp.readFile(good);
    const cut = path.join(dir, 'cli-cut.tar.gz');
    await fsp.writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const bad = await runCli(['verify', cut]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/damaged/);
  }, 60_000);
});

/** `adopt` writes a backup set onto the stick: a stick that refuses says why, as a backup's would, never INTERNAL. */
describe('edge-recovery adopt onto a stick that refuses', () => {
  let dir: string;
  let archive: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hand-made-refuse-'));
    const eds = path.join(dir, 'root', EDS);
    await fsp.mkdir(path.join(eds, 'Configuration'), { recursive: true });
    await fsp.mkdir(path.join(eds, 'Storage'), { recursive: true });
    await fsp.writeFile(path.join(eds, 'Configuration/System_Port.json'), '{"Port":5590}\n');
    // Incompressible: the set's data.tar.gz is as large (6 MiB) as this.
    await fsp.writeFile(path.join(eds, 'Storage/seg.dat'), randomBytes(6 * 1024 * 1024));
    archive = path.join(dir, 'by-hand.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', path.join(dir, 'root'), EDS]);
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('refuses a split size under 1 MiB before writing anything', async () => {
    const out = path.join(dir, 'stick-small-parts');
    const io = { emit: () => undefined, interaction: autoConfirm };
    const profile = await loadProfile('eds-linux');
    const e = await runAdopt({ source: archive, profile, to: out, splitSize: 64 * 1024 }, io).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/at least 1 MiB/) });
    expect(await fsp.readdir(path.join(out, 'EdgeRecovery', 'hand-made'))).toEqual([]);
  });

  it.skipIf(skipLoopTests)(`says a read-only stick is read-only (${loopMountUnavailable ?? 'loop ext4'})`, async () => {
    const stick = await createLoopMount(8);
    try {
      execFileSync('mount', ['-o', 'remount,ro', stick.mountpoint]);
      const io = { emit: () => undefined, interaction: autoConfirm };
      const e = await runAdopt(
        { source: archive, profile: await loadProfile('eds-linux'), to: stick.mountpoint },
        io,
      ).catch((x: unknown) => x);
      expect(e).toMatchObject({
        code: 'PERMISSION_DENIED',
        message: expect.stringMatching(/^The medium is read-only \(/),
        hint: expect.stringMatching(/write-protect/),
      });
    } finally {
      await stick.cleanup();
    }
  });

  it('says a file too large for the stick (ulimit -f, as FAT32 at 4 GiB) and offers --split-size, which then fits', async () => {
    const out = path.join(dir, 'stick');
    await fsp.mkdir(out);
    const script = path.join(dir, 'adopt.mts');
    await fsp.writeFile(
      script,
      `import { runAdopt } from ${JSON.stringify(path.resolve('src-main/engine/backup/hand-made.ts'))};
import { loadProfile } from ${JSON.stringify(path.resolve('src-main/engine/profiles/load.ts'))};
import { autoConfirm } from ${JSON.stringify(path.resolve('src-main/engine/runbook/runner.ts'))};
const profile = await loadProfile('eds-linux');
const io = { emit: () => undefined, interaction: autoConfirm };
const splitSize = process.argv[2] ? Number(process.argv[2]) : undefined;
await runAdopt({ source: ${JSON.stringify(archive)}, profile, to: ${JSON.stringify(out)}, splitSize }, io).then(
  (r) => console.log(JSON.stringify({ ok: true, parts: r.manifest.archive.parts.map((p) => p.size) })),
  (e) => console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })),
);
`,
    );
    // bash counts ulimit -f in KiB: 4 MiB per file for this process; the set's 6 MiB data.tar.gz does not fit.
    const adopt = (...args: string[]) => {
      const r = spawnSync('bash', ['-c', `ulimit -f 4096; exec node --import tsx ${script} "$@"`, 'adopt', ...args], {
        encoding: 'utf8',
      });
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    };
    const last = adopt();
    expect(last).toMatchObject({
      code: 'FILE_TOO_LARGE',
      hint: expect.stringMatching(/Use --split-size, or an exFAT\/ext4 stick/),
    });
    // Nothing half-made stays on the stick.
    const sets = await fsp.readdir(path.join(out, 'EdgeRecovery', 'hand-made')).catch(() => []);
    expect(sets).toEqual([]);
    // Parts of 2 MiB fit under the 4 MiB limit.
    const split = adopt(String(2 * 1024 * 1024));
    expect(split.ok).toBe(true);
    expect(split.parts.length).toBeGreaterThan(1);
    expect(Math.max(...split.parts)).toBe(2 * 1024 * 1024);
  });
});
