import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import {
  ensureWork,
  removeWork,
  runProductStep,
  type ProductHost,
} from '../../src-main/engine/runbook/product/product-steps.js';
import { SafeDir } from '../../src-main/engine/util/atomic-fs.js';
import { gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';
import { productHost } from '../helpers/product-host.js';
import { racerAsync } from '../helpers/racer-run.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { runAs, runAsAtFirstOpen, runAsAtNthOpenIn, shAs } from '../helpers/as-account.js';

/**
 * A profile whose command steps run as the product's account (StackState: `user: stackstate`) gets a work folder
 * ({work}) owned by that account, so its program can write the export there. Root works in that folder too: it
 * copies the product's file from the stick into it, hands it to the account, and deletes the folder at the end.
 * The account (a real unprivileged user here, the racer under setpriv) owns the folder and may change anything in
 * it at any moment; nothing root does there may follow what it puts there.
 */
const blocked = process.getuid?.() !== 0 ? 'needs root (chown to a test user)' : undefined;
const USER = 'er-workrace';

function profile(extraSteps: unknown[] = [], api?: string): Profile {
  return parseProfile(
    {
      ...(api ? { api: { baseUrl: api, versionEndpoint: '/v' } } : {}),
      schemaVersion: 1,
      id: 'work-race',
      productName: 'Work folder race product',
      platform: 'linux',
      service: { manager: 'none', name: 'none' },
      items: [{ id: 'Data', path: '/data' }],
      stopService: [],
      steps: [
        {
          id: 'graph',
          title: 'Take the export',
          explain: 'Copies the export onto the stick.',
          at: 'backup.archive',
          kind: 'artifact',
          mode: 'produced',
          path: '{work}/export.graph',
        },
        {
          id: 'import',
          title: 'Import the export',
          explain: 'Imports it as the product account.',
          at: 'restore.after-stop',
          kind: 'command',
          argv: ['/bin/true', '{artifact:graph}'],
          user: USER,
        },
        ...extraSteps,
      ],
    },
    'test profile',
  );
}

/** The record a backup keeps of a product step's artifact `rel` in the set, holding `data` (copied from /tmp/x). */
/**
 * Runs the step `stepId` of `h` from the work folder `work` again and again (at most `rounds` times, until `won()`)
 * while the account flips that folder for a link to `victim` and back (racer's flip-dir-link, until the file
 * `stopName` in `dir` exists): how each round ended ('ran', or the error's code) and how many flips were made.
 * Each round starts from `work` again (ensureWork makes a new folder when it finds the link; that one is removed).
 */
async function raceFlippedWork(
  h: ProductHost,
  work: string,
  stepId: string,
  victim: string,
  stopName: string,
  rounds: number,
  won: () => boolean,
): Promise<{ outcomes: Map<string, number>; flips: number }> {
  const stop = path.join(path.dirname(victim), stopName);
  const flipping = racerAsync(USER, ['flip-dir-link', work, victim, stop, '90']);
  const outcomes = new Map<string, number>();
  try {
    const step = h.profile.steps.find((s) => s.id === stepId)!;
    for (let i = 0; i < rounds && !won(); i++) {
      h.state.work = work;
      const said = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
        () => 'ran',
        (e: Error) => (e as { code?: string }).code ?? e.message,
      );
      outcomes.set(said, (outcomes.get(said) ?? 0) + 1);
      if (h.state.work !== work) execFileSync('rm', ['-rf', '--one-file-system', h.state.work]);
    }
  } finally {
    await fsp.writeFile(stop, '');
  }
  const r = await flipping;
  h.state.work = work;
  return { outcomes, flips: Number(r.flips) };
}

function artifactRecord(step: string, rel: string, data: Buffer) {
  return {
    step,
    path: rel,
    size: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
    source: `/tmp/x/${path.basename(rel)}`,
    mtime: new Date().toISOString(),
    format: 'file' as const,
  };
}

/** Writes `data` at `rel` in the folder `set` (making the folders on the way); returns its path. */
async function writeIn(set: string, rel: string, data: Buffer): Promise<string> {
  const file = path.join(set, rel);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, data);
  return file;
}

describe.skipIf(blocked !== undefined)(
  `the work folder of a product account${blocked ? ` (skipped: ${blocked})` : ''}`,
  () => {
    let dir = '';
    const hosts: ProductHost[] = [];
    /** Work folders a case moved back by hand after the account's swap (the host made a new one meanwhile). */
    const movedBack: string[] = [];
    const host = (over: Partial<ProductHost> = {}): ProductHost => {
      const h = productHost(profile(), over);
      hosts.push(h);
      return h;
    };

    let tmpBefore: string | undefined;

    beforeAll(async () => {
      ensureTestOwner(USER);
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'work-race-'));
      await fsp.chmod(dir, 0o755);
      // The work folders (ensureWork: in the temp folder) go into a temp folder of the account's own, not /tmp: in a
      // sticky folder open to all (/tmp), a kernel with fs.protected_symlinks=1 (most distributions' setting) refuses
      // root a link that another account put there, so the races below would be won by the kernel, not by the code,
      // and would pass on code that follows the links; where it is 0 (this machine's: `sysctl fs.protected_symlinks`)
      // root follows them. In a folder the account owns, not sticky, root follows its links whatever the setting.
      const tmp = path.join(dir, 'tmp');
      await fsp.mkdir(tmp, { mode: 0o755 });
      await fsp.chown(tmp, uidForUser(USER)!, gidForGroup(USER)!);
      tmpBefore = process.env.TMPDIR;
      process.env.TMPDIR = tmp;
      expect(path.dirname(await ensureWork(host()))).toBe(tmp);
    });
    afterAll(async () => {
      if (tmpBefore === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpBefore;
      for (const h of hosts) {
        if (h.state.work) execFileSync('rm', ['-rf', '--one-file-system', h.state.work]);
      }
      for (const w of movedBack) execFileSync('rm', ['-rf', '--one-file-system', w]);
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('never hands a root-only file to the account through a link it swaps in for the copy from the stick', async () => {
      // The root-only file the account wants: if root chowns through its link, the account owns it.
      const victim = path.join(dir, 'victim-secret');
      await fsp.writeFile(victim, 'root only\n', { mode: 0o600 });
      const set = path.join(dir, 'set');
      const data = Buffer.alloc(8 * 1024 * 1024, 7);
      await writeIn(set, 'artifacts/graph/export.graph', data);
      const record = artifactRecord('graph', 'artifacts/graph/export.graph', data);
      const h = host({ backupDir: set, artifacts: () => [record] });
      const work = await ensureWork(h);
      expect(statSync(work).uid).toBe(uidForUser(USER));

      const stop = path.join(dir, 'stop-swap');
      const swapping = racerAsync(USER, ['swap-links', work, victim, stop, '60']);
      const outcomes: string[] = [];
      try {
        for (let i = 0; i < 25 && statSync(victim).uid === 0; i++) {
          const step = h.profile.steps.find((s) => s.id === 'import')!;
          await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
            () => outcomes.push('ran'),
            (e: Error) => outcomes.push(e.message),
          );
        }
      } finally {
        await fsp.writeFile(stop, '');
      }
      const r = await swapping;
      expect(Number(r.swapped)).toBeGreaterThan(0);
      const st = statSync(victim);
      expect({ uid: st.uid, gid: st.gid }, outcomes.join(' | ')).toEqual({ uid: 0, gid: 0 });
    }, 120_000);

    it("copies the backup's file into the work folder it opened, never through a link the account puts by its name", async () => {
      // The account owns the work folder (in a temp folder of its own here, see beforeAll; in /tmp on an appliance,
      // where only a kernel with fs.protected_symlinks=1 would refuse root the link): it may rename it and put a link
      // by its name at any moment.
      const victim = path.join(dir, 'root-only-folder');
      await fsp.mkdir(victim, { mode: 0o700 });
      const set = path.join(dir, 'set-flip');
      const data = Buffer.alloc(64 * 1024, 3);
      await writeIn(set, 'artifacts/graph/export.graph', data);
      const record = artifactRecord('graph', 'artifacts/graph/export.graph', data);
      const h = host({ backupDir: set, artifacts: () => [record] });
      const work = await ensureWork(h);
      const { outcomes, flips } = await raceFlippedWork(
        h,
        work,
        'import',
        victim,
        'stop-flip',
        400,
        () => readdirSync(victim).length > 0,
      );
      expect(flips).toBeGreaterThan(0);
      expect(readdirSync(victim), JSON.stringify([...outcomes])).toEqual([]);
      expect(outcomes.get('ran') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
    }, 180_000);

    it('refuses a FIFO the account put where the export should be, at once, instead of waiting with the service stopped', async () => {
      const setDir = path.join(dir, 'new-set');
      await fsp.mkdir(setDir);
      const set = await SafeDir.open(setDir);
      const h = host({ setFolder: () => set, addArtifact: () => undefined });
      const work = await ensureWork(h);
      const fifo = path.join(work, 'export.graph');
      runAs(USER, 'mkfifo', fifo);
      const step = h.profile.steps.find((s) => s.id === 'graph')!;
      const run = runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
        () => 'taken',
        (e: Error) => e.message,
      );
      const outcome = await Promise.race([run, new Promise<string>((r) => setTimeout(() => r('still waiting'), 5000))]);
      if (outcome === 'still waiting') {
        // Free the thread blocked in open() (a writer ends its wait), so the rest of the file can run.
        const w = await fsp.open(fifo, 'w');
        await w.close();
        await run;
      }
      await set.close();
      expect(outcome).toMatch(/not a regular file/);
      expect(existsSync(path.join(setDir, 'artifacts', 'graph', 'export.graph'))).toBe(false);
    }, 60_000);

    /** A root command (no `user`) that makes the file `marker` in the folder it runs in: `cwd`, or {work}. */
    const touchStep = (marker: string, cwd?: string) => ({
      id: 'root-touch',
      title: 'Touch as root',
      explain: 'Makes a file by a relative path, as root.',
      at: 'restore.after-stop',
      kind: 'command',
      argv: ['/usr/bin/touch', marker],
      ...(cwd !== undefined ? { cwd } : {}),
    });

    it("runs root's command in a folder of the work folder, never through a link the account put by its name", async () => {
      const victim = path.join(dir, 'root-only-cwd');
      await fsp.mkdir(victim, { mode: 0o700 });
      const h = productHost(profile([touchStep('marker', '{work}/out')]));
      hosts.push(h);
      const work = await ensureWork(h);
      // The account's folder holds a link to a root-only folder by the name the step runs in.
      shAs(USER, 'ln -s "$2" "$1/out"', work, victim);
      const step = h.profile.steps.find((s) => s.id === 'root-touch')!;
      const outcome = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
        () => 'ran',
        (e: Error) => (e as { code?: string }).code ?? e.message,
      );
      expect({ outcome, inVictim: readdirSync(victim) }).toEqual({ outcome: 'UNSAFE_PATH', inVictim: [] });
    });

    it("runs root's command in a folder of the product's, never through a link its account put on the way", async () => {
      // The product's own folder (as /opt/<product>), its account's: a link by the name of a folder on the way to
      // the step's cwd leads to a root-only folder holding one of the next name.
      const victim = path.join(dir, 'root-only-opt');
      await fsp.mkdir(path.join(victim, 'bin'), { recursive: true, mode: 0o700 });
      const opt = path.join(dir, 'opt-product');
      await fsp.mkdir(opt);
      execFileSync('chown', [`${USER}:${USER}`, opt]);
      shAs(USER, 'ln -s "$2" "$1/tools"', opt, victim);
      const h = productHost(profile([touchStep('marker', path.join(opt, 'tools', 'bin'))]));
      hosts.push(h);
      const step = h.profile.steps.find((s) => s.id === 'root-touch')!;
      const e = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
        () => null,
        (x: Error) => x,
      );
      expect({
        outcome: (e as { code?: string } | null)?.code ?? 'ran',
        inVictim: readdirSync(path.join(victim, 'bin')),
      }).toEqual({
        outcome: 'UNSAFE_PATH',
        inVictim: [],
      });
      expect(e?.message).toContain(`${path.join(opt, 'tools')} is a link on the way`);
    });

    it("runs root's command in the work folder it opened, never in a folder the account links by its name meanwhile", async () => {
      const victim = path.join(dir, 'root-only-cwd-flip');
      await fsp.mkdir(victim, { mode: 0o700 });
      const h = productHost(profile([touchStep('marker')]));
      hosts.push(h);
      const work = await ensureWork(h);
      const { outcomes, flips } = await raceFlippedWork(
        h,
        work,
        'root-touch',
        victim,
        'stop-cwd-flip',
        300,
        () => readdirSync(victim).length > 0,
      );
      expect(flips).toBeGreaterThan(0);
      expect(readdirSync(victim), JSON.stringify([...outcomes])).toEqual([]);
      expect(outcomes.get('ran') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
    }, 180_000);

    it('uploads to the product only the file root put in the work folder, not a link the account put there', async () => {
      const victim = path.join(dir, 'victim-upload');
      await fsp.writeFile(victim, 'root-only secret\n', { mode: 0o600 });
      const api = await keeper();
      try {
        const h = host({ profile: profile([uploadStep('{work}/upload.bin')], api.api) });
        const work = await ensureWork(h);
        runAs(USER, 'ln', '-s', victim, path.join(work, 'upload.bin'));
        const step = h.profile.steps.find((s) => s.id === 'send-backup')!;
        const outcome = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
          () => 'sent',
          (e: Error) => e.message,
        );
        expect(api.received.join('')).not.toContain('root-only secret');
        expect(outcome).toMatch(/link/);
      } finally {
        await api.close();
      }
    });

    it('uploads no second name the account gave a root-only file in the work folder (a hard link)', async () => {
      const victim = path.join(dir, 'victim-upload-hard');
      await fsp.writeFile(victim, 'root-only secret\n', { mode: 0o600 });
      const api = await keeper();
      try {
        const h = host({ profile: profile([uploadStep('{work}/upload.bin')], api.api) });
        const work = await ensureWork(h);
        // `ln /etc/shadow {work}/upload.bin`: any account may, where fs.protected_hardlinks is 0 (the kernel's
        // default when no sysctl sets it); made here by root, which may always, in the account's work folder.
        await fsp.link(victim, path.join(work, 'upload.bin'));
        const step = h.profile.steps.find((s) => s.id === 'send-backup')!;
        const outcome = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
          () => 'sent',
          (e: Error) => e.message,
        );
        expect({ received: api.received.join(''), outcome }).toEqual({
          received: '',
          outcome: expect.stringMatching(/2 names/) as unknown,
        });
      } finally {
        await api.close();
      }
    });

    /** A loopback API that keeps every body it is sent; `close` ends it. */
    async function keeper(): Promise<{ received: string[]; api: string; close(): Promise<void> }> {
      const received: string[] = [];
      const srv = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          received.push(body);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        });
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      return {
        received,
        api: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
        close: () => new Promise<void>((r) => srv.close(() => r())),
      };
    }

    /** An http step that uploads `upload` (a profile's path). */
    const uploadStep = (upload: string) => ({
      id: 'send-backup',
      title: 'Hand the backup to the product',
      explain: 'Uploads it.',
      at: 'restore.after-stop',
      kind: 'http',
      method: 'POST',
      path: '/upload',
      upload,
    });

    it('uploads nothing from a folder of the work folder: the account may make it a link to a root-only folder', async () => {
      const victim = path.join(dir, 'victim-upload-dir');
      await fsp.mkdir(victim, { mode: 0o700 });
      await fsp.writeFile(path.join(victim, 'upload.bin'), 'root-only secret\n', { mode: 0o600 });
      const api = await keeper();
      try {
        // A profile that names a file in a folder of the work folder (refused when it loads, now).
        const outcome = await (async () => {
          const h = host({ profile: profile([uploadStep('{work}/sub/upload.bin')], api.api) });
          const work = await ensureWork(h);
          runAs(USER, 'ln', '-s', victim, path.join(work, 'sub'));
          await runProductStep(h, h.profile.steps.find((s) => s.id === 'send-backup')!, {
            log: () => undefined,
            progress: () => undefined,
          });
          return 'sent';
        })().catch((e: Error) => e.message);
        expect({ outcome, received: api.received.join('') }).toEqual({
          outcome: expect.stringMatching(/an upload comes from the work folder/),
          received: '',
        });
      } finally {
        await api.close();
      }
    });

    it('uploads the file in the work folder it opened, never one in a root-only folder the account links by its name', async () => {
      const victim = path.join(dir, 'victim-upload-flip');
      await fsp.mkdir(victim, { mode: 0o700 });
      await fsp.writeFile(path.join(victim, 'upload.bin'), 'root-only secret\n', { mode: 0o600 });
      const api = await keeper();
      const h = host({ profile: profile([uploadStep('{work}/upload.bin')], api.api) });
      const work = await ensureWork(h);
      shAs(USER, 'echo "the account\'s own file" > "$1/upload.bin"', work);
      const { outcomes, flips } = await raceFlippedWork(h, work, 'send-backup', victim, 'stop-upload-flip', 300, () =>
        api.received.some((b) => b.includes('root-only')),
      ).finally(() => api.close());
      expect(flips).toBeGreaterThan(0);
      expect(
        api.received.filter((b) => b.includes('root-only')),
        JSON.stringify([...outcomes]),
      ).toEqual([]);
      expect(outcomes.get('ran') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
    }, 180_000);

    it('deletes the work folder without following the links the account swaps in while it is deleted', async () => {
      // A root-only folder of files the account names in its own work folder too.
      const victimDir = path.join(dir, 'victim-dir');
      await fsp.mkdir(victimDir, { mode: 0o700 });
      const names = Array.from({ length: 400 }, (_, i) => `f${i}`);
      for (const n of names) await fsp.writeFile(path.join(victimDir, n), 'root only');
      const h = host();
      const work = await ensureWork(h);
      // As the account: sub-folders full of files with the same names, swapped for links to the root-only folder
      // and back at random while root deletes the work folder.
      shAs(
        USER,
        `for d in 0 1 2 3 4 5 6 7; do mkdir "$1/sub$d"; for i in $(seq 0 399); do : > "$1/sub$d/f$i"; done; done`,
        work,
      );
      const stop = path.join(dir, 'stop-toggle');
      const toggling = racerAsync(USER, [
        'toggle-dir',
        path.dirname(work),
        path.basename(work),
        'sub',
        victimDir,
        stop,
        '60',
      ]);
      // Let it hold the folder open and start toggling before the delete begins.
      await new Promise((r) => setTimeout(r, 300));
      let error = '';
      try {
        await removeWork(h).catch((e: Error) => (error = e.message));
      } finally {
        await fsp.writeFile(stop, '');
      }
      await toggling;
      const left = readdirSync(victimDir);
      expect(left.length, `removeWork: ${error || 'no error'}`).toBe(names.length);
      expect(existsSync(victimDir)).toBe(true);
    }, 120_000);

    // The account moves its work folder aside and links a root-only folder by its name: through the link, root would
    // hand it (or delete, or write) a file of that folder named like the copy.
    const SWAP_WORK = 'mv "$1" "$1.aside" && ln -s "$2" "$1"';

    it("hands the account the copy in the work folder it opened, never a root file by that name through a link put in the folder's place", async () => {
      const victimDir = path.join(dir, 'victim-chown');
      await fsp.mkdir(victimDir, { mode: 0o700 });
      const victim = path.join(victimDir, 'export.graph');
      await fsp.writeFile(victim, 'root only\n', { mode: 0o600 });
      const set = path.join(dir, 'set-chown');
      const data = Buffer.alloc(64 * 1024, 5);
      const source = await writeIn(set, 'artifacts/graph/export.graph', data);
      const record = artifactRecord('graph', 'artifacts/graph/export.graph', data);
      const h = host({ backupDir: set, artifacts: () => [record] });
      const work = await ensureWork(h);
      // The swap while root reads the backup's file (the work folder already opened), held until it is done.
      const watch = await runAsAtFirstOpen(USER, source, SWAP_WORK, work, victimDir);
      let outcome = '';
      try {
        const step = h.profile.steps.find((s) => s.id === 'import')!;
        outcome = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
          () => 'ran',
          (e: Error) => e.message,
        );
      } finally {
        const lines = await watch.stop();
        await fsp.rm(work, { force: true });
        await fsp.rename(`${work}.aside`, work).catch(() => undefined);
        movedBack.push(work);
        expect(lines).toContain('swapped');
      }
      const st = statSync(victim);
      expect({ uid: st.uid, gid: st.gid, text: await fsp.readFile(victim, 'utf8') }, outcome).toEqual({
        uid: 0,
        gid: 0,
        text: 'root only\n',
      });
      // The account got the copy, in the folder root opened.
      expect(statSync(path.join(work, 'export.graph')).uid).toBe(uidForUser(USER));
    }, 60_000);

    it('decrypts a product backup in the work folder it opened: no root file by its name is deleted, written or handed over through a link', async () => {
      const victimDir = path.join(dir, 'victim-decrypt');
      await fsp.mkdir(victimDir, { mode: 0o700 });
      for (const n of ['export.tar.gz', 'export.tar.gz.enc']) {
        await fsp.writeFile(path.join(victimDir, n), `root only ${n}\n`, { mode: 0o600 });
      }
      const set = path.join(dir, 'set-decrypt');
      const source = path.join(set, 'artifacts', 'nightly', 'export.tar.gz.enc');
      await fsp.mkdir(path.dirname(source), { recursive: true });
      // The product's backup: a .tar.gz (its gzip header tells a right passphrase), encrypted by openssl.
      const plainDir = path.join(dir, 'plain');
      await fsp.mkdir(plainDir);
      await fsp.writeFile(path.join(plainDir, 'db.txt'), 'the product backup\n');
      const plain = path.join(dir, 'plain.tar.gz');
      execFileSync('tar', ['-czf', plain, '-C', plainDir, 'db.txt']);
      execFileSync('openssl', [
        'enc',
        '-aes-256-cbc',
        '-salt',
        '-pbkdf2',
        '-pass',
        'pass:pw',
        '-in',
        plain,
        '-out',
        source,
      ]);
      const data = await fsp.readFile(source);
      const record = artifactRecord('nightly', 'artifacts/nightly/export.tar.gz.enc', data);
      const decrypting = {
        id: 'load',
        title: 'Load the backup',
        explain: 'Hands the decrypted backup to the product account.',
        at: 'restore.after-stop',
        kind: 'command',
        argv: ['/bin/true', '{artifact-decrypted:nightly}'],
        user: USER,
      };
      const nightly = {
        id: 'nightly',
        title: 'Take the nightly backup',
        explain: 'Copies it onto the stick.',
        at: 'backup.archive',
        kind: 'artifact',
        mode: 'produced',
        path: '{work}/export.tar.gz.enc',
      };
      const h = host({
        profile: profile([nightly, decrypting]),
        backupDir: set,
        artifacts: () => [record],
        passphrase: 'pw',
      });
      const work = await ensureWork(h);
      // The swap as root creates the decrypted file (its first open), held until it is done: the deletion of the
      // encrypted copy and the hand-over of the decrypted file come after it.
      const watch = await runAsAtNthOpenIn(USER, work, 'export.tar.gz', 1, SWAP_WORK, work, victimDir);
      let outcome = '';
      let lines: string[] = [];
      try {
        const step = h.profile.steps.find((s) => s.id === 'load')!;
        outcome = await runProductStep(h, step, { log: () => undefined, progress: () => undefined }).then(
          () => 'ran',
          (e: Error) => e.message,
        );
      } finally {
        lines = await watch.stop();
        await fsp.rm(work, { force: true });
        await fsp.rename(`${work}.aside`, work).catch(() => undefined);
        movedBack.push(work);
      }
      expect(lines).toContain('swapped');
      const left: Record<string, unknown> = {};
      for (const n of readdirSync(victimDir).sort()) {
        const st = statSync(path.join(victimDir, n));
        left[n] = { uid: st.uid, text: await fsp.readFile(path.join(victimDir, n), 'utf8') };
      }
      expect(left, `${outcome} | ${lines.join(' | ')}`).toEqual({
        'export.tar.gz': { uid: 0, text: 'root only export.tar.gz\n' },
        'export.tar.gz.enc': { uid: 0, text: 'root only export.tar.gz.enc\n' },
      });
      expect(outcome, lines.join(' | ')).toBe('ran');
      const out = path.join(work, 'export.tar.gz');
      expect({ uid: statSync(out).uid, same: (await fsp.readFile(out)).equals(await fsp.readFile(plain)) }).toEqual({
        uid: uidForUser(USER),
        same: true,
      });
    }, 60_000);
  },
);
