import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileToGive } from '../../src-main/engine/restore/steps-prepare.js';

/** A backup made with another profile: what to give `restore --profile` instead, always something it takes. */
describe('the profile a refused restore names', () => {
  let work: string;
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-profile-to-give-'));
  });
  afterAll(async () => {
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('a built-in id as it is', async () => {
    expect(await profileToGive('eds-windows', '/media/stick/EdgeRecovery/box/Backup_x')).toBe(
      'the profile "eds-windows" (--profile eds-windows)',
    );
  });

  it("a practice sandbox's replacement appliance, by its profile file and root", async () => {
    const sb = path.join(work, 'edge-recovery-practice-abc123');
    const set = path.join(sb, 'stick', 'EdgeRecovery', 'practice-old-vm', 'Backup_eds-practice_20261201_0938Z');
    await fsp.mkdir(set, { recursive: true });
    await fsp.mkdir(path.join(sb, 'replacement', 'root'), { recursive: true });
    await fsp.writeFile(path.join(sb, 'replacement', 'profile.json'), '{}');
    expect(await profileToGive('eds-practice', set)).toContain(
      `(--profile ${path.join(sb, 'replacement', 'profile.json')} --root ${path.join(sb, 'replacement', 'root')} --allow-profile-commands`,
    );
  });

  it('any other id: a file, said not to be a built-in id (a link in the sandbox is not taken for its profile)', async () => {
    const sb = path.join(work, 'edge-recovery-practice-linked');
    await fsp.mkdir(path.join(sb, 'replacement'), { recursive: true });
    await fsp.symlink('/etc/passwd', path.join(sb, 'replacement', 'profile.json'));
    for (const at of [path.join(sb, 'stick', 'Backup_x'), '/media/stick/Backup_x']) {
      const said = await profileToGive('my-product', at);
      expect(said).toMatch(/^the profile file it was made with, whose id is "my-product" \(--profile <that file>;/);
      expect(said).toContain('"my-product" is not a built-in profile: those are eds-linux,');
    }
  });
});
