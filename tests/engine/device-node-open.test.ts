import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPassphrase } from '../../src-main/engine/backup/check-passphrase.js';
import { runAdopt } from '../../src-main/engine/backup/hand-made.js';
import { verifyBackup } from '../../src-main/engine/backup/verify-backup.js';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { autoConfirm } from '../../src-main/engine/runbook/runner.js';
import { verifyArtifacts } from '../../src-main/engine/runbook/product/artifacts.js';
import { readRememberedTicket, TICKET_FILE } from '../../src-main/engine/report/ticket.js';
import { readPassphraseFile } from '../../src-main/engine/schedule/passphrase-file.js';
import { readGivenFile } from '../../src-main/engine/util/given-path.js';
import { readStickText } from '../../src-main/engine/util/stick-file.js';
import { isRoot, tempDir } from '../helpers/datasets.js';
import { handProfile } from '../helpers/hand-product.js';
import { watchOpens } from '../helpers/open-watch.js';

/**
 * A device node is not to be opened at all, not even O_NONBLOCK to fstat it: opening some devices acts (a watchdog
 * starts on open and reboots the machine unless fed; a tape rewinds). A stick formatted ext4 can carry device
 * nodes (and a stick mounted by hand has no nodev), and a profile names its version file. Here the node is a copy
 * of /dev/null, and the kernel's inotify says whether anyone opened it (tests/helpers/open-watch.ts).
 */
let work: string;
beforeAll(async () => {
  work = await tempDir('device-node-open');
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** Runs `act` and says whether `node` was opened meanwhile. */
async function opened(node: string, act: () => Promise<unknown>): Promise<{ opened: boolean; result: unknown }> {
  const watch = await watchOpens([node], path.join(work, `sentinel-${path.basename(node)}`));
  try {
    const result = await act().catch((e: unknown) => e);
    await watch.settle();
    return { opened: watch.saw(node), result };
  } finally {
    watch.stop();
  }
}

describe.skipIf(!isRoot)('device nodes are judged without being opened', () => {
  it('manifest.json on a stick that is a device node is damaged, and the device is never opened', async () => {
    const set = path.join(work, 'set');
    await fsp.mkdir(set);
    const node = path.join(set, 'manifest.json');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const r = await opened(node, () => readStickText(node));
    expect(r.result).toMatchObject({ code: 'BACKUP_CORRUPT' });
    expect(r.opened).toBe(false);
  });

  it("a profile's version file that is a device node is refused, and the device is never opened", async () => {
    const node = path.join(work, 'VERSION');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const r = await opened(node, () => readGivenFile(node, { what: 'the version file', max: 1024 }));
    expect(r.result).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/is not a regular file: it is a character device/),
    });
    expect(r.opened).toBe(false);
  });

  it("a scheduled run's passphrase file that is a device node is refused, and the device is never opened", async () => {
    const node = path.join(work, 'edge-recovery.pass');
    execFileSync('mknod', ['-m', '600', node, 'c', '1', '3']);
    const r = await opened(node, () => readPassphraseFile(node));
    expect(r.result).toMatchObject({
      code: 'BAD_INPUT',
      message: `The passphrase file ${node} is not a regular file: it is a character device.`,
    });
    expect(r.opened).toBe(false);
  });

  it("an encrypted backup's first part that is a device node is damaged, and the device is never opened", async () => {
    const set = path.join(work, 'encrypted-set');
    await fsp.mkdir(set);
    const node = path.join(set, 'data.tar.gz.age');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const manifest = { archive: { encryption: 'age-scrypt', parts: [{ name: 'data.tar.gz.age' }] } };
    const r = await opened(node, () => checkPassphrase(set, manifest as never, 'correct horse battery staple'));
    expect(r.result).toMatchObject({
      code: 'BACKUP_CORRUPT',
      message: expect.stringMatching(/data\.tar\.gz\.age is not a regular file/),
    });
    expect(r.opened).toBe(false);
  });

  it('a remembered ticket that is a device node is forgotten, and the device is never opened', async () => {
    const state = path.join(work, 'state');
    await fsp.mkdir(state, { mode: 0o700 });
    const node = path.join(state, TICKET_FILE);
    execFileSync('mknod', ['-m', '600', node, 'c', '1', '3']);
    const r = await opened(node, () => readRememberedTicket(state));
    expect(r.result).toEqual({});
    expect(r.opened).toBe(false);
  });

  it("a product's artifact on a stick that is a device node is damaged, and the device is never opened", async () => {
    const set = path.join(work, 'artifact-set');
    await fsp.mkdir(path.join(set, 'artifacts', 'export'), { recursive: true });
    const node = path.join(set, 'artifacts', 'export', 'export.graph');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const record = {
      step: 'export',
      path: 'artifacts/export/export.graph',
      size: 0,
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', // of nothing: /dev/null's
      source: '/opt/product/export.graph',
      mtime: new Date(0).toISOString(),
      format: 'file' as const,
    };
    const r = await opened(node, () => verifyArtifacts(set, [record]));
    expect(r.result).toMatchObject({
      code: 'BACKUP_CORRUPT',
      message: expect.stringMatching(/export\.graph is not a regular file/),
    });
    expect(r.opened).toBe(false);
  });

  it("a set's part that is a device node, or a link to one, is damaged at verify, and the device is never opened (not even by dd, to drop it from the page cache)", async () => {
    const src = path.join(work, 'hand', 'Configuration');
    await fsp.mkdir(src, { recursive: true });
    await fsp.writeFile(path.join(src, 'app.json'), '{"a":1}\n');
    const archive = path.join(work, 'hand.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', path.dirname(src), 'Configuration']);
    const profile = parseProfile(handProfile({ items: ['Configuration'] }), 'test');
    const io = { emit: () => undefined, interaction: autoConfirm };
    for (const how of ['node', 'link'] as const) {
      const { setDir } = await runAdopt({ source: archive, profile, to: path.join(work, `stick-${how}`) }, io);
      const part = path.join(setDir, 'data.tar.gz');
      await fsp.rm(part);
      const node = how === 'node' ? part : path.join(work, 'watchdog-like');
      execFileSync('mknod', [node, 'c', '1', '3']);
      if (how === 'link') await fsp.symlink(node, part);
      const r = await opened(node, () => verifyBackup(setDir, {}));
      expect({ how, result: r.result }).toMatchObject({ how, result: { code: 'BACKUP_CORRUPT' } });
      expect({ how, opened: r.opened }).toEqual({ how, opened: false });
    }
  });

  it('the watcher sees an open (the test can fail)', async () => {
    const node = path.join(work, 'null');
    execFileSync('mknod', [node, 'c', '1', '3']);
    const r = await opened(node, async () => (await fsp.open(node, 'r')).close());
    expect(r.opened).toBe(true);
  });
});
