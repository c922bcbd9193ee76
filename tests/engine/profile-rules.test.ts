import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import edsLinux from '../../src-main/engine/profiles/builtin/eds-linux.json' with { type: 'json' };
import edsWindows from '../../src-main/engine/profiles/builtin/eds-windows.json' with { type: 'json' };
import { builtinProfiles, parseProfile } from '../../src-main/engine/profiles/load.js';
import { profileTrust, rootOnlyProblem } from '../../src-main/engine/profiles/trust.js';
import { runCli } from '../helpers/cli.js';
import { skipLoopTests, withLoopMount } from '../helpers/loop-device.js';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const linux = (): Raw => JSON.parse(JSON.stringify(edsLinux)) as Raw;
const windows = (): Raw => JSON.parse(JSON.stringify(edsWindows)) as Raw;

/** The message parseProfile throws for `raw` (fails the test when it parses). */
function refusal(raw: Raw): string {
  try {
    parseProfile(raw, 'test.json');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the profile was accepted');
}

describe('profile rules: a profile is code and is checked like it', () => {
  it('accepts the built-in profiles', () => {
    expect(builtinProfiles().map((p) => p.id)).toEqual(expect.arrayContaining(['eds-linux', 'eds-windows']));
  });

  it('refuses relative folders and folders with . or ..', () => {
    const raw = linux();
    raw.items[0].path = 'usr/share/OSIsoft/EdgeDataStore/Configuration';
    raw.items[1].path = '/usr/share/OSIsoft/../../../etc';
    const m = refusal(raw);
    expect(m).toMatch(/items\.0\.path: must be an absolute path starting with "\/"/);
    expect(m).toMatch(/items\.1\.path: must not contain "\." or "\.\."/);
    const w = windows();
    w.items[0].path = 'OSIsoft\\EdgeDataStore\\Configuration';
    w.items[1].path = '%ProgramData%\\OSIsoft\\..\\..\\Windows';
    const mw = refusal(w);
    expect(mw).toMatch(/items\.0\.path: must be an absolute Windows path such as "C:\\Product\\Data"/);
    expect(mw).toMatch(/items\.1\.path: must not contain/);
  });

  it('refuses the system folders themselves and anything in /proc, /sys, /dev, /boot', () => {
    for (const p of ['/', '/etc', '/usr', '/var', '/var/lib', '/home', '/usr/share', '/tmp']) {
      const raw = linux();
      raw.items[1].path = p;
      expect(refusal(raw)).toContain(
        `items.1.path: "${p}" is a system folder; name the product's own folder inside it`,
      );
    }
    // Folders where nothing may be named, inside either: never told to "name the product's own folder inside it"
    // (which the rules then refused: /snap/product, /etc/default/product, /root/data).
    for (const p of ['/bin', '/root', '/snap', '/etc/default', '/usr/lib64', '/etc/systemd']) {
      const raw = linux();
      raw.items[1].path = p;
      const said = refusal(raw);
      expect(said).toContain(
        `items.1.path: "${p}" is a folder where what a restore writes would run with the system's rights`,
      );
      expect(said).not.toContain('inside it');
      raw.items[1].path = `${p}/product`;
      expect(refusal(raw)).toContain(`"${p}/product" is in ${p} where what a restore writes would run`);
    }
    const raw = linux();
    raw.items[1].path = '/proc/1/root';
    expect(refusal(raw)).toMatch(/items\.1\.path: "\/proc\/1\/root" lies in \/proc, which belongs to the system/);
    for (const p of ['C:\\', 'C:\\Windows', '%ProgramData%', '%SystemRoot%\\System32', 'c:\\program files']) {
      const w = windows();
      w.items[1].path = p;
      expect(refusal(w)).toMatch(/items\.1\.path: .*(system folder|belongs to the system)/);
    }
    // A product's own folder under /etc or /var/lib is fine.
    const ok = linux();
    ok.items[0].path = '/etc/myproduct';
    ok.items[1].path = '/var/lib/myproduct';
    expect(
      parseProfile(ok, 'ok.json')
        .items.map((i) => i.path)
        .slice(0, 2),
    ).toEqual(['/etc/myproduct', '/var/lib/myproduct']);
  });

  it('refuses folders where what a restore writes would run as root (programs, start-up, cron, logins), and what is in them', () => {
    for (const p of [
      '/etc/cron.daily',
      '/etc/cron.d/product',
      '/etc/systemd/system',
      '/etc/systemd/system/multi-user.target.wants',
      '/etc/profile.d',
      '/etc/ssh/sshd_config.d',
      '/etc/sudoers.d/x',
      '/root/.ssh',
      '/root/product',
      '/usr/local/bin/tools',
      '/usr/lib/systemd/system',
      '/usr/bin/product',
      '/var/spool/cron/crontabs',
      '/etc/init.d/product',
    ]) {
      const raw = linux();
      raw.items[1].path = p;
      expect(refusal(raw)).toMatch(
        new RegExp(
          `items\\.1\\.path: "${p.replace(/\./g, '\\.')}" is (a folder|in /[^ ]+) where what a restore writes would run with the system's rights`,
        ),
      );
    }
    const w = windows();
    w.items[1].path = '%ProgramData%\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp\\product';
    expect(refusal(w)).toMatch(/items\.1\.path: .* is in .*startup where what a restore writes would run/);
    // Products' own folders beside them are fine (a product's configuration under /etc, its files under /usr/lib).
    const ok = linux();
    ok.items[0].path = '/etc/cron-product';
    ok.items[1].path = '/usr/lib/myproduct';
    expect(
      parseProfile(ok, 'ok.json')
        .items.map((i) => i.path)
        .slice(0, 2),
    ).toEqual(['/etc/cron-product', '/usr/lib/myproduct']);
  });

  it('refuses the other places root runs or trusts what is written there: /usr/lib twins of /lib, module folders, hooks, /run', () => {
    for (const p of [
      '/usr/lib/x86_64-linux-gnu/security', // PAM modules (= /lib/x86_64-linux-gnu/security, refused)
      '/usr/lib/x86_64-linux-gnu',
      '/usr/local/lib/x86_64-linux-gnu/product',
      '/usr/lib64/product', // = /lib64
      '/usr/lib/python3/dist-packages', // a .pth file runs at every python3 start
      '/usr/local/lib/python3.11/dist-packages',
      '/usr/share/perl5/Debconf',
      '/usr/lib/node_modules/edge-recovery',
      '/usr/lib/udev/rules.d',
      '/usr/lib/modprobe.d',
      '/usr/lib/tmpfiles.d',
      '/usr/lib/apt/methods',
      '/usr/share/dbus-1/system-services',
      '/etc/logrotate.d',
      '/etc/sysctl.d',
      '/etc/tmpfiles.d',
      '/etc/default/grub.d',
      '/etc/bash_completion.d',
      '/etc/xdg/autostart',
      '/etc/network/if-up.d',
      '/etc/dhcp/dhclient-exit-hooks.d',
      '/etc/dbus-1/system.d',
      '/etc/grub.d',
      '/etc/kernel/postinst.d',
      '/etc/rsyslog.d',
      '/etc/dpkg/dpkg.cfg.d',
      '/etc/ssl/private',
      '/etc/alternatives', // /usr/bin/awk -> /etc/alternatives/awk: a regular file there is the awk root runs
      '/usr/lib/jvm/java-17-openjdk-amd64',
      '/snap/bin',
      '/etc/sv/product', // runsv runs ./run there as root
      '/etc/service/product',
      '/etc/supervisor/conf.d',
      '/etc/nginx/modules-enabled',
      '/etc/apache2/mods-enabled',
      '/etc/docker',
      '/home/alice/.ssh', // authorized_keys: a login as alice; her private keys onto the stick
      '/home/alice', // the home itself: its .ssh, .bashrc and .profile with it
      '/var/lib/postgresql/.ssh',
      '/srv/app/.gnupg',
      '/home/alice/.config/autostart',
      '/home/alice/.local/bin',
      '/var/lib/polkit-1/localauthority',
      '/run/systemd/system',
      '/var/run/systemd/system', // = /run/systemd/system
      '/run/udev/rules.d',
      '/run/sudo/ts',
    ]) {
      const raw = linux();
      raw.items[1].path = p;
      expect(refusal(raw)).toMatch(
        new RegExp(
          `items\\.1\\.path: "${p.replace(/\./g, '\\.')}" is (a folder|in /[^ ]+) where what a restore writes would run with the system's rights`,
        ),
      );
    }
    for (const p of [
      '%USERPROFILE%\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup',
      'C:\\Users\\tech\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\x',
      '%ALLUSERSPROFILE%\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp',
      '%SystemDrive%\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\Startup',
    ]) {
      const w = windows();
      w.items[1].path = p;
      expect(refusal(w)).toMatch(
        /items\.1\.path: .* (is a folder|is in .*startup) where what a restore writes would run/,
      );
    }
    // Other spellings of those folders (Windows drops trailing dots and spaces; short names; NTFS streams).
    for (const [p, why] of [
      ['C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\Startup.', /ending in "\." or a space/],
      ['C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\Startup ', /ending in "\." or a space/],
      ['C:\\PROGRA~3\\Microsoft\\Windows\\Start Menu\\Programs\\Startup', /long folder names/],
      ['C:\\Windows.\\System32', /ending in "\." or a space/],
      ['%SystemDrive%\\Windows\\System32', /belongs to the system/],
      ['C:\\ProgramData\\Product\\Data:stream', /":" after the drive/],
      // NTFS compares names upper-cased: dotless ı is I, long ſ is S there.
      ['C:\\W\u0131ndows\\System32', /belongs to the system/],
      [
        'C:\\ProgramData\\Micro\u017Foft\\Windows\\Start Menu\\Programs\\Startup',
        /where what a restore writes would run/,
      ],
    ] as const) {
      const w = windows();
      w.items[1].path = p;
      expect(refusal(w)).toMatch(why);
    }
    // A folder above one of them: its restore replaces that one too (/etc/NetworkManager brought the stick's
    // dispatcher.d, C:\\Users\\tech its Startup folder). The product's own folders in them still pass.
    for (const [p, held] of [
      ['/etc/NetworkManager', '/etc/NetworkManager/dispatcher.d'],
      ['/etc/ssl', '/etc/ssl/private'],
    ]) {
      const raw = linux();
      raw.items[1].path = p;
      expect(refusal(raw)).toContain(`items.1.path: "${p}" holds ${held}, where what a restore writes would run`);
    }
    for (const p of [
      'C:\\Users\\tech',
      'C:\\Users\\tech\\AppData\\Roaming',
      '%USERPROFILE%\\AppData',
      '%SystemDrive%\\Users\\tech',
      'C:\\ProgramData\\Microsoft',
    ]) {
      const w = windows();
      w.items[1].path = p;
      expect(refusal(w)).toMatch(/items\.1\.path: .* holds .*programs\/startup, where what a restore writes would run/);
    }
    // Products' own folders beside them still pass, and a pid file in /run.
    const ok = linux();
    ok.items[0].path = '/usr/lib/myproduct/data';
    ok.items[1].path = '/etc/myproduct';
    ok.items[2].path = '/usr/share/pythonic-product';
    ok.service = { manager: 'process', name: 'p', command: ['/usr/lib/myproduct/bin/run'], pidFile: '/run/p.pid' };
    expect(
      parseProfile(ok, 'ok.json')
        .items.map((i) => i.path)
        .slice(0, 3),
    ).toEqual(['/usr/lib/myproduct/data', '/etc/myproduct', '/usr/share/pythonic-product']);
  });

  it('refuses folders that overlap (the same, or one inside the other), and duplicate ids', () => {
    const raw = linux();
    raw.items[1].path = '/usr/share/OSIsoft/EdgeDataStore/Configuration/Storage';
    expect(refusal(raw)).toMatch(
      /items\.1\.path: lies inside items\.0 \(\/usr\/share\/OSIsoft\/EdgeDataStore\/Configuration\); folders must not overlap/,
    );
    const same = linux();
    same.items[1].path = same.items[0].path;
    expect(refusal(same)).toMatch(/items\.1\.path: is the same folder as items\.0; folders must not overlap/);
    const w = windows();
    w.items[1].path = '%PROGRAMDATA%\\osisoft\\EdgeDataStore\\CONFIGURATION';
    expect(refusal(w)).toMatch(/items\.1\.path: is the same folder as items\.0/);
    const dup = linux();
    dup.items[1].id = 'Configuration';
    expect(refusal(dup)).toMatch(/items\.1\.id: the id "Configuration" is used twice \(also items\.0\)/);
  });

  it('refuses setuid, setgid and sticky bits and world-writable modes, in the policy and its exceptions', () => {
    const raw = linux();
    raw.ownership.dirMode = '1777';
    raw.ownership.fileMode = '666';
    raw.ownership.exceptions = [
      { glob: 'Configuration/bin/*', fileMode: '4755' },
      { glob: 'Storage/**', dirMode: '2775' },
    ];
    const m = refusal(raw);
    expect(m).toMatch(/ownership\.dirMode: must not set setuid, setgid or sticky bits \(1777\)/);
    expect(m).toMatch(/ownership\.fileMode: must not be writable by everyone \(666\)/);
    expect(m).toMatch(/ownership\.exceptions\.0\.fileMode: must not set setuid, setgid or sticky bits \(4755\)/);
    expect(m).toMatch(/ownership\.exceptions\.1\.dirMode: must not set setuid/);
  });

  it('refuses exception globs that leave the folders, and owner names that are not names', () => {
    const raw = linux();
    raw.ownership.exceptions = [
      { glob: '/etc/shadow', fileMode: '600' },
      { glob: 'Configuration/../../x', fileMode: '600' },
    ];
    raw.ownership.user = 'root:root';
    raw.ownership.group = '../x';
    const m = refusal(raw);
    expect(m).toMatch(/ownership\.exceptions\.0\.glob: must be relative to the folders/);
    expect(m).toMatch(/ownership\.exceptions\.1\.glob: must be relative/);
    expect(m).toMatch(/ownership\.user: "root:root" is not a user name/);
    expect(m).toMatch(/ownership\.group: "\.\.\/x" is not a group name/);
  });

  it('refuses service names that read as options, and process commands without an absolute program', () => {
    const raw = linux();
    raw.service.name = '--root=/tmp/x';
    expect(refusal(raw)).toMatch(/service\.name: "--root=\/tmp\/x" is not a systemd unit name/);
    const p = linux();
    p.service = { manager: 'process', name: 'x', command: ['sh', '-c', 'id'] };
    const m = refusal(p);
    expect(m).toMatch(/service\.command\.0: must be the program's absolute path \(got "sh"\)/);
    expect(m).toMatch(/service\.pidFile: is required for the "process" manager/);
    const r = linux();
    r.service = { manager: 'runit', name: '/etc' };
    expect(refusal(r)).toMatch(/service\.name: must be a runit service name or its absolute folder/);
    // runit's own folders name a service (not a folder to restore into): /etc/sv/<name> passes as the service.
    for (const name of ['/etc/sv/product', '/etc/service/product', '/var/service/product']) {
      const ok = linux();
      ok.service = { manager: 'runit', name };
      expect(parseProfile(ok, 'ok.json').service.name).toBe(name);
    }
    const deep = linux();
    deep.service = { manager: 'runit', name: '/etc/sv/product/log' };
    expect(refusal(deep)).toMatch(/service\.name: must be a runit service name or its absolute folder/);
  });

  it("refuses the system's own units and other unit types as the service, and a product step's service by the same rules", () => {
    // A restore starts the profile's service: debug-shell.service is a root shell on tty9 without a password.
    for (const name of [
      'debug-shell.service',
      'debug-shell',
      'emergency.service',
      'getty@tty9.service',
      'serial-getty@ttyS0',
      'systemd-networkd.service',
      'dbus.service',
      'ssh',
    ]) {
      const raw = linux();
      raw.service.name = name;
      expect(refusal(raw)).toMatch(/service\.name: ".*" is one of the system's own units/);
    }
    for (const name of ['poweroff.target', 'reboot.target', 'media-usb.mount', 'docker.socket', 'apt-daily.timer']) {
      const raw = linux();
      raw.service.name = name;
      expect(refusal(raw)).toMatch(/service\.name: ".*" is not a service unit/);
    }
    // A product step that stops or starts a service was not judged at all: an option, a system unit, a docker option.
    const step = (service: Record<string, unknown>): Raw => {
      const raw = linux();
      raw.steps = [
        {
          id: 'start-other',
          title: 'Start',
          explain: 'Starts it.',
          kind: 'service',
          at: 'restore.after-start',
          action: 'start',
          service,
        },
      ];
      return raw;
    };
    expect(refusal(step({ manager: 'systemd', name: '--root=/tmp/x' }))).toMatch(
      /steps\.0\.service\.name: "--root=\/tmp\/x" is not a systemd unit name/,
    );
    expect(refusal(step({ manager: 'systemd', name: 'debug-shell.service' }))).toMatch(
      /steps\.0\.service\.name: "debug-shell\.service" is one of the system's own units/,
    );
    expect(refusal(step({ manager: 'docker', name: '--attach' }))).toMatch(
      /steps\.0\.service\.name: "--attach" is not a plain service name/,
    );
    expect(refusal(step({ manager: 'runit', name: '/etc/sv/../../root' }))).toMatch(/steps\.0\.service\.name: must be/);
    // Products' own units still pass, with or without ".service", dotted names too.
    for (const name of ['osisoft.edgedatastore', 'product.service', 'my-systemd-product.service', 'app@1.service']) {
      const raw = step({ manager: 'systemd', name });
      raw.service.name = name;
      expect(parseProfile(raw, 'ok.json').service.name).toBe(name);
    }
  });

  it('refuses an API that is not on this machine (the secrets go there)', () => {
    const raw = linux();
    raw.api.baseUrl = 'http://collector.example.com:5590';
    expect(refusal(raw)).toMatch(
      /api\.baseUrl: must be the product's API on this machine \(localhost, 127\.0\.0\.1 or \[::1\]\), not collector\.example\.com/,
    );
    const ftp = linux();
    ftp.api.baseUrl = 'file:///etc/shadow';
    expect(refusal(ftp)).toMatch(/api\.baseUrl: must be an http:\/\/ or https:\/\/ address/);
    const v6 = linux();
    v6.api.baseUrl = 'http://[::1]:5590';
    expect(parseProfile(v6, 'v6.json').api!.baseUrl).toBe('http://[::1]:5590');
  });

  it("refuses a download (an http step's saveTo) anywhere but a file directly in the work folder", () => {
    const step = (saveTo: string): Raw => ({
      ...linux(),
      steps: [
        {
          id: 'export',
          title: 'Take the export',
          explain: 'Downloads it.',
          at: 'backup.before-stop',
          kind: 'http',
          path: '/export',
          saveTo,
        },
      ],
    });
    for (const bad of ['/etc/cron.d/evil', '{root}/etc/shadow', '{work}/../x', '{work}/sub/x', '{work}/', 'x.bin']) {
      expect(refusal(step(bad)), bad).toMatch(/a download goes into the work folder: "\{work\}\/<file name>"/);
    }
    expect(() => parseProfile(step('{work}/export-{label}.bin'), 'test.json')).not.toThrow();
  });

  it('refuses a relative version file', () => {
    const raw = linux();
    raw.version = { policy: 'same', file: { path: '../VERSION' } };
    expect(refusal(raw)).toMatch(/version\.file\.path: must be an absolute path/);
  });
});

describe('profile trust: files only root can change, or untrusted input', () => {
  const isRoot = process.getuid?.() === 0;
  let trusted: string; // under /var/lib (root, 755, on the system's own filesystem): root-only all the way up
  let loose: string; // under the temp folder (1777): anyone can swap it

  beforeAll(async () => {
    trusted = await fsp.mkdtemp('/var/lib/erw-profiles-');
    await fsp.chmod(trusted, 0o755);
    loose = await fsp.mkdtemp(path.join(os.tmpdir(), 'erw-profiles-'));
  });
  afterAll(async () => {
    await fsp.rm(trusted, { recursive: true, force: true });
    await fsp.rm(loose, { recursive: true, force: true });
  });

  it.skipIf(!isRoot)('trusts a root-owned file in root-only folders and nothing else', async () => {
    const good = path.join(trusted, 'p.json');
    await fsp.writeFile(good, JSON.stringify(linux()), { mode: 0o644 });
    expect(await rootOnlyProblem(good)).toBeNull();
    expect(await profileTrust(good)).toEqual({ origin: 'root-owned' });
    expect(await profileTrust('eds-linux')).toEqual({ origin: 'builtin' });

    await fsp.chmod(good, 0o664);
    expect(await rootOnlyProblem(good)).toMatch(/p\.json is writable by its group \(mode 664\)/);
    await fsp.chmod(good, 0o644);
    await fsp.chown(good, 65534, 0);
    expect(await rootOnlyProblem(good)).toMatch(/belongs to uid 65534, not root/);
    await fsp.chown(good, 0, 0);
    await fsp.chmod(trusted, 0o775);
    expect(await rootOnlyProblem(good)).toMatch(/erw-profiles-\w+ is writable by its group/);
    await fsp.chmod(trusted, 0o755);

    const inTmp = path.join(loose, 'p.json');
    await fsp.writeFile(inTmp, JSON.stringify(linux()));
    expect(await profileTrust(inTmp)).toEqual({
      origin: 'untrusted',
      reason: expect.stringMatching(/is writable by everyone \(mode 1777\)/),
    });
    // A link from a trusted folder to a loose file is judged by where it leads.
    const link = path.join(trusted, 'link.json');
    await fsp.symlink(inTmp, link);
    expect((await profileTrust(link)).origin).toBe('untrusted');
  });

  it.skipIf(!isRoot || skipLoopTests)(
    "does not trust a root-owned file on a stick: an owner is a number written on another machine's disk",
    async () => {
      // An ext4 stick formatted elsewhere: its files are uid 0, mode 644, in folders of mode 755, mounted in a
      // root-only folder. Only the filesystem tells it apart from /etc/edge-recovery/profiles.
      await withLoopMount(
        16,
        async (stick) => {
          await fsp.chmod(stick.mountpoint, 0o755);
          const raw = linux();
          const marker = path.join(loose, 'stick-profile-ran-as-root');
          raw.service = {
            manager: 'process',
            name: 'evil',
            command: ['/bin/sh', '-c', `touch ${marker}; sleep 60`],
            pidFile: path.join(loose, 'stick-evil.pid'),
          };
          delete raw.api;
          delete raw.ownership;
          const file = path.join(stick.mountpoint, 'profile.json');
          await fsp.writeFile(file, JSON.stringify(raw), { mode: 0o644 });
          expect((await fsp.stat(file)).uid).toBe(0);
          expect(await profileTrust(file)).toEqual({
            origin: 'untrusted',
            reason: expect.stringMatching(/profile\.json is on another filesystem than this machine's own/),
          });

          const root = path.join(loose, 'root-stick');
          for (const it of raw.items) await fsp.mkdir(path.join(root, it.path), { recursive: true });
          const to = path.join(loose, 'stick-to');
          await fsp.mkdir(to);
          const r = await runCli(['backup', '--profile', file, '--root', root, '--to', to, '--yes', '--leave-stopped']);
          expect(r.stderr).toMatch(/is untrusted input: .*on another filesystem than this machine's own/);
          expect(r.stderr).toMatch(/would run commands with this tool's rights/);
          expect(r.code).toBe(4);
          await expect(fsp.access(marker)).rejects.toThrow();
          expect(await fsp.readdir(to)).toEqual([]);
        },
        { under: '/mnt' },
      );
    },
  );

  it('the CLI warns about an untrusted profile file and refuses its commands without --allow-profile-commands', async () => {
    const root = path.join(loose, 'root');
    const raw = linux();
    for (const it of raw.items) await fsp.mkdir(path.join(root, it.path), { recursive: true });
    const marker = path.join(loose, 'ran-as-root');
    raw.service = {
      manager: 'process',
      name: 'evil',
      command: ['/bin/sh', '-c', `touch ${marker}; sleep 60`],
      pidFile: path.join(loose, 'evil.pid'),
    };
    delete raw.api;
    delete raw.ownership;
    const file = path.join(loose, 'evil.json');
    await fsp.writeFile(file, JSON.stringify(raw));
    const stick = path.join(loose, 'stick');
    await fsp.mkdir(stick);
    const args = ['backup', '--profile', file, '--root', root, '--to', stick, '--yes', '--leave-stopped'];

    const refused = await runCli(args);
    // The refusal says it all (what it would have root do, and why it is untrusted); the warning is for a go-ahead.
    expect(refused.stderr).toMatch(
      /would run commands with this tool's rights \(service\.command: \/bin\/sh -c touch .*\), and read .* as root and copy them onto the stick, and stop and start the process service evil, and it is untrusted input/,
    );
    expect(refused.stderr).toMatch(
      /pass --allow-profile-commands, or copy it into a root-only folder on this machine's own disk \(install -D -o root -g root -m 644 .*evil\.json \/etc\/edge-recovery\/profiles\/evil\.json\)/,
    );
    expect(refused.code).toBe(4);
    await expect(fsp.access(marker)).rejects.toThrow();
    expect(await fsp.readdir(stick)).toEqual([]);

    // With the flag the profile passes the gate (the restore then stops at the missing backup, as it should).
    const missing = path.join(stick, 'no-such-backup');
    const allowed = await runCli(['restore', missing, '--profile', file, '--yes', '--allow-profile-commands']);
    expect(allowed.stderr).toMatch(/Warning: the profile .* is untrusted input/);
    expect(allowed.stderr).not.toMatch(/would run commands/);
    expect(allowed.stderr).toMatch(/no-such-backup/);
    expect(allowed.code).not.toBe(4);
  });

  it("refuses an untrusted profile's version command (the package database's query, run as root) without --allow-profile-commands", async () => {
    const root = path.join(loose, 'root-version');
    const raw = linux();
    for (const it of raw.items) await fsp.mkdir(path.join(root, it.path), { recursive: true });
    const marker = path.join(loose, 'version-ran-as-root');
    // The API does not answer (nothing listens on port 1), so the backup asks the version command.
    raw.api.baseUrl = 'http://127.0.0.1:1';
    delete raw.api.portFile;
    raw.version.command = { argv: ['/bin/sh', '-c', `touch ${marker}; echo 1.2.3`], pattern: '(\\d+\\.\\d+\\.\\d+)' };
    // No service to stop: on the old code the backup went on to ask the version and ran the command.
    raw.service = { manager: 'none', name: 'none' };
    const file = path.join(loose, 'evil-version.json');
    await fsp.writeFile(file, JSON.stringify(raw));
    const stick = path.join(loose, 'stick-version');
    await fsp.mkdir(stick);

    const refused = await runCli([
      'backup',
      '--profile',
      file,
      '--root',
      root,
      '--to',
      stick,
      '--yes',
      '--leave-stopped',
      '--state-dir',
      path.join(loose, 'state-version'),
    ]);
    expect(refused.stderr).toMatch(
      /would run commands with this tool's rights \(version\.command: \/bin\/sh -c touch /,
    );
    expect(refused.code).toBe(4);
    await expect(fsp.access(marker)).rejects.toThrow();
    expect(await fsp.readdir(stick)).toEqual([]);
  });
});
