import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive, extractArchive, verifyArchive } from '../../src-main/engine/archive/index.js';
import { manifestLimits, verifyBackup } from '../../src-main/engine/backup/verify-backup.js';

/**
 * Backups made by our own writer from hostile source trees, with a manifest.json that says what the attacker
 * wants (every hash matches): `verify` must refuse what the restore would refuse, with the same screen.
 */
let work: string;
beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-verify-screen-'));
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function makeSet(
  name: string,
  fill: (src: string) => Promise<void>,
  declare: (real: { files: number; contentBytes: number }) => {
    files: number;
    contentBytes: number;
    dirs?: number;
    symlinks?: number;
  },
): Promise<string> {
  const src = path.join(work, `${name}-src`);
  await fsp.mkdir(src);
  await fill(src);
  const set = path.join(work, name);
  await fsp.mkdir(set);
  const a = await createArchive({ items: [{ id: 'Configuration', path: src }], outDir: set });
  const d = declare({ files: a.files, contentBytes: a.contentBytes });
  const manifest = {
    format: 'edge-recovery-backup',
    formatVersion: 1,
    tool: { name: 'edge-recovery', version: '0.1.0' },
    profile: { id: 'eds-linux', productName: 'EDS', platform: 'linux' },
    productVersion: '1.1.1.46',
    deviceId: 'old-box',
    hostname: 'old-box',
    createdAt: '2026-11-21T22:15:00.000Z',
    items: [{ id: 'Configuration', path: '/x/Configuration', files: d.files, contentBytes: d.contentBytes }],
    owner: null,
    ownersSeen: a.owners,
    files: d.files,
    dirs: d.dirs ?? a.dirs,
    symlinks: d.symlinks ?? a.symlinks,
    contentBytes: d.contentBytes,
    archive: { compression: 'gzip', encryption: null, innerManifest: '.edge-recovery/files.jsonl', parts: a.parts },
    skipped: [],
  };
  const manifestText = JSON.stringify(manifest);
  await fsp.writeFile(path.join(set, 'manifest.json'), manifestText);
  // As our writer does: the parts, then manifest.json (verify checks that it is listed).
  const manifestSum = createHash('sha256').update(manifestText).digest('hex');
  await fsp.writeFile(
    path.join(set, 'SHA256SUMS'),
    [...a.parts.map((p) => `${p.sha256}  ${p.name}\n`), `${manifestSum}  manifest.json\n`].join(''),
  );
  return set;
}

describe('verify screens entries like the restore', () => {
  it('refuses a chain of links that each stay inside their folder but together reach /etc', async () => {
    const set = await makeSet(
      'chain',
      async (src) => {
        const deep = path.join(src, 'a', 'b', 'c');
        await fsp.mkdir(deep, { recursive: true });
        // Each link, checked alone and lexically, stays inside; followed one after the other, they climb out.
        await fsp.symlink('..', path.join(deep, 's1'));
        for (let i = 2; i <= 12; i++) await fsp.symlink(`s${i - 1}/..`, path.join(deep, `s${i}`));
        await fsp.symlink('s12/etc', path.join(deep, 'etc'));
        await fsp.writeFile(path.join(src, 'ok.json'), '{}');
      },
      (r) => r,
    );
    await expect(verifyBackup(set, {})).rejects.toMatchObject({
      code: 'HOSTILE_ARCHIVE',
      message: expect.stringMatching(/Configuration\/a\/b\/c\/s\d+.*leaving its folder/),
    });
    // The extraction (same screen) refuses it too, and writes nothing that stays.
    const manifestOut = path.join(work, 'chain-files.jsonl');
    const parts = JSON.parse(await fsp.readFile(path.join(set, 'manifest.json'), 'utf8')).archive.parts;
    await verifyArchive(set, { parts, manifestOut });
    const stageParent = await fsp.mkdtemp(path.join(work, 'stage-'));
    await expect(
      extractArchive(set, {
        parts,
        manifestFile: manifestOut,
        targets: { Configuration: path.join(stageParent, 'c') },
      }),
    ).rejects.toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    expect(await fsp.readdir(stageParent)).toEqual([]);
  });

  it('stops reading at the entry that takes the archive past the bytes its manifest declares', async () => {
    const set = await makeSet(
      'bomb',
      async (src) => {
        const fh = await fsp.open(path.join(src, 'zeros.bin'), 'w');
        const mib = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < 64; i++) await fh.write(mib);
        await fh.close();
      },
      (r) => ({ files: r.files, contentBytes: 12 }),
    );
    const err = await verifyBackup(set, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    expect((err as Error).message).toMatch(/more than the 12 bytes.*Configuration\/zeros\.bin/);
  });

  // attack5: every folder's and link's name is held while an archive is read, so a manifest declaring billions of
  // them (and files to match) let the reader run out of memory before any declared limit stopped it.
  it('refuses a manifest declaring more folders and links than a reader can hold, before reading the archive', async () => {
    const set = await makeSet(
      'huge-declared',
      async (src) => {
        await fsp.writeFile(path.join(src, 'a.json'), '{}');
      },
      (r) => ({ ...r, dirs: 4_000_000_000, symlinks: 1 }),
    );
    const err = await verifyBackup(set, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    expect((err as Error).message).toMatch(
      /declares 4,000,000,001 folders and links; .* at most 1,000,000: nothing was read/,
    );
    expect(() => manifestLimits(JSON.parse(readFileSync(path.join(set, 'manifest.json'), 'utf8')))).toThrow(
      /4,000,000,001 folders and links/,
    );
  });

  it('stops reading at the folder past the count its manifest declares, whatever the files and entries allow', async () => {
    const set = await makeSet(
      'many-folders',
      async (src) => {
        for (let i = 0; i < 50; i++) await fsp.mkdir(path.join(src, `d${String(i).padStart(2, '0')}`));
      },
      // The total (files + folders + links) allows every folder: only the folders' own count stops them.
      (r) => ({ files: r.files + 100, contentBytes: r.contentBytes, dirs: 3 }),
    );
    const err = await verifyBackup(set, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'HOSTILE_ARCHIVE' });
    expect((err as Error).message).toMatch(
      /more than the 3 folders its manifest declares \(at "Configuration\/d0\d"\)/,
    );
  });

  it('still accepts an honest backup', async () => {
    const set = await makeSet(
      'honest',
      async (src) => {
        await fsp.mkdir(path.join(src, 'v2'));
        await fsp.writeFile(path.join(src, 'v2', 'a.json'), '{}');
        await fsp.symlink('v2', path.join(src, 'current'));
        await fsp.symlink('current/a.json', path.join(src, 'a-link'));
      },
      (r) => r,
    );
    await expect(verifyBackup(set, {})).resolves.toMatchObject({ files: 1 });
  });
});
