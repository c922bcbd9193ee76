import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src-main/engine/backup/run-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { runCli } from '../helpers/cli.js';
import { handProfile } from '../helpers/hand-product.js';

/**
 * An encrypted backup whose age header asks for a scrypt work factor beyond what age accepts (2^23: 8 GiB of
 * scrypt memory). It is refused before any scrypt runs, but as a plain RangeError: `verify` and `restore` ended
 * with exit 1 and "scrypt work factor 23 is out of range", not as a damaged backup (exit 3) with what to do.
 */
const PASS = 'correct horse battery staple';
let work: string;
let set: string;
let passFile: string;

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-age-header-'));
  const root = path.join(work, 'root');
  for (const d of ['Configuration', 'Storage']) await fsp.mkdir(path.join(root, 'opt/hand', d), { recursive: true });
  await fsp.writeFile(path.join(root, 'opt/hand/Configuration/app.json'), '{"a":1}\n');
  passFile = path.join(work, 'pass.txt');
  await fsp.writeFile(passFile, `${PASS}\n`, { mode: 0o600 });
  const io = { emit: () => undefined, interaction: autoConfirm };
  set = (
    await runBackup(
      {
        profile: parseProfile(handProfile(), 'test'),
        to: path.join(work, 'stick'),
        root,
        deviceId: 'box',
        passphrase: PASS,
      },
      io,
    )
  ).setDir;
  const part = path.join(set, 'data.tar.gz.age');
  const bytes = await fsp.readFile(part);
  const head = bytes.subarray(0, 200).toString('latin1');
  const patched = head.replace(/^(-> scrypt [A-Za-z0-9+/]{22}) 18$/m, '$1 23');
  expect(patched).not.toBe(head);
  await fsp.writeFile(part, Buffer.concat([Buffer.from(patched, 'latin1'), bytes.subarray(200)]));
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('an encrypted backup whose age header asks for too much scrypt work', () => {
  it('verify calls it damaged (exit 3) and says why, without running scrypt', async () => {
    const r = await runCli(['verify', set, '--passphrase-file', passFile], { env: { EDGE_RECOVERY_PDF: 'off' } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/work factor/);
    expect(r.stderr).toMatch(/another copy/i);
  });
});
