import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Decrypter, Encrypter } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgeDecryptor } from '../../src-main/engine/archive/age-stream.js';
import { jobKeyFor } from '../../src-main/engine/backup/manifest-integrity.js';
import { readBackupSet } from '../../src-main/engine/backup/manifest.js';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { verifyBackup } from '../../src-main/engine/backup/verify-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { runCli } from '../helpers/cli.js';

const PASS = 'correct horse battery staple';

/** A product stopped and started by hand (service manager "none"), with no API: only folders. */
function handProfile(id: string) {
  return parseProfile(
    {
      schemaVersion: 1,
      id,
      productName: 'Hand-run product',
      platform: 'linux',
      service: { manager: 'none', name: 'hand' },
      items: [
        { id: 'Configuration', path: '/opt/hand/Configuration', required: true },
        { id: 'Storage', path: '/opt/hand/Storage', required: true },
      ],
      version: { policy: 'any' },
    },
    'test',
  );
}

describe('manifest.json integrity and the manual recipe', () => {
  let work: string;
  let root: string;
  let plainSet: string;
  let encSet: string;
  let passFile: string;

  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'manifest-integrity-'));
    root = path.join(work, 'root');
    for (const d of ['Configuration', 'Storage/streams'])
      await fsp.mkdir(path.join(root, 'opt/hand', d), { recursive: true });
    await fsp.writeFile(path.join(root, 'opt/hand/Configuration/app.json'), '{"a":1}\n');
    await fsp.writeFile(path.join(root, 'opt/hand/Storage/streams/s1.dat'), 'x'.repeat(5000));
    passFile = path.join(work, 'pass.txt');
    await fsp.writeFile(passFile, `${PASS}\n`);
    const io = { emit: () => undefined, interaction: autoConfirm };
    plainSet = (
      await runBackup({ profile: handProfile('hand'), to: path.join(work, 'stick'), root, deviceId: 'box' }, io)
    ).setDir;
    encSet = (
      await runBackup(
        { profile: handProfile('hand'), to: path.join(work, 'stick-enc'), root, deviceId: 'box', passphrase: PASS },
        io,
      )
    ).setDir;
  });

  afterAll(async () => {
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  async function lieAboutVersion(set: string, fixSums: boolean): Promise<void> {
    const file = path.join(set, 'manifest.json');
    const m = JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
    m.productVersion = '9.9.9.9';
    const text = JSON.stringify(m, null, 2) + '\n';
    await fsp.writeFile(file, text);
    if (fixSums) {
      const sums = (await fsp.readFile(path.join(set, 'SHA256SUMS'), 'utf8')).replace(
        /^[0-9a-f]{64}( {2}manifest\.json)$/m,
        `${createHash('sha256').update(text).digest('hex')}$1`,
      );
      await fsp.writeFile(path.join(set, 'SHA256SUMS'), sums);
    }
  }

  it('a plain backup lists manifest.json in SHA256SUMS: sha256sum -c and tar -xzf work, a version lie fails verify', async () => {
    const sums = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: plainSet, encoding: 'utf8' });
    expect(sums).toMatch(/^data\.tar\.gz: OK$/m);
    expect(sums).toMatch(/^manifest\.json: OK$/m);
    const out = path.join(work, 'by-hand');
    await fsp.mkdir(out);
    execFileSync('tar', ['-xzf', path.join(plainSet, 'data.tar.gz'), '-C', out]);
    expect(await fsp.readFile(path.join(out, 'Configuration/app.json'), 'utf8')).toBe('{"a":1}\n');
    const txt = await fsp.readFile(path.join(plainSet, 'RESTORE.txt'), 'utf8');
    expect(txt).toContain('does not protect');

    const copy = path.join(work, 'plain-lie');
    execFileSync('cp', ['-a', plainSet, copy]);
    expect((await runCli(['verify', copy])).code).toBe(0);
    await lieAboutVersion(copy, false);
    const r = await runCli(['verify', copy]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('manifest.json does not match its checksum in SHA256SUMS');
    expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: copy }).status).not.toBe(0);
  });

  it('an encrypted backup authenticates manifest.json with the passphrase: a lie fails verify even with SHA256SUMS fixed', async () => {
    const copy = path.join(work, 'enc-lie');
    execFileSync('cp', ['-a', encSet, copy]);
    const ok = await runCli(['verify', copy, '--passphrase-file', passFile]);
    expect(ok.code, ok.stderr).toBe(0);
    await lieAboutVersion(copy, true);
    // Stock tools are satisfied (SHA256SUMS was rewritten to match)…
    execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: copy });
    // …this tool is not: the MAC needs the passphrase.
    const r = await runCli(['verify', copy, '--passphrase-file', passFile]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('manifest.json is not authentic');
    const wrong = path.join(work, 'wrong.txt');
    await fsp.writeFile(wrong, 'not the passphrase\n');
    const w = await runCli(['verify', encSet, '--passphrase-file', wrong]);
    expect(w.code).toBe(3);
    expect(w.stderr).toMatch(/passphrase does not open/);
  });

  it('verify takes the key the caller derived already (the CLI checks the passphrase first): no second scrypt', async () => {
    const key = await jobKeyFor(await readBackupSet(encSet), PASS);
    // No passphrase: deriving again would throw PASSPHRASE_REQUIRED.
    const r = await verifyBackup(encSet, { ageKey: key });
    expect(r.files).toBe(2);
    await expect(verifyBackup(encSet, {})).rejects.toMatchObject({ code: 'PASSPHRASE_REQUIRED' });
  });

  it('the manual recipe works on an encrypted backup: sha256sum -c, age -d (Debian age), tar -xzf', async () => {
    execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: encSet });
    const plain = path.join(work, 'decrypted.tar.gz');
    // age reads passphrases only from a terminal: give it one with script(1).
    execSync(
      `script -q -e -c ${JSON.stringify(`age -d -o ${plain} ${path.join(encSet, 'data.tar.gz.age')}`)} /dev/null`,
      { input: `${PASS}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 60_000 },
    );
    const out = path.join(work, 'by-hand-enc');
    await fsp.mkdir(out);
    execFileSync('tar', ['-xzf', plain, '-C', out]);
    expect((await fsp.readFile(path.join(out, 'Storage/streams/s1.dat'), 'utf8')).length).toBe(5000);
  });

  it('our native age header and the age-encryption package read each other', async () => {
    const ours = await fsp.readFile(path.join(encSet, 'data.tar.gz.age'));
    const d = new Decrypter();
    d.addPassphrase(PASS);
    const viaPackage = Buffer.from(await d.decrypt(new Uint8Array(ours)));
    expect(viaPackage.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
    const e = new Encrypter();
    e.setPassphrase(PASS);
    const theirs = Buffer.from(await e.encrypt(new TextEncoder().encode('hello from typage')));
    const out: Buffer[] = [];
    const dec = new AgeDecryptor(PASS);
    await dec.push(theirs, out);
    dec.final(out);
    expect(Buffer.concat(out).toString()).toBe('hello from typage');
  });
});
