import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { recordSetVerified } from '../../src-main/engine/backup/written-sets.js';
import type { RunbookEvent } from '../../src-main/engine/runbook/types.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests, type LoopMount } from '../helpers/loop-device.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { requireRunit } from '../helpers/runit.js';

const runit = requireRunit();

async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else out.set(r, execFileSync('sha256sum', [p], { encoding: 'utf8' }).slice(0, 64));
    }
  };
  await walk(dir, '');
  return out;
}

describe.skipIf(runit.skip || skipLoopTests)('edge-recovery mirror onto a loop-mounted ext4 stick', () => {
  let m: PracticeMachine;
  let work: string;
  let stick: LoopMount;
  let src: string;
  let dev: string;
  const sets: string[] = [];

  /**
   * A copy of a verified set with another creation time in its manifest and name; `recorded`: as a backup this
   * machine wrote (backup/written-sets.ts, in the mirror's state folder), else as one planted or written elsewhere.
   */
  async function setAt(from: string, createdAt: Date, into = dev, recorded = true): Promise<string> {
    const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 13) + 'Z';
    const dst = path.join(into, `Backup_eds-practice_${stamp}`);
    await fsp.cp(from, dst, { recursive: true });
    const mf = path.join(dst, 'manifest.json');
    const man = JSON.parse(await fsp.readFile(mf, 'utf8'));
    man.createdAt = createdAt.toISOString();
    await fsp.writeFile(mf, JSON.stringify(man, null, 2));
    if (recorded) {
      await recordSetVerified(path.join(work, 'state'), dst, man.profile.id, JSON.stringify(man, null, 2), {
        createdAt: man.createdAt,
        class: man.class ?? 'manual',
      });
    }
    // SHA256SUMS lists manifest.json too: keep the copy checkable by hand.
    const sums = path.join(dst, 'SHA256SUMS');
    const sum = execFileSync('sha256sum', ['manifest.json'], { cwd: dst, encoding: 'utf8' });
    const text = await fsp.readFile(sums, 'utf8');
    await fsp.writeFile(sums, text.replace(/^[0-9a-f]{64} [ *]manifest\.json\n/m, sum));
    return dst;
  }

  beforeAll(async () => {
    if (loopMountUnavailable !== null && process.env.CI) throw new Error(loopMountUnavailable);
    m = await startPracticeMachine();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'mirror-'));
    src = path.join(work, 'backups');
    const events: RunbookEvent[] = [];
    const r = await runBackup(
      { profile: m.profile, root: m.root, to: src, deviceId: 'box', stateDir: path.join(work, 'state') },
      { emit: (e) => events.push(e), interaction: { confirm: async () => true, credentials: async () => null } },
    );
    dev = path.dirname(r.setDir);
    const day = 86_400_000;
    for (const d of [3, 2, 1]) sets.push(await setAt(r.setDir, new Date(Date.now() - d * day)));
    await fsp.rm(r.setDir, { recursive: true });
    // An interrupted backup (no manifest) is never mirrored.
    await fsp.mkdir(path.join(dev, 'Backup_eds-practice_20991231_2359Z'));
    await fsp.writeFile(path.join(dev, 'Backup_eds-practice_20991231_2359Z', 'data.tar.gz.partial'), 'x');
    stick = await createLoopMount(64, { name: 'STICK 1' });
  });
  afterAll(async () => {
    await stick?.cleanup();
    await m?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  const mirror = (...args: string[]) =>
    runCli(['mirror', '--from', src, '--to', stick.mountpoint, '--state-dir', path.join(work, 'state'), ...args]);

  it('copies the N newest verified backups, reads each back from the stick, and prunes older ones there', async () => {
    const r = await mirror('--keep', '2', '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const ev = jsonEvents(r.stdout);
    const fin = ev.find((e) => e.type === 'finished')!;
    expect(fin.ok).toBe(true);
    const onStick = path.join(stick.mountpoint, 'EdgeRecovery', 'box');
    expect((await fsp.readdir(onStick)).sort()).toEqual([path.basename(sets[1]!), path.basename(sets[2]!)]);
    for (const s of sets.slice(1)) expect(await tree(path.join(onStick, path.basename(s)))).toEqual(await tree(s));
    expect(ev.some((e) => e.type === 'progress')).toBe(true);
    // The copy verifies by hand too.
    expect(
      execFileSync('sha256sum', ['-c', 'SHA256SUMS'], {
        cwd: path.join(onStick, path.basename(sets[2]!)),
        encoding: 'utf8',
      }),
    ).toMatch(/: OK/);

    // A newer backup appears: it is copied, the newest already there is kept as is, the older is removed.
    sets.push(await setAt(sets[2]!, new Date()));
    const r2 = await mirror('--keep', '2', '--json');
    expect(r2.code, r2.stderr + r2.stdout).toBe(0);
    const res = jsonEvents(r2.stdout).find((e) => e.type === 'finished')!.result as {
      copied: string[];
      alreadyThere: string[];
      removed: string[];
    };
    expect(res.copied.map((p) => path.basename(p))).toEqual([path.basename(sets[3]!)]);
    expect(res.alreadyThere.map((p) => path.basename(p))).toEqual([path.basename(sets[2]!)]);
    expect(res.removed.map((p) => path.basename(p))).toEqual([path.basename(sets[1]!)]);
    expect((await fsp.readdir(onStick)).sort()).toEqual([path.basename(sets[2]!), path.basename(sets[3]!)]);
  });

  it('refuses a source whose part does not match its manifest, leaving nothing half-copied on the stick', async () => {
    const newest = sets[3]!;
    const part = path.join(newest, (await fsp.readdir(newest)).find((n) => n.startsWith('data.tar.gz'))!);
    const good = await fsp.readFile(part);
    const bad = Buffer.from(good);
    bad[bad.length >> 1]! ^= 0xff;
    const onStick = path.join(stick.mountpoint, 'EdgeRecovery', 'box');
    await fsp.rm(path.join(onStick, path.basename(newest)), { recursive: true });
    await fsp.writeFile(part, bad);
    try {
      const r = await mirror('--keep', '2');
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/does not match its manifest/);
      expect((await fsp.readdir(onStick)).filter((n) => n.startsWith('.'))).toEqual([]);
      expect(await fsp.readdir(onStick)).not.toContain(path.basename(newest));
    } finally {
      await fsp.writeFile(part, good);
    }
  });

  it("copies a product's own backup files by pattern (OpenCRVS .tar.gz.enc) with a .sha256 beside each", async () => {
    const own = path.join(work, 'opencrvs-backups');
    await fsp.mkdir(own);
    const names = [
      'opencrvs-2026-11-27.tar.gz.enc',
      'opencrvs-2026-11-28.tar.gz.enc',
      'opencrvs-2026-11-29.tar.gz.enc',
    ];
    for (const [i, n] of names.entries()) {
      await fsp.writeFile(path.join(own, n), randomBytes(200_000 + i));
      const t = new Date(Date.now() - (3 - i) * 86_400_000);
      await fsp.utimes(path.join(own, n), t, t);
    }
    await fsp.writeFile(path.join(own, 'notes.txt'), 'not a backup');
    const r = await runCli([
      'mirror',
      '--from',
      own,
      '--to',
      stick.mountpoint,
      '--glob',
      '*.tar.gz.enc',
      '--keep',
      '2',
      '--state-dir',
      path.join(work, 'state'),
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const dir = path.join(stick.mountpoint, 'EdgeRecovery', 'files');
    expect((await fsp.readdir(dir)).sort()).toEqual([names[1], `${names[1]}.sha256`, names[2], `${names[2]}.sha256`]);
    expect(execFileSync('sha256sum', ['-c', `${names[2]}.sha256`], { cwd: dir, encoding: 'utf8' })).toMatch(/: OK/);
    expect(await fsp.readFile(path.join(dir, names[2]!))).toEqual(await fsp.readFile(path.join(own, names[2]!)));
  });

  it("prunes by what this machine copied, not by a stick's own dates: planted 'newer' sets push no real copy out", async () => {
    // A backup disk that keeps two sets, mirrored with --keep 3 onto a fresh device folder of the stick.
    const from2 = path.join(work, 'backups2');
    const dev2 = path.join(from2, 'EdgeRecovery', 'box2');
    await fsp.mkdir(dev2, { recursive: true });
    const day = 86_400_000;
    const a = await setAt(sets[0]!, new Date(Date.now() - 5 * day), dev2);
    const b = await setAt(sets[0]!, new Date(Date.now() - 4 * day), dev2);
    const mirror2 = (...args: string[]) =>
      runCli(['mirror', '--from', from2, '--to', stick.mountpoint, '--state-dir', path.join(work, 'state'), ...args]);
    expect((await mirror2('--keep', '3')).code).toBe(0);
    const onStick = path.join(stick.mountpoint, 'EdgeRecovery', 'box2');
    // The disk's own retention removes A (the stick's copy is now the only one), a new backup C is made.
    await fsp.rm(a, { recursive: true });
    const c = await setAt(sets[0]!, new Date(Date.now() - 3 * day), dev2);
    // Planted on the stick: a well-formed set (it passes sha256sum -c) claiming 2099, and a byte copy of C under a
    // 2099 name. Before, both ranked "newest" and pushed A, the only copy, out of "keep 3".
    await setAt(sets[0]!, new Date('2099-01-01T00:00:00Z'), onStick, false);
    await fsp.cp(c, path.join(onStick, 'Backup_eds-practice_20990102_0000Z'), { recursive: true });
    const r = await mirror2('--keep', '3', '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = jsonEvents(r.stdout).find((e) => e.type === 'finished')!.result as { removed: string[] };
    expect(res.removed).toEqual([]);
    const names = (await fsp.readdir(onStick)).sort();
    for (const s of [a, b, c]) expect(names).toContain(path.basename(s));
    expect(names).toContain('Backup_eds-practice_20990101_0000Z');
    expect(r.stdout).toMatch(/Left alone 1 not copied by this machine's mirror[^"]*Backup_eds-practice_20990101_0000Z/);
    // --keep 2: the oldest real copy (A) goes; the planted set stays (never ours to delete); C and its copy stay.
    const r2 = await mirror2('--keep', '2', '--json');
    expect(r2.code, r2.stderr + r2.stdout).toBe(0);
    const res2 = jsonEvents(r2.stdout).find((e) => e.type === 'finished')!.result as { removed: string[] };
    expect(res2.removed.map((p) => path.basename(p))).toEqual([path.basename(a)]);
    expect((await fsp.readdir(onStick)).sort()).toEqual(
      [
        path.basename(b),
        path.basename(c),
        'Backup_eds-practice_20990101_0000Z',
        'Backup_eds-practice_20990102_0000Z',
      ].sort(),
    );
  });

  it('never lets a set planted at the source, dated between two real ones, push a real copy off the stick', async () => {
    const from3 = path.join(work, 'backups3');
    const dev3 = path.join(from3, 'EdgeRecovery', 'box3');
    await fsp.mkdir(dev3, { recursive: true });
    const day = 86_400_000;
    const a = await setAt(sets[0]!, new Date(Date.now() - 5 * day), dev3);
    const b = await setAt(sets[0]!, new Date(Date.now() - 4 * day), dev3);
    const mirror4 = (...args: string[]) =>
      runCli(['mirror', '--from', from3, '--to', stick.mountpoint, '--state-dir', path.join(work, 'state'), ...args]);
    expect((await mirror4('--keep', '2')).code).toBe(0);
    const onStick = path.join(stick.mountpoint, 'EdgeRecovery', 'box3');
    // The disk's own retention removes A and B (the stick's copies are now the only ones); C is made. Planted on the
    // disk (anyone who can write it): a well-formed set named and dated between B and C, not a date in the future.
    await fsp.rm(a, { recursive: true });
    await fsp.rm(b, { recursive: true });
    const c = await setAt(sets[0]!, new Date(Date.now() - 1 * day), dev3);
    const planted = await setAt(sets[0]!, new Date(Date.now() - 2 * day), dev3, false);
    const r = await mirror4('--keep', '2', '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = jsonEvents(r.stdout).find((e) => e.type === 'finished')!.result as { removed: string[] };
    // Keep 2 of what this machine wrote: C and B; A goes. The planted copy is on the stick, but never counted.
    expect(res.removed.map((p) => path.basename(p))).toEqual([path.basename(a)]);
    expect((await fsp.readdir(onStick)).sort()).toEqual(
      [path.basename(b), path.basename(c), path.basename(planted)].sort(),
    );
    expect(r.stdout).toMatch(
      new RegExp(`Copied but not counted on the stick[^"]*${path.basename(planted)} \\(this machine has no record`),
    );
  });

  it("prunes a product's files by what this machine copied too: a planted 'newer' file with its own .sha256 pushes none out", async () => {
    const own = path.join(work, 'own-files');
    await fsp.mkdir(own);
    const day = 86_400_000;
    const put = async (name: string, daysAgo: number) => {
      await fsp.writeFile(path.join(own, name), randomBytes(100_000 + daysAgo));
      const t = new Date(Date.now() - daysAgo * day);
      await fsp.utimes(path.join(own, name), t, t);
    };
    await put('app-1.tar.gz.enc', 5);
    await put('app-2.tar.gz.enc', 4);
    const mirror3 = (...args: string[]) =>
      runCli([
        'mirror',
        '--from',
        own,
        '--to',
        stick.mountpoint,
        '--glob',
        'app-*.tar.gz.enc',
        '--state-dir',
        path.join(work, 'state'),
        ...args,
      ]);
    expect((await mirror3('--keep', '3')).code).toBe(0);
    // The source's retention drops app-1 (the stick's copy is now the only one); app-3 is made.
    await fsp.rm(path.join(own, 'app-1.tar.gz.enc'));
    await put('app-3.tar.gz.enc', 3);
    // Planted: a file dated 2099 with a .sha256 that checks out (sha256sum -c says OK).
    const dir = path.join(stick.mountpoint, 'EdgeRecovery', 'files');
    const fake = path.join(dir, 'app-9.tar.gz.enc');
    await fsp.writeFile(fake, randomBytes(1000));
    await fsp.writeFile(
      `${fake}.sha256`,
      execFileSync('sha256sum', ['app-9.tar.gz.enc'], { cwd: dir, encoding: 'utf8' }),
    );
    const future = new Date('2099-01-01T00:00:00Z');
    await fsp.utimes(fake, future, future);
    const r = await mirror3('--keep', '3', '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = jsonEvents(r.stdout).find((e) => e.type === 'finished')!.result as { removed: string[] };
    expect(res.removed).toEqual([]);
    const names = await fsp.readdir(dir);
    for (const n of ['app-1.tar.gz.enc', 'app-2.tar.gz.enc', 'app-3.tar.gz.enc', 'app-9.tar.gz.enc']) {
      expect(names).toContain(n);
    }
    // --keep 2: the oldest copy goes (with its .sha256); the planted file is never ours to delete.
    const r2 = await mirror3('--keep', '2', '--json');
    const res2 = jsonEvents(r2.stdout).find((e) => e.type === 'finished')!.result as { removed: string[] };
    expect(res2.removed.map((p) => path.basename(p))).toEqual(['app-1.tar.gz.enc']);
    expect((await fsp.readdir(dir)).filter((n) => n.startsWith('app-')).sort()).toEqual(
      ['app-2', 'app-3', 'app-9'].flatMap((b) => [`${b}.tar.gz.enc`, `${b}.tar.gz.enc.sha256`]),
    );
  });
});
