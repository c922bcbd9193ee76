import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackupSet } from '../../src-main/engine/backup/manifest.js';
import { readOpensslEncTar } from '../../src-main/engine/runbook/product/openssl-enc.js';
import { runProductPractice } from '../../src-main/practice/product-practice.js';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { runitServiceMaker } from '../helpers/practice-runit.js';
import { rejection } from '../helpers/rejection.js';
import { restoreTestsBlocked } from '../helpers/restore-driver.js';

const why = restoreTestsBlocked();

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-opencrvs-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** An OpenCRVS-style backup made by the real openssl command, in the form given. */
async function encrypted(name: string, form: string[], pass: string): Promise<string> {
  const src = path.join(dir, `${name}-src`);
  await fsp.mkdir(path.join(src, 'mongo'), { recursive: true });
  await fsp.writeFile(path.join(src, 'mongo', 'hearth-dev-2026-01-01.gz'), 'x'.repeat(5000));
  const tgz = path.join(dir, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', tgz, '-C', src, 'mongo']);
  const out = path.join(dir, `${name}.tar.gz.enc`);
  execFileSync('openssl', ['enc', '-aes-256-cbc', '-salt', ...form, '-pass', `pass:${pass}`, '-in', tgz, '-out', out], {
    stdio: 'ignore',
  });
  return out;
}

describe('OpenCRVS backups made by the real openssl', () => {
  const forms: Array<[string, string[], string]> = [
    ['-pbkdf2 (current OpenCRVS)', ['-pbkdf2'], 'pbkdf2-sha256'],
    ['no -pbkdf2 (older OpenCRVS, OpenSSL 3 default digest)', [], 'bytestokey-sha256'],
    ['no -pbkdf2, -md md5 (OpenSSL before 1.1.0)', ['-md', 'md5'], 'bytestokey-md5'],
  ];
  for (const [label, form, kdf] of forms) {
    it(`opens ${label} with the right passphrase and reads its tar through; refuses a wrong one`, async () => {
      const f = await encrypted(kdf, form, 'the right one');
      const r = await readOpensslEncTar(f, 'the right one');
      expect(r).toMatchObject({ kdf, entries: 2, bytes: 5000 });
      const e = await rejection(readOpensslEncTar(f, 'a wrong one'));
      expect(e.code).toBe('WRONG_PASSPHRASE');
    });
  }

  it('a damaged backup that opens is refused as damaged, not as a wrong passphrase', async () => {
    const f = await encrypted('damaged', ['-pbkdf2'], 'pw');
    const buf = await fsp.readFile(f);
    await fsp.writeFile(f, buf.subarray(0, buf.length - 100));
    const e = await rejection(readOpensslEncTar(f, 'pw'));
    expect(e.code).toBe('BACKUP_CORRUPT');
  });
});

describe.skipIf(why !== undefined)('OpenCRVS end to end on its stand-in', () => {
  it('engine: copies the newest nightly backups with hashes, restores the newest on a staging server under runit', async () => {
    const events: string[] = [];
    const r = await runProductPractice(
      'opencrvs',
      { emit: (e) => e.type === 'step' && events.push(`${e.step.id}:${e.step.state}`), interaction: autoYes },
      { baseDir: dir, keep: true, makeService: runitServiceMaker },
    );
    expect(r.check).toContain('holds the 47 records of the newest nightly backup');
    const { manifest } = await readBackupSet(r.setDir);
    expect(manifest.artifacts.map((a) => a.path)).toEqual([
      'artifacts/nightly-backups/2026-01-03/2026-01-03.tar.gz.enc',
      'artifacts/nightly-backups/2026-01-02/2026-01-02.tar.gz.enc',
      'artifacts/nightly-backups/2026-01-01/2026-01-01.tar.gz.enc',
    ]);
    // Stock tools check the set: every artifact is in SHA256SUMS.
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: r.setDir, encoding: 'utf8' })).toContain(
      'artifacts/nightly-backups/2026-01-01/2026-01-01.tar.gz.enc: OK',
    );
    expect(events).toContain('opencrvs-restore:done');
    expect(events).toContain('answers:done');
    expect(events).toContain('stop-service:skipped');
    for (const rep of r.reports) await fsp.access(rep);

    // verify decrypts every copied backup (both forms) with the passphrase; a wrong one is exit 3.
    const pass = path.join(dir, 'pass.txt');
    await fsp.writeFile(pass, 'practice opencrvs backup passphrase\n');
    const ok = await runCli(['verify', r.setDir, '--passphrase-file', pass]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("the product's own 3 files");
    await fsp.writeFile(pass, 'not it\n');
    const bad = await runCli(['verify', r.setDir, '--passphrase-file', pass]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('The passphrase does not open');
  });

  it('CLI: edge-recovery practice opencrvs --yes exits 0 and writes the report', async () => {
    const r = await runCli(['practice', 'opencrvs', '--yes', '--json', '--dir', dir]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const finished = jsonEvents(r.stdout).filter((e) => e.type === 'finished');
    expect(finished.map((e) => (e.result as { kind: string }).kind)).toEqual(['backup', 'restore']);
    const reports = (finished[1]!.result as { reports: string[] }).reports;
    expect(reports.some((p) => p.endsWith('.html'))).toBe(true);
  });

  // Failed before: without --keep it printed "backup <folder>" and "Report: <six paths>" of a sandbox it had just
  // removed, and never said so.
  it('CLI without --keep says the sandbox was removed and names none of its files; with --keep, where they are', async () => {
    const gone = await runCli(['practice', 'opencrvs', '--yes', '--dir', dir]);
    expect(gone.code, gone.stderr + gone.stdout.slice(-2000)).toBe(0);
    const closing = gone.stdout.slice(gone.stdout.lastIndexOf('Practice of opencrvs complete.'));
    expect(closing).toMatch(/The practice sandbox \(its stick, the backup and the report\) was removed/);
    expect(closing).not.toContain(dir);
    const kept = await runCli(['practice', 'opencrvs', '--yes', '--keep', '--dir', dir]);
    expect(kept.code, kept.stderr + kept.stdout.slice(-2000)).toBe(0);
    const sandbox = /^ {2}Sandbox kept: (\S+)$/m.exec(kept.stdout)?.[1];
    expect(sandbox).toBeDefined();
    const written =
      /^ {2}Report written beside the backup in (\S+): (\S+), (\S+)(?:, \S+)?; on this machine in (\S+): /m.exec(
        kept.stdout,
      );
    expect(written, kept.stdout.slice(-1500)).not.toBeNull();
    expect(existsSync(path.join(written![1]!, written![2]!))).toBe(true);
    expect(written![4]).toBe(path.join(sandbox!, 'state', 'reports'));
    await fsp.rm(sandbox!, { recursive: true, force: true });
  });

  it('the profiles list shows OpenCRVS', async () => {
    const r = await runCli(['profiles']);
    expect(r.stdout).toContain('opencrvs');
  });
});

const autoYes = { confirm: async () => true, credentials: async () => null };
