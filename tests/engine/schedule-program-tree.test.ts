import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveTo } from '../helpers/as-account.js';
import { runCli } from '../helpers/cli.js';
import { loopMountUnavailable, skipLoopTests, withLoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';

/**
 * The scheduler starts `node <script>` as root every night, and schedule install refuses a script another account
 * can change, or the folders on the way to it. But the script loads the rest of its package: edge-recovery's
 * bin/edge-recovery.js imports ../dist/cli.js (and node_modules). A checkout root's all the way to the script whose
 * dist/ another account owns (a deploy or build account's) was installed, and that account's code ran as root.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const OWNER = 'edge-rt';
const blocked = process.getuid?.() !== 0 ? 'needs root (root-only folders, a root schedule)' : undefined;

describe.skipIf(blocked !== undefined)('schedule install and the package its script loads', () => {
  let own: string;
  let ir: string;
  beforeAll(async () => {
    ensureTestOwner(OWNER);
    // On this machine's own disk, root-only all the way: a checkout of edge-recovery (script, package.json, dist).
    own = await fsp.mkdtemp('/var/lib/erw-schedule-tree-');
    await fsp.mkdir(path.join(own, 'er', 'bin'), { recursive: true });
    await fsp.mkdir(path.join(own, 'er', 'dist'));
    await fsp.copyFile(path.join(REPO, 'package.json'), path.join(own, 'er', 'package.json'));
    await fsp.copyFile(path.join(REPO, 'bin', 'edge-recovery.js'), path.join(own, 'er', 'bin', 'edge-recovery.js'));
    await fsp.chmod(path.join(own, 'er', 'bin', 'edge-recovery.js'), 0o755);
    await fsp.writeFile(path.join(own, 'er', 'dist', 'cli.js'), 'export async function main() { return 0; }\n');
    ir = await fsp.mkdtemp(path.join(os.tmpdir(), 'schedule-tree-'));
  });
  afterAll(async () => {
    if (own) await fsp.rm(own, { recursive: true, force: true });
    if (ir) await fsp.rm(ir, { recursive: true, force: true });
  });

  it("refuses a script whose package's dist/ another account owns (exit 4, no cron file); installs once it is root's", async () => {
    const script = path.join(own, 'er', 'bin', 'edge-recovery.js');
    const dist = path.join(own, 'er', 'dist');
    const cron = path.join(ir, 'etc', 'cron.d', 'edge-recovery-backup-eds-linux');
    const args = ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(ir, 'to'), '--every', 'daily'];
    args.push('--scheduler', 'cron', '--install-root', ir, '--command', script);

    await giveTo(OWNER, dist);
    const r = await runCli(args);
    expect(existsSync(cron)).toBe(false);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(`The scheduler would run ${script} as root, and another account can change it (`);
    expect(r.stderr).toMatch(/dist belongs to uid \d+/);

    // A file in it writable by others, the same.
    await fsp.chown(dist, 0, 0);
    await fsp.chmod(path.join(dist, 'cli.js'), 0o666);
    const w = await runCli(args);
    expect(existsSync(cron)).toBe(false);
    expect(w.code, w.stderr).toBe(4);
    expect(w.stderr).toMatch(/cli\.js is writable by others \(mode 666\)/);

    // All root's: installed.
    await fsp.chmod(path.join(dist, 'cli.js'), 0o644);
    const ok = await runCli(args);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(cron)).toBe(true);
  });

  /**
   * The package's files were judged by owner and mode only: a link in it to a stick (an ext4 stick's files are uid 0,
   * mode 644, wherever it was written), or a stick mounted inside it, passed, though the script itself must lie on
   * the machine's own disks (otherFilesystemProblem). Now every entry, and where a link leads, must too.
   */
  it.skipIf(skipLoopTests)(
    `refuses a package with a link to a stick (exit 4, no cron file)${loopMountUnavailable ? ` (skipped: ${loopMountUnavailable})` : ''}`,
    async () => {
      const script = path.join(own, 'er', 'bin', 'edge-recovery.js');
      const cron = path.join(ir, 'etc', 'cron.d', 'edge-recovery-backup-eds-linux');
      await fsp.rm(cron, { force: true });
      const args = ['schedule', 'install', '--profile', 'eds-linux', '--to', path.join(ir, 'to'), '--every', 'daily'];
      args.push('--scheduler', 'cron', '--install-root', ir, '--command', script);
      const modules = path.join(own, 'er', 'node_modules');
      await withLoopMount(
        16,
        async (stick) => {
          // As written on another machine: root's, 755/644, nothing another account here could change.
          const pkg = path.join(stick.mountpoint, 'dep');
          await fsp.mkdir(pkg, { mode: 0o755 });
          await fsp.writeFile(path.join(pkg, 'index.js'), 'export {};\n', { mode: 0o644 });
          await fsp.chmod(stick.mountpoint, 0o755);
          await fsp.mkdir(modules, { mode: 0o755 });
          await fsp.symlink(pkg, path.join(modules, 'dep'));
          try {
            const r = await runCli(args);
            expect(existsSync(cron)).toBe(false);
            expect(r.code, r.stderr).toBe(4);
            expect(r.stderr).toContain(`${path.join(modules, 'dep')} leads to ${pkg}: ${pkg} is on another filesystem`);
          } finally {
            await fsp.rm(modules, { recursive: true, force: true });
          }
          const ok = await runCli(args);
          expect(ok.code, ok.stderr).toBe(0);
        },
        { under: '/mnt' },
      );
    },
  );
});
