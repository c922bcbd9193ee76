import { execFileSync, execSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveItems } from '../../src-main/engine/profiles/load.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { createLoopMount, loopMountUnavailable, skipLoopTests } from '../helpers/loop-device.js';
import { startPracticeMachine, type PracticeMachine } from '../helpers/practice-machine.js';
import { requireRunit } from '../helpers/runit.js';

const runit = requireRunit();

/** Every entry under `dir`: type, mode, size, sha256 of content, link target, mtime (s). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for (const e of (await fsp.readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = await fsp.lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.set(r, `link -> ${await fsp.readlink(p)}`);
      else {
        const h = createHash('sha256')
          .update(await fsp.readFile(p))
          .digest('hex');
        out.set(r, `file ${mode} ${st.size} ${h} ${Math.floor(st.mtimeMs / 1000)}`);
      }
    }
  };
  await walk(dir, '');
  return out;
}

async function findSets(stick: string): Promise<string[]> {
  const base = path.join(stick, 'EdgeRecovery');
  const out: string[] = [];
  for (const dev of await fsp.readdir(base).catch(() => [])) {
    // Backup sets only: the backup reports (report-backup-*.json/.html) sit beside them.
    for (const s of await fsp.readdir(path.join(base, dev)))
      if (s.startsWith('Backup_')) out.push(path.join(base, dev, s));
  }
  return out.sort();
}

async function partialsUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.name.endsWith('.partial')) out.push(p);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out;
}

function svStatus(serviceDir: string): string {
  return execFileSync('sv', ['status', serviceDir], { encoding: 'utf8' });
}

describe.skipIf(runit.skip)('edge-recovery backup on a practice appliance under runit', () => {
  let m: PracticeMachine;
  let work: string;

  beforeAll(async () => {
    m = await startPracticeMachine();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'backup-cli-'));
    // Add data the way a real store holds it: nested folders, an empty one, a link, odd names, big and small files.
    const storage = resolveItems(m.profile, { root: m.root }).find((i) => i.id === 'Storage')!.path;
    await fsp.mkdir(path.join(storage, 'Streams/Area 51/élan'), { recursive: true });
    await fsp.mkdir(path.join(storage, 'Empty'), { recursive: true });
    await fsp.writeFile(path.join(storage, 'Streams/Area 51/élan', 'x'.repeat(120) + '.dat'), randomBytes(300_000));
    await fsp.writeFile(path.join(storage, 'Streams/big.bin'), randomBytes(3 * 1024 * 1024));
    await fsp.symlink('Streams/big.bin', path.join(storage, 'latest'));
  });

  /** `edge-recovery backup` of the practice machine to `stick`, with more flags. */
  const backupTo = (stick: string, ...flags: string[]) =>
    runCli(['backup', '--profile', m.profilePath, '--root', m.root, '--to', stick, ...flags]);

  afterAll(async () => {
    await m?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('stops the running service, backs up, verifies, and starts it again', async () => {
    const before = svStatus(m.serviceDir);
    expect(before).toMatch(/^run: /);
    const pidBefore = /\(pid (\d+)\)/.exec(before)![1];
    const stick = path.join(work, 'stick-running');
    const r = await backupTo(stick, '--device-id', 'old-box', '--yes', '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const events = jsonEvents(r.stdout);
    const stepStates = events
      .filter((e) => e.type === 'step')
      .map((e) => `${(e.step as { id: string }).id}:${(e.step as { state: string }).state}`);
    expect(stepStates).toContain('stop-service:done');
    expect(stepStates).toContain('verify:done');
    expect(stepStates).toContain('start-service:done');
    // Progress came as bytes/files/rate/ETA events.
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]!.progress).toMatchObject({
      bytes: expect.any(Number),
      files: expect.any(Number),
      rate: expect.any(Number),
    });
    const after = svStatus(m.serviceDir);
    expect(after).toMatch(/^run: /);
    expect(/\(pid (\d+)\)/.exec(after)![1]).not.toBe(pidBefore);
    const [set] = await findSets(stick);
    expect(path.basename(path.dirname(set!))).toBe('old-box');
    expect(path.basename(set!)).toMatch(/^Backup_eds-practice_\d{8}_\d{4}Z$/);
    expect((await fsp.readdir(set!)).sort()).toEqual(['RESTORE.txt', 'SHA256SUMS', 'data.tar.gz', 'manifest.json']);
    // The stick travels: every file of the set is readable by root only.
    for (const n of await fsp.readdir(set!))
      expect(((await fsp.stat(path.join(set!, n))).mode & 0o777).toString(8)).toBe('600');
    const manifest = JSON.parse(await fsp.readFile(path.join(set!, 'manifest.json'), 'utf8'));
    expect(manifest.productVersion).toBe('1.1.1.46');
    expect(manifest.deviceId).toBe('old-box');
    // The gzip member index the verify and the restore inflate in parallel: it adds up to the archive.
    const members = manifest.archive.gzipMembers as number[];
    expect(members.length).toBeGreaterThan(0);
    expect(members.reduce((a, b) => a + b, 0)).toBe(manifest.archive.parts[0].size);
    expect(JSON.stringify(manifest)).not.toMatch(/Secret|Password"\s*:\s*"[^*]/);
    expect(await partialsUnder(stick)).toEqual([]);
  });

  it('writes an archive GNU tar extracts to identical files, with owner names, and sha256sum -c passes', async () => {
    const stick = path.join(work, 'stick-exact');
    const r = await backupTo(stick, '--device-id', 'old-box', '--yes', '--leave-stopped');
    expect(r.code, r.stderr).toBe(0);
    expect(svStatus(m.serviceDir)).toMatch(/^down: /);
    try {
      const [set] = await findSets(stick);
      expect(execSync('sha256sum -c SHA256SUMS', { cwd: set!, encoding: 'utf8' })).toMatch(/data\.tar\.gz: OK/);
      const listing = execFileSync('tar', ['-tvzf', path.join(set!, 'data.tar.gz')], { encoding: 'utf8' });
      const me = os.userInfo().username;
      expect(listing).toMatch(new RegExp(`^d\\S+ ${me}/\\S+ .* Configuration/$`, 'm'));
      const out = path.join(work, 'by-hand');
      await fsp.mkdir(out);
      execFileSync('tar', ['-xzpf', path.join(set!, 'data.tar.gz'), '-C', out]);
      for (const item of resolveItems(m.profile, { root: m.root })) {
        const original = await snapshot(item.path);
        const restored = await snapshot(path.join(out, item.id));
        expect(restored).toEqual(original);
        expect(original.size).toBeGreaterThan(2);
      }
      const restoreTxt = await fsp.readFile(path.join(set!, 'RESTORE.txt'), 'utf8');
      expect(restoreTxt).toContain('sha256sum -c SHA256SUMS');
      expect(restoreTxt).toContain('tar -xzpf');
    } finally {
      execFileSync('sv', ['start', m.serviceDir]);
    }
  });

  it('verify passes on a good backup and names the part when a byte is flipped or a part truncated', async () => {
    const stick = path.join(work, 'stick-verify');
    expect((await backupTo(stick, '--yes')).code).toBe(0);
    const [set] = await findSets(stick);
    const ok = await runCli(['verify', set!]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/OK: all \d+ files/);

    const data = path.join(set!, 'data.tar.gz');
    const bytes = await fsp.readFile(data);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    await fsp.writeFile(data, flipped);
    const bad = await runCli(['verify', set!]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/data\.tar\.gz/);

    await fsp.writeFile(data, bytes.subarray(0, bytes.length - 1000));
    const short = await runCli(['verify', set!]);
    expect(short.code).toBe(3);
    expect(short.stderr).toMatch(/data\.tar\.gz/);
  });

  it('encrypts with a passphrase so that age -d decrypts it by hand, and verify needs the passphrase', async () => {
    const stick = path.join(work, 'stick-age');
    const pf = path.join(work, 'pass.txt');
    await fsp.writeFile(pf, 'correct horse battery staple\n');
    const r = await backupTo(stick, '--encrypt', '--passphrase-file', pf, '--yes');
    expect(r.code, r.stderr).toBe(0);
    const [set] = await findSets(stick);
    expect(await fsp.readdir(set!)).toContain('data.tar.gz.age');
    // age reads passphrases only from a terminal: give it one with script(1).
    const plain = path.join(work, 'decrypted.tar.gz');
    execSync(
      `script -q -e -c ${JSON.stringify(`age -d -o ${plain} ${path.join(set!, 'data.tar.gz.age')}`)} /dev/null`,
      { input: 'correct horse battery staple\n', stdio: ['pipe', 'ignore', 'ignore'], timeout: 60_000 },
    );
    expect(execFileSync('tar', ['-tzf', plain], { encoding: 'utf8' })).toMatch(/^Configuration\/$/m);
    const wrong = path.join(work, 'wrong.txt');
    await fsp.writeFile(wrong, 'not the passphrase\n');
    const bad = await runCli(['verify', set!, '--passphrase-file', wrong]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/passphrase/i);
    const good = await runCli(['verify', set!, '--passphrase-file', pf]);
    expect(good.code, good.stderr).toBe(0);
  });

  it('splits into parts whose concatenation is the archive, and keeps only the newest N backups', async () => {
    const stick = path.join(work, 'stick-split');
    for (let i = 0; i < 3; i++) {
      const r = await backupTo(stick, '--split-size', '1M', '--keep', '2', '--device-id', 'old-box', '--yes');
      expect(r.code, r.stderr).toBe(0);
    }
    const sets = await findSets(stick);
    expect(sets).toHaveLength(2);
    // The backup reports beside the sets: one per kept set; the removed set's report went with it.
    const deviceDir = path.dirname(sets[0]!);
    const reports = (await fsp.readdir(deviceDir)).filter((n) => /^report-backup-.*\.json$/.test(n));
    const named = await Promise.all(
      reports.map(async (n) =>
        path.basename(JSON.parse(await fsp.readFile(path.join(deviceDir, n), 'utf8')).backupPath),
      ),
    );
    expect(named.sort()).toEqual(sets.map((x) => path.basename(x)).sort());
    expect((await fsp.readdir(deviceDir)).filter((n) => /^report-backup-.*\.html$/.test(n))).toHaveLength(2);
    const newest = sets[sets.length - 1]!;
    const parts = (await fsp.readdir(newest)).filter((n) => /^data\.tar\.gz\.\d{3}$/.test(n)).sort();
    expect(parts.length).toBeGreaterThan(2);
    expect(parts[0]).toBe('data.tar.gz.001');
    const listing = execSync(`cat ${parts.join(' ')} | tar -tzf -`, { cwd: newest, encoding: 'utf8' });
    expect(listing).toMatch(/^Storage\/Streams\/big\.bin$/m);
    // Every part, and manifest.json (so an edited manifest fails the check too).
    const sums = execSync('sha256sum -c SHA256SUMS', { cwd: newest, encoding: 'utf8' });
    expect(sums.match(/: OK/g)).toHaveLength(parts.length + 1);
    expect(sums).toMatch(/^manifest\.json: OK$/m);
    const list = await runCli(['list', stick, '--json']);
    const groups = JSON.parse(list.stdout);
    expect(groups[0].deviceId).toBe('old-box');
    expect(groups[0].backups).toHaveLength(2);
    expect(groups[0].backups[0].createdAt >= groups[0].backups[1].createdAt).toBe(true);
  });

  it('never removes a real backup because of a set planted on the stick with a date in the future', async () => {
    const stick = path.join(work, 'stick-planted');
    for (let i = 0; i < 2; i++) {
      const r = await backupTo(stick, '--keep', '2', '--device-id', 'old-box', '--yes');
      expect(r.code, r.stderr).toBe(0);
    }
    const [first, previous] = await findSets(stick);
    // Anyone holding the stick: a copy of a real set, its manifest dated 2099, SHA256SUMS rewritten to match.
    const planted = path.join(path.dirname(previous!), `${path.basename(previous!)}_x`);
    await fsp.cp(previous!, planted, { recursive: true });
    const mf = path.join(planted, 'manifest.json');
    const manifest = JSON.parse(await fsp.readFile(mf, 'utf8'));
    manifest.createdAt = '2099-01-01T00:00:00.000Z';
    const text = JSON.stringify(manifest, null, 2) + '\n';
    await fsp.writeFile(mf, text);
    const sums = path.join(planted, 'SHA256SUMS');
    const hash = createHash('sha256').update(text).digest('hex');
    await fsp.writeFile(
      sums,
      (await fsp.readFile(sums, 'utf8')).replace(/^[0-9a-f]{64}(?= {2}manifest\.json$)/m, hash),
    );
    expect(execSync('sha256sum -c SHA256SUMS', { cwd: planted, encoding: 'utf8' })).toMatch(/^manifest\.json: OK$/m);

    const r = await backupTo(stick, '--keep', '2', '--device-id', 'old-box', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/_x \(not counted: dated in the future\)/);
    const after = await findSets(stick);
    // The real previous backup stays; the oldest real one goes (keep 2: the new one and the previous one).
    expect(await fsp.stat(path.join(previous!, 'manifest.json')).then(() => true)).toBe(true);
    expect(after).toContain(previous);
    expect(after).not.toContain(first);
    expect(after).toContain(planted);
    expect(after).toHaveLength(3);
  });

  /** Anyone holding the stick: `dir`'s manifest says `createdAt`, and its SHA256SUMS is rewritten to match. */
  async function redate(dir: string, createdAt: string): Promise<void> {
    const mf = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fsp.readFile(mf, 'utf8'));
    manifest.createdAt = createdAt;
    const text = JSON.stringify(manifest, null, 2) + '\n';
    await fsp.writeFile(mf, text);
    const sums = path.join(dir, 'SHA256SUMS');
    const hash = createHash('sha256').update(text).digest('hex');
    await fsp.writeFile(
      sums,
      (await fsp.readFile(sums, 'utf8')).replace(/^[0-9a-f]{64}(?= {2}manifest\.json$)/m, hash),
    );
    expect(execSync('sha256sum -c SHA256SUMS', { cwd: dir, encoding: 'utf8' })).toMatch(/^manifest\.json: OK$/m);
  }
  const createdAtOf = async (dir: string): Promise<string> =>
    JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')).createdAt;

  it('never removes a real backup because of a set planted on the stick with a believable date between two', async () => {
    const stick = path.join(work, 'stick-planted-between');
    for (let i = 0; i < 2; i++) {
      const r = await backupTo(stick, '--keep', '2', '--device-id', 'between-box', '--yes');
      expect(r.code, r.stderr).toBe(0);
    }
    const [first, previous] = await findSets(stick);
    // Named as this tool names a second set of the same minute, dated a second after the real previous backup: after
    // it, before the next one, on no clock's future. Only this machine's record tells it from a real one.
    const planted = previous!.replace(/(_\d+)?$/, '_7');
    await fsp.cp(previous!, planted, { recursive: true });
    await redate(planted, new Date(Date.parse(await createdAtOf(previous!)) + 1000).toISOString());

    const r = await backupTo(stick, '--keep', '2', '--device-id', 'between-box', '--yes');
    expect(r.code, r.stderr).toBe(0);
    const after = await findSets(stick);
    expect(after).toContain(previous);
    expect(await fsp.stat(path.join(previous!, 'manifest.json')).then(() => true)).toBe(true);
    expect(after).toContain(planted);
    expect(after).not.toContain(first);
    expect(after).toHaveLength(3);
    expect(r.stdout + r.stderr).toMatch(/_7 \(not counted: this machine has no record of writing it/);
  });

  it('no longer counts a backup of its own whose manifest was rewritten after it was recorded, and keeps it', async () => {
    const stick = path.join(work, 'stick-rewritten');
    for (let i = 0; i < 2; i++) {
      const r = await backupTo(stick, '--keep', '2', '--device-id', 'rewritten-box', '--yes');
      expect(r.code, r.stderr).toBe(0);
    }
    const [first, previous] = await findSets(stick);
    // The oldest real set, its manifest re-dated to just after the previous one (sums rewritten to match).
    await redate(first!, new Date(Date.parse(await createdAtOf(previous!)) + 1000).toISOString());

    const r = await backupTo(stick, '--keep', '2', '--device-id', 'rewritten-box', '--yes');
    expect(r.code, r.stderr).toBe(0);
    // Counted: the previous one and the new one (keep 2): nothing goes. The rewritten one is kept, never counted.
    const after = await findSets(stick);
    expect(after).toContain(previous);
    expect(after).toContain(first);
    expect(after).toHaveLength(3);
    const name = path.basename(first!);
    expect(r.stdout + r.stderr).toContain(
      `${name} (not counted: its manifest.json changed after this machine wrote it)`,
    );
  });

  it('keeps and names the sets it has no record of writing (older than the record), and prunes the ones it has', async () => {
    const stick = path.join(work, 'stick-before-record');
    for (let i = 0; i < 2; i++) {
      const r = await backupTo(stick, '--keep', '5', '--device-id', 'before-box', '--yes');
      expect(r.code, r.stderr).toBe(0);
    }
    const old = await findSets(stick);
    // As on a machine that wrote these before it kept a record: their records are not in the state folder.
    const state = process.env.EDGE_RECOVERY_STATE_DIR!;
    const file = path.join(state, 'written-sets.json');
    const rec = await fsp.readFile(file, 'utf8').then(JSON.parse, () => ({ sets: [] }));
    rec.sets = rec.sets.filter((e: { device: string }) => e.device !== 'before-box');
    await fsp.writeFile(file, JSON.stringify(rec));

    const r1 = await backupTo(stick, '--keep', '1', '--device-id', 'before-box', '--yes');
    expect(r1.code, r1.stderr).toBe(0);
    const mid = await findSets(stick);
    expect(mid).toHaveLength(3);
    for (const o of old) {
      expect(r1.stdout + r1.stderr).toContain(`${path.basename(o)} (not counted: this machine has no record`);
    }
    const recorded = mid.find((x) => !old.includes(x))!;

    const r2 = await backupTo(stick, '--keep', '1', '--device-id', 'before-box', '--yes');
    expect(r2.code, r2.stderr).toBe(0);
    const after = await findSets(stick);
    // The recorded one is counted and goes (keep 1: the new one); the two without a record stay.
    expect(after).not.toContain(recorded);
    for (const o of old) expect(after).toContain(o);
    expect(after).toHaveLength(3);
    // Its record went with it: the state file does not grow with sets that are gone.
    const left = JSON.parse(await fsp.readFile(file, 'utf8'))
      .sets.filter((e: { device: string }) => e.device === 'before-box')
      .map((e: { name: string }) => e.name);
    expect(left).toEqual([path.basename(after.find((x) => !old.includes(x))!)]);
    // Root's only, like the rest of the state folder.
    expect((await fsp.stat(file)).mode & 0o077).toBe(0);
  });

  it('backs up a folder the technician chose instead of the profile default (--folder)', async () => {
    const elsewhere = path.join(work, 'elsewhere-storage');
    await fsp.mkdir(path.join(elsewhere, 'sub'), { recursive: true });
    await fsp.writeFile(path.join(elsewhere, 'sub', 'moved.dat'), 'kept elsewhere\n');
    const stick = path.join(work, 'stick-folder');
    const r = await backupTo(stick, '--folder', `Storage=${elsewhere}`, '--yes');
    expect(r.code, r.stderr).toBe(0);
    const [set] = await findSets(stick);
    const listing = execFileSync('tar', ['-tzf', path.join(set!, 'data.tar.gz')], { encoding: 'utf8' });
    expect(listing).toMatch(/^Storage\/sub\/moved\.dat$/m);
    expect(listing).toMatch(/^Configuration\//m);
    const bad = await runCli([
      'backup',
      '--profile',
      m.profilePath,
      '--to',
      stick,
      '--folder',
      'Logs=/var/log',
      '--yes',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no folder "Logs"/);
  });

  it('warns before the service stops about a link that leaves its folder (a restore would refuse it)', async () => {
    const conf = resolveItems(m.profile, { root: m.root }).find((i) => i.id === 'Configuration')!.path;
    const link = path.join(conf, 'hosts-link');
    await fsp.symlink('/etc/hosts', link);
    try {
      const r = await backupTo(path.join(work, 'stick-links'), '--yes', '--json');
      expect(r.code, r.stderr).toBe(0);
      const events = jsonEvents(r.stdout);
      const warnAt = events.findIndex(
        (e) => e.type === 'log' && String(e.message).includes('Configuration/hosts-link is a link to /etc/hosts'),
      );
      const stopAt = events.findIndex(
        (e) => e.type === 'step' && (e.step as { id: string; state: string }).id === 'stop-service',
      );
      expect(warnAt).toBeGreaterThan(-1);
      expect(warnAt).toBeLessThan(stopAt);
    } finally {
      await fsp.rm(link);
    }
  });

  it.skipIf(skipLoopTests)(
    'refuses a medium that is too small before touching the service, leaving nothing behind',
    async () => {
      if (loopMountUnavailable !== null && process.env.CI) throw new Error(loopMountUnavailable);
      const stick = await createLoopMount(4);
      try {
        const storage = resolveItems(m.profile, { root: m.root }).find((i) => i.id === 'Storage')!.path;
        await fsp.writeFile(path.join(storage, 'too-big.bin'), randomBytes(6 * 1024 * 1024));
        const pid = /\(pid (\d+)\)/.exec(svStatus(m.serviceDir))![1];
        const r = await backupTo(stick.mountpoint, '--yes');
        expect(r.code, 'a refusal by a check, nothing changed: exit 4').toBe(4);
        expect(r.stderr).toMatch(/free|full|space/i);
        expect(r.stderr).toMatch(/What to do:/);
        expect(/\(pid (\d+)\)/.exec(svStatus(m.serviceDir))![1]).toBe(pid);
        expect(await partialsUnder(stick.mountpoint)).toEqual([]);
        expect(await findSets(stick.mountpoint)).toEqual([]);
        await fsp.rm(path.join(storage, 'too-big.bin'));
      } finally {
        await stick.cleanup();
      }
    },
  );
});

describe('edge-recovery with a bad profile', () => {
  it('names the field and what is wrong, exit code 2', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bad-profile-'));
    const file = path.join(dir, 'p.json');
    await fsp.writeFile(
      file,
      JSON.stringify({
        schemaVersion: 1,
        id: 'x',
        productName: 'X',
        platform: 'linux',
        service: { manager: 'systemd', name: 'x' },
        items: [{ id: 'C', path: 'relative', required: true }],
        ownership: { user: 'u', group: 'g', dirMode: '799' },
      }),
    );
    const r = await runCli(['backup', '--profile', file, '--to', dir, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ownership\.dirMode: must be an octal mode/);
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('says which built-in profiles exist when the id is unknown', async () => {
    const r = await runCli(['backup', '--profile', 'nope', '--to', os.tmpdir(), '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/eds-linux/);
  });
});
