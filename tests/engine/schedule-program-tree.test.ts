import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveTo } from '../helpers/as-account.js';
import { runCli } from '../helpers/cli.js';
import { loopMountUnavailable, skipLoopTests, withLoopMount } from '../helpers/loop-device.js';
import { ensureTestOwner } from '../helpers/restore-driver.js';
import { programTreeProblem } from '../../src-main/engine/util/program-tree.js';

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

/**
 * A checkout in a sticky folder of root's (a fresh clone in /tmp): its script and the folders on the way were
 * accepted (only an entry's owner may rename or remove it in a sticky folder), but a link inside the package (npm's
 * node_modules/.bin/x -> ../x/bin/x) leads back through that sticky folder, and the package walk refused it as
 * "in /tmp, which another account can change (mode 1777)": every install from such a checkout was refused, and a
 * schedule test skipped itself in CI. The same rule now holds for where a link leads: a sticky folder of root's is
 * fine where the entry below it is root's, and not where it is another account's.
 */
describe.skipIf(blocked !== undefined)('the package walk and a sticky folder on the way', () => {
  let sticky: string;
  beforeAll(async () => {
    ensureTestOwner(OWNER);
    sticky = await fsp.mkdtemp('/var/lib/erw-sticky-');
    await fsp.chmod(sticky, 0o1777);
    const pkg = path.join(sticky, 'pkg');
    await fsp.mkdir(path.join(pkg, 'bin'), { recursive: true });
    await fsp.mkdir(path.join(pkg, 'node_modules', 'tool', 'bin'), { recursive: true });
    await fsp.mkdir(path.join(pkg, 'node_modules', '.bin'));
    await fsp.writeFile(path.join(pkg, 'package.json'), '{"name":"pkg"}\n');
    await fsp.writeFile(path.join(pkg, 'bin', 'x.js'), '\n');
    await fsp.writeFile(path.join(pkg, 'node_modules', 'tool', 'bin', 'tool'), '\n');
    await fsp.symlink('../tool/bin/tool', path.join(pkg, 'node_modules', '.bin', 'tool'));
  });
  afterAll(async () => {
    if (sticky) await fsp.rm(sticky, { recursive: true, force: true });
  });

  it("accepts a link in the package that leads through a sticky folder of root's to root's files", () => {
    expect(programTreeProblem(path.join(sticky, 'pkg', 'bin', 'x.js'))).toBeNull();
  });

  it("refuses a link that leads into another account's entry of that sticky folder", async () => {
    const theirs = path.join(sticky, 'theirs.js');
    await fsp.writeFile(theirs, '\n');
    await giveTo(OWNER, theirs);
    const link = path.join(sticky, 'pkg', 'node_modules', '.bin', 'theirs');
    await fsp.symlink(theirs, link);
    try {
      expect(programTreeProblem(path.join(sticky, 'pkg', 'bin', 'x.js'))).toMatch(
        /theirs leads to .*theirs\.js, in .*erw-sticky-/,
      );
    } finally {
      await fsp.rm(link);
    }
  });
});
