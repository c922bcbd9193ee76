import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/datasets.js';
import { runCli } from '../helpers/cli.js';

/**
 * A profile from a stick (untrusted input: the CLI warns, and refuses its commands without --allow-profile-commands)
 * needed no flag to have root read any file and put it on that stick: an artifact step copies "the product's backup"
 * from any path into the backup set, and a version file's text was taken whole for the installed version, which the
 * restore's report (written beside the backup, on the stick) records. Shown with a root-only file (0600 in a 0700
 * folder) standing for /etc/shadow.
 */
const SECRET = 'root:$y$j9T$SECRETHASH:20000:0:99999:7:::\n';

describe.skipIf(!isRoot)("an untrusted profile's reads of root-only files", () => {
  let work: string;
  let secret: string;
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'untrusted-reads-'));
    await fsp.chmod(work, 0o755);
    await fsp.mkdir(path.join(work, 'root-only'), { mode: 0o700 });
    secret = path.join(work, 'root-only', 'shadow');
    await fsp.writeFile(secret, SECRET, { mode: 0o600 });
  });
  afterAll(async () => {
    await fsp.rm(work, { recursive: true, force: true });
  });

  /** Every file under `dir` whose text holds the secret. */
  async function holdingSecret(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const e of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const f = path.join(e.parentPath, e.name);
      if ((await fsp.readFile(f, 'utf8')).includes('SECRETHASH')) out.push(path.relative(dir, f));
    }
    return out;
  }

  it('an artifact step copying a root-only file: refused without --allow-profile-commands, nothing on the stick', async () => {
    const stick = path.join(work, 'stick-artifact');
    await fsp.mkdir(stick);
    const profile = path.join(stick, 'profile.json'); // on the stick: untrusted input
    await fsp.writeFile(
      profile,
      JSON.stringify({
        schemaVersion: 1,
        id: 'innocent',
        productName: 'Innocent',
        platform: 'linux',
        service: { manager: 'none', name: 'innocent' },
        items: [],
        steps: [
          {
            id: 'grab',
            title: "Take the product's backup",
            explain: "Copies the product's own backup into the set.",
            kind: 'artifact',
            at: 'backup.archive',
            mode: 'produced',
            path: secret,
          },
        ],
        version: { policy: 'any' },
      }),
    );
    const args = ['backup', '--profile', profile, '--to', stick, '--yes', '--state-dir', path.join(work, 'state-a')];
    const r = await runCli(args, { env: { EDGE_RECOVERY_PDF: 'off' } });
    expect(await holdingSecret(stick)).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toMatch(/would read files as root and copy or show them \(steps\.0 \(grab\): copies .*shadow/);
    expect(r.stderr).toMatch(/pass --allow-profile-commands/);

    // The technician who read it and passes the flag gets what the profile says (the gate is the explicit choice).
    const allowed = await runCli([...args, '--allow-profile-commands'], { env: { EDGE_RECOVERY_PDF: 'off' } });
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
  }, 60_000);

  it("a version file only root may read is not read: its text is not the installed version in the stick's report", async () => {
    // A backup that records version 1.0.0 (made with an honest profile on the old machine, under --root).
    const old = path.join(work, 'old');
    await fsp.mkdir(path.join(old, 'srv/product/data'), { recursive: true });
    await fsp.writeFile(path.join(old, 'srv/product/data/f'), 'x\n');
    await fsp.writeFile(path.join(old, 'srv/VERSION'), '1.0.0\n');
    const raw = (versionFile: string): string =>
      JSON.stringify({
        schemaVersion: 1,
        id: 'prod',
        productName: 'Prod',
        platform: 'linux',
        service: { manager: 'none', name: 'prod' },
        items: [{ id: 'Data', path: '/srv/product/data' }],
        ownership: { user: 'root', group: 'root', dirMode: '755', fileMode: '644' },
        version: { policy: 'same', file: { path: versionFile } },
      });
    const stick = path.join(work, 'stick-version');
    await fsp.mkdir(stick);
    const honest = path.join(work, 'honest.json');
    await fsp.writeFile(honest, raw('/srv/VERSION'));
    const state = path.join(work, 'state-v');
    const made = await runCli(
      [
        'backup',
        '--profile',
        honest,
        '--allow-profile-commands',
        '--to',
        stick,
        '--root',
        old,
        '--yes',
        '--state-dir',
        state,
      ],
      {
        env: { EDGE_RECOVERY_PDF: 'off' },
      },
    );
    expect(made.code, made.stderr).toBe(0);
    const device = (await fsp.readdir(path.join(stick, 'EdgeRecovery')))[0]!;
    const set = (await fsp.readdir(path.join(stick, 'EdgeRecovery', device))).find((n) => n.startsWith('Backup_'))!;

    // The new machine (under --root): the stick's profile names a root-only file as its version file.
    const machine = path.join(work, 'machine');
    await fsp.mkdir(path.join(machine, 'srv/product/data'), { recursive: true });
    await fsp.copyFile(secret, path.join(machine, 'srv/shadow'));
    await fsp.chmod(path.join(machine, 'srv/shadow'), 0o600);
    const evil = path.join(stick, 'profile.json');
    await fsp.writeFile(evil, raw('/srv/shadow'));
    const r = await runCli(
      [
        'restore',
        path.join(stick, 'EdgeRecovery', device, set),
        '--profile',
        evil,
        '--allow-profile-commands',
        '--root',
        machine,
        '--yes',
        '--state-dir',
        state,
      ],
      { env: { EDGE_RECOVERY_PDF: 'off' } },
    );
    expect(r.stdout + r.stderr).not.toContain('SECRETHASH');
    expect(await holdingSecret(stick)).toEqual([]);
    expect(await holdingSecret(state)).toEqual([]);
    // The report beside the backup (and on this machine) records what the version was before: not the file's text.
    const reports = (await fsp.readdir(path.join(stick, 'EdgeRecovery', device))).filter((n) =>
      /^report-restore-.*\.json$/.test(n),
    );
    expect(reports).toHaveLength(1);
    const report = JSON.parse(await fsp.readFile(path.join(stick, 'EdgeRecovery', device, reports[0]!), 'utf8')) as {
      version?: { installedBefore?: unknown };
    };
    expect(JSON.stringify(report)).toMatch(/"installedBefore":null|^(?!.*installedBefore)/);
  }, 60_000);

  /** The flag that lets these reads through says so in --help (it spoke of commands only). */
  it('--allow-profile-commands says in backup and restore --help that it also lets such a profile read files', async () => {
    for (const cmd of ['backup', 'restore']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.replace(/\s+/g, ' ')).toContain('or reads files as root to copy onto the stick or show');
    }
  });
});
