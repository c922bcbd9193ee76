import type { z } from 'zod';
import type { Profile } from './schema.js';

/**
 * A profile is code: its folders are renamed, replaced and chowned as root, its service is stopped and started,
 * its API receives the secrets the technician types. These rules refuse what no real product needs and what
 * would turn a profile into a way to hurt the machine: relative or `..` paths, system folders, folders inside
 * each other, special mode bits, option-like service names, an API that is not on this machine.
 */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

/** Folders of the system itself (and their parents): never a product's folder to replace. */
const LINUX_SYSTEM_DIRS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/lost+found',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/snap',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/var',
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/local',
  '/usr/local/bin',
  '/usr/local/etc',
  '/usr/local/lib',
  '/usr/local/sbin',
  '/usr/local/share',
  '/usr/sbin',
  '/usr/share',
  '/usr/src',
  '/var/backups',
  '/var/cache',
  '/var/lib',
  '/var/local',
  '/var/log',
  '/var/mail',
  '/var/opt',
  '/var/run',
  '/var/spool',
  '/var/tmp',
  '/etc/systemd',
  '/etc/ssh',
  '/etc/pam.d',
  '/etc/sudoers.d',
  '/etc/cron.d',
  '/etc/default',
  '/etc/init.d',
]);
/** Kernel and device trees: nothing below them is a product folder either. */
const LINUX_SYSTEM_TREES = ['/proc', '/sys', '/dev', '/boot'];
/**
 * Where what is written runs as root, or decides who logs in as whom: a restore puts a backup's files there (as
 * root, with the profile's owners), so a profile naming one, or a folder in one, turns a stick into root's code.
 * No product keeps its data there. Refused for every profile, the folder itself and anything in it (a profile
 * that is untrusted input is otherwise only warned about for its folders: README "Profile format").
 */
const LINUX_RUNS_AS_ROOT_TREES = [
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/usr/bin',
  '/usr/sbin',
  '/usr/libexec',
  '/usr/lib/systemd',
  '/usr/local/bin',
  '/usr/local/sbin',
  '/root',
  '/etc/systemd',
  '/etc/init.d',
  '/etc/rc0.d',
  '/etc/rc1.d',
  '/etc/rc2.d',
  '/etc/rc3.d',
  '/etc/rc4.d',
  '/etc/rc5.d',
  '/etc/rc6.d',
  '/etc/rcS.d',
  '/etc/cron.d',
  '/etc/cron.hourly',
  '/etc/cron.daily',
  '/etc/cron.weekly',
  '/etc/cron.monthly',
  '/etc/cron.yearly',
  '/var/spool/cron',
  '/etc/profile.d',
  '/etc/ssh',
  '/etc/pam.d',
  '/etc/security',
  '/etc/sudoers.d',
  '/etc/ld.so.conf.d',
  '/etc/apt',
  '/etc/update-motd.d',
  '/etc/udev',
  '/etc/modprobe.d',
  '/etc/polkit-1',
  '/etc/NetworkManager/dispatcher.d',
  '/var/lib/dpkg',
  // Read as root's shell, programs or settings at boot, at a login, by a hook, a package install or a daemon
  // (init scripts source /etc/default; logrotate's postrotate, udev's RUN, tmpfiles' w/L lines, sysctl's
  // kernel.core_pattern, modprobe's install lines, D-Bus activation and polkit rules all run or grant as root).
  '/etc/default',
  '/etc/logrotate.d',
  '/etc/sysctl.d',
  '/etc/tmpfiles.d',
  '/etc/modules-load.d',
  '/etc/binfmt.d',
  '/etc/bash_completion.d',
  '/etc/xdg',
  '/etc/X11',
  '/etc/network',
  '/etc/dhcp',
  '/etc/ppp',
  '/etc/dbus-1',
  '/etc/grub.d',
  '/etc/kernel',
  '/etc/initramfs-tools',
  '/etc/rsyslog.d',
  '/etc/acpi',
  '/etc/apparmor.d',
  '/etc/dpkg',
  '/etc/needrestart',
  '/etc/xinetd.d',
  '/etc/rc.d',
  '/etc/sysconfig',
  '/etc/cloud',
  '/etc/ssl/private',
  // What /usr/bin's alternatives lead to (/usr/bin/awk -> /etc/alternatives/awk -> …): a regular file put there by
  // a restore is the program root runs by that name; and the programs of snaps (/snap/bin is in root's PATH).
  '/etc/alternatives',
  '/usr/lib/jvm',
  '/snap',
  // What a supervisor running as root starts or loads: runit's service folders (runsv runs ./run as root),
  // supervisord's and monit's programs, a web server's modules (nginx's load_module, Apache's LoadModule, loaded by
  // their root master), Docker's and containerd's daemon settings (runtimes, plugins).
  '/etc/sv',
  '/etc/service',
  '/etc/runit',
  '/var/service',
  '/service',
  '/etc/supervisor',
  '/etc/monit',
  '/etc/nginx',
  '/etc/apache2',
  '/etc/httpd',
  '/etc/docker',
  '/etc/containerd',
  // Merged /usr (Debian 12, Ubuntu, Fedora): /lib32 is /usr/lib32, … (so refused under either name).
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libx32',
  '/usr/lib/apt',
  '/usr/lib/dpkg',
  '/usr/lib/udev',
  '/usr/lib/modules',
  '/usr/lib/modprobe.d',
  '/usr/lib/modules-load.d',
  '/usr/lib/sysctl.d',
  '/usr/lib/tmpfiles.d',
  '/usr/lib/binfmt.d',
  '/usr/lib/environment.d',
  '/usr/lib/kernel',
  '/usr/lib/polkit-1',
  '/usr/lib/NetworkManager',
  '/usr/lib/sudo',
  '/usr/lib/openssh',
  '/usr/lib/dbus-1.0',
  '/usr/lib/security',
  '/usr/lib/pam.d',
  '/usr/lib/git-core',
  '/usr/lib/node_modules',
  '/usr/local/lib/node_modules',
  '/usr/share/dbus-1',
  '/usr/share/polkit-1',
  '/usr/share/bash-completion',
  '/usr/share/initramfs-tools',
  '/var/lib/polkit-1',
  '/var/lib/sudo',
  // Loaded from /run as from /etc (runtime units, udev rules, tmpfiles, …), and sudo's timestamps.
  ...['systemd', 'udev', 'tmpfiles.d', 'sysctl.d', 'modprobe.d', 'modules-load.d', 'binfmt.d', 'sudo'].flatMap((d) => [
    `/run/${d}`,
    `/var/run/${d}`,
  ]),
];
/**
 * The same for names that vary: a multiarch library folder (/usr/lib/x86_64-linux-gnu, where PAM's modules and
 * every program's libraries are, = /lib/x86_64-linux-gnu), and the folders Python, Perl and Node load modules from
 * (a `.pth` file in dist-packages runs at every start of python3, which apt's hooks run as root).
 */
const LINUX_RUNS_AS_ROOT_PATTERNS = [
  // Any account's keys and logins (~/.ssh/authorized_keys: whoever has the matching key logs in as that account; a
  // backup carries its private keys onto the stick), and what its sessions start (~/.config/autostart, ~/.local/bin).
  /^.*?\/\.(ssh|gnupg)(\/|$)/,
  /^\/home\/[^/]+\/\.(config|local)(\/|$)/,
  // A home itself: a restore of it brings all of these, and .bashrc and .profile (run at every login), from the stick.
  /^\/home\/[^/]+$/,
  /^\/usr\/(local\/)?lib\/[a-z0-9_]+-linux-[a-z0-9_]+(\/|$)/,
  /^\/usr\/(local\/)?lib\/python[0-9.]*(\/|$)/,
  /^\/usr\/(local\/)?(lib|share)\/perl[0-9.]*(\/|$)/,
];

const WINDOWS_VARS_ROOTS = new Set(
  [
    '%programdata%',
    '%programfiles%',
    '%programfiles(x86)%',
    '%programw6432%',
    '%commonprogramfiles%',
    '%systemroot%',
    '%windir%',
    '%systemdrive%',
    '%userprofile%',
    '%appdata%',
    '%localappdata%',
    '%public%',
    '%allusersprofile%',
    '%homedrive%',
    '%temp%',
    '%tmp%',
  ].map((s) => s.toLowerCase()),
);
const WINDOWS_SYSTEM_TREES = ['%systemroot%', '%windir%', 'c:/windows', '%systemdrive%/windows'];
/** Windows' start-up folders: what is put there runs at the next logon (README "Profile format"). */
const WINDOWS_STARTUP_TREES = [
  '%programdata%/microsoft/windows/start menu/programs/startup',
  '%appdata%/microsoft/windows/start menu/programs/startup',
  'c:/programdata/microsoft/windows/start menu/programs/startup',
];
const WINDOWS_SYSTEM_DIRS = new Set([
  'c:',
  'c:/windows',
  'c:/program files',
  'c:/program files (x86)',
  'c:/programdata',
  'c:/users',
  'c:/users/public',
]);

type Platform = Profile['platform'];

/** Why `p` is not an acceptable absolute folder path on `platform`, or null. */
export function absolutePathProblem(p: string, platform: Platform): string | null {
  if (p.includes('\0')) return 'must not contain NUL characters';
  if (platform === 'linux') {
    if (!p.startsWith('/')) return `must be an absolute path starting with "/" (got "${p}")`;
    const parts = p.split('/').slice(1);
    if (parts.some((s) => s === '..' || s === '.')) return `must not contain "." or ".." (got "${p}")`;
    if (p !== '/' && (p.endsWith('/') || parts.some((s) => s === ''))) {
      return `must be written without doubled or trailing "/" (got "${p}")`;
    }
    return null;
  }
  const norm = p.replace(/\\/g, '/');
  if (!/^([A-Za-z]:|%[A-Za-z_][A-Za-z0-9_()]*%)(\/|$)/.test(norm)) {
    return `must be an absolute Windows path such as "C:\\Product\\Data" or "%ProgramData%\\Product" (got "${p}")`;
  }
  const parts = norm.split('/').slice(1);
  if (parts.some((s) => s === '..' || s === '.')) return `must not contain "." or ".." (got "${p}")`;
  if (parts.some((s) => s === '') && !(parts.length === 1 && parts[0] === '')) {
    return `must be written without doubled or trailing "\\" (got "${p}")`;
  }
  // Other spellings of one folder, which the rules below would not know: Windows drops a name's trailing dots and
  // spaces ("Startup." is Startup), "PROGRA~3" is the short name of ProgramData, and "name:stream" an NTFS stream.
  if (parts.some((s) => /[. ]$/.test(s))) return `must not have a name ending in "." or a space (got "${p}")`;
  if (parts.some((s) => /~\d/.test(s)))
    return `must use long folder names, not short ones such as "PROGRA~1" (got "${p}")`;
  if (parts.some((s) => s.includes(':'))) return `must not contain ":" after the drive (got "${p}")`;
  return null;
}

/** Comparable form: "/" separators, no trailing one; Windows folded to lower case. */
function comparable(p: string, platform: Platform): string {
  if (platform === 'linux') return p.length > 1 ? p.replace(/\/+$/, '') : p;
  // Upper-cased first, as NTFS compares names (by its upcase table): "Wındows" (dotless ı) and "Microſoft" (long ſ)
  // are C:\\Windows and Microsoft there, and lower-casing alone kept them apart from the folders refused below.
  return p.replace(/\\/g, '/').replace(/\/+$/, '').toUpperCase().toLowerCase();
}

/** Why the folder `p` is one of the system's own, or null. */
export function systemFolderProblem(p: string, platform: Platform): string | null {
  const c = comparable(p, platform);
  if (platform === 'linux') {
    // First: a folder where nothing may be named, itself or inside (/root, /etc/default, /snap), is not a system
    // folder to "name the product's own folder inside".
    const runs =
      LINUX_RUNS_AS_ROOT_TREES.find((t) => c === t || c.startsWith(t + '/')) ??
      LINUX_RUNS_AS_ROOT_PATTERNS.map((re) => re.exec(c)?.[0].replace(/\/$/, '')).find((t) => t !== undefined);
    if (runs) return runsAsRootProblem(p, runs);
    if (LINUX_SYSTEM_DIRS.has(c)) return `"${p}" is a system folder; name the product's own folder inside it`;
    const tree = LINUX_SYSTEM_TREES.find((t) => c.startsWith(t + '/'));
    if (tree) return `"${p}" lies in ${tree}, which belongs to the system`;
    return null;
  }
  const startup =
    WINDOWS_STARTUP_TREES.find((t) => c === t || c.startsWith(t + '/')) ??
    // Any account's (C:\\Users\\<name>\\AppData\\Roaming\\…, %USERPROFILE%\\AppData\\Roaming\\…, %ALLUSERSPROFILE%\\…).
    /^.*?\/microsoft\/windows\/start menu\/programs\/startup(?=\/|$)/.exec(c)?.[0];
  if (startup) return runsAsRootProblem(p, startup);
  if (WINDOWS_SYSTEM_DIRS.has(c) || /^[a-z]:$/.test(c) || WINDOWS_VARS_ROOTS.has(c)) {
    return `"${p}" is a system folder; name the product's own folder inside it`;
  }
  const tree = WINDOWS_SYSTEM_TREES.find((t) => c.startsWith(t + '/'));
  if (tree) return `"${p}" lies in the Windows folder, which belongs to the system`;
  return null;
}

/**
 * Why the `*` of a per-component item (`…/EdgeDataStore/*\/Certificates`) could stand for a system folder, or null.
 * The rules above judge the path as written, where `*` is a name like any other: `/etc/*` or `/*` passed them, and a
 * backup's list of items (on the stick) then named `cron.d` or `etc` for it, so the restore replaced /etc/cron.d or
 * /etc as root. The folder holding the `*` must not be a system folder itself (each name in one is the system's),
 * and only one component may be `*`. What a `*` is filled with is judged again (resolveItems: the full path).
 */
export function wildcardProblem(p: string, platform: Platform): string | null {
  const parts = p.split(/[\\/]/);
  const stars = parts.filter((s) => s === '*').length;
  if (stars === 0) return null;
  if (stars > 1) return `may hold "*" as one component only (got "${p}")`;
  const at = parts.indexOf('*');
  const parent = parts.slice(0, at).join('/') || '/';
  if (systemFolderProblem(parent, platform) !== null) {
    return `"${p}" has its "*" in the system folder ${parent}, so it could stand for any folder of the system; name the product's own folder before the "*"`;
  }
  return null;
}

function runsAsRootProblem(p: string, tree: string): string {
  return `"${p}" is ${p.length === tree.length ? 'a folder' : `in ${tree}`} where what a restore writes would run with the system's rights (programs, start-up, logins); no product keeps its data there`;
}

function inside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : parent + '/');
}

const SPECIAL_BITS = 0o7000;

function modeProblem(mode: number | undefined): string | null {
  if (mode === undefined) return null;
  if (mode & SPECIAL_BITS) {
    return `must not set setuid, setgid or sticky bits (${mode.toString(8).padStart(4, '0')}); use a plain mode such as "755" or "644"`;
  }
  if (mode & 0o002) {
    return `must not be writable by everyone (${mode.toString(8).padStart(3, '0')}); use e.g. "755", "775" or "644"`;
  }
  return null;
}

/** Names the service managers take as an argument: never an option, never a path trick. */
const SYSTEMD_UNIT = /^[A-Za-z0-9_][A-Za-z0-9:_.@\\-]*$/;
const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@ ()-]*$/;
const ACCOUNT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * systemd units that are not a product's service: other unit types (starting `poweroff.target` powers the machine
 * off, stopping a `.mount` unmounts it), and the system's own services (starting `debug-shell.service` opens a root
 * shell without a password on tty9, for whoever stands at the machine with the stick; `systemd-*`, getty, D-Bus, ssh
 * hold the machine and its logins). A restore starts the profile's service; a backup stops it and starts it again.
 */
const SYSTEMD_OTHER_TYPE = /\.(target|socket|mount|automount|swap|timer|path|slice|scope|device)$/i;
const SYSTEMD_SYSTEM_UNIT =
  /^(debug-shell|emergency|rescue|init|halt|reboot|poweroff|kexec|systemd-.*|(serial-|container-|console-)?getty(@.*)?|autovt@.*|user@.*|user-runtime-dir@.*|dbus(-.*)?|ssh|sshd|polkit)(\.service)?$/i;

type ServiceSpec = Profile['service'];

/** Where runit keeps service folders, one level down: a runit service may be named by its folder there. */
const RUNIT_HOMES = ['/etc/sv', '/etc/service', '/var/service', '/service', '/etc/runit/runsvdir/default'];

/** Every rule broken by a service the profile names (its own, or a product step's), `at` the field's path. */
function serviceIssues(
  s: ServiceSpec,
  at: (string | number)[],
  platform: Platform,
  add: (path: (string | number)[], message: string) => void,
): void {
  if (s.manager === 'systemd' && !SYSTEMD_UNIT.test(s.name)) {
    add([...at, 'name'], `"${s.name}" is not a systemd unit name (letters, digits, ":_.@-", not starting with "-")`);
  } else if (s.manager === 'systemd' && SYSTEMD_OTHER_TYPE.test(s.name)) {
    add([...at, 'name'], `"${s.name}" is not a service unit: name the product's service (e.g. "product.service")`);
  } else if (s.manager === 'systemd' && SYSTEMD_SYSTEM_UNIT.test(s.name)) {
    add(
      [...at, 'name'],
      `"${s.name}" is one of the system's own units (a shell, a login, the system's daemons), not a product's service`,
    );
  }
  if (
    (s.manager === 'windows' || s.manager === 'process' || s.manager === 'none' || s.manager === 'docker') &&
    !PLAIN_NAME.test(s.name)
  ) {
    add([...at, 'name'], `"${s.name}" is not a plain service name (letters, digits, spaces, "_.@()-")`);
  }
  if (s.manager === 'runit' && !PLAIN_NAME.test(s.name)) {
    // A service's own folder where runit keeps them (/etc/sv/<name>: not a folder to restore into, but the one to
    // name here; serviceFolderProblem judges it before sv runs).
    const home = RUNIT_HOMES.some((h) => s.name.startsWith(`${h}/`) && !s.name.slice(h.length + 1).includes('/'));
    const bad = absolutePathProblem(s.name, 'linux') ?? (home ? null : systemFolderProblem(s.name, 'linux'));
    if (bad) add([...at, 'name'], `must be a runit service name or its absolute folder: ${bad}`);
  }
  if (s.manager === 'process') {
    if (!s.command) add([...at, 'command'], 'is required for the "process" manager');
    else if (absolutePathProblem(s.command[0]!, platform) !== null) {
      add([...at, 'command', 0], `must be the program's absolute path (got "${s.command[0]}")`);
    }
    if (s.pidFile === undefined) add([...at, 'pidFile'], 'is required for the "process" manager');
  }
  if (s.pidFile !== undefined) {
    const bad = absolutePathProblem(s.pidFile, platform) ?? systemFolderProblem(s.pidFile, platform);
    if (bad) add([...at, 'pidFile'], bad);
  }
}

/** Every rule broken by `p` (already shaped by the schema), with the field it is about. */
export function profileRuleIssues(p: Profile): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const add = (path: (string | number)[], message: string): void => void issues.push({ path, message });

  // Folders: absolute, clean, not the system's, not inside each other, ids unique.
  const seen = new Map<string, number>();
  const ok: { i: number; c: string }[] = [];
  p.items.forEach((item, i) => {
    const first = seen.get(item.id);
    if (first !== undefined) add(['items', i, 'id'], `the id "${item.id}" is used twice (also items.${first})`);
    else seen.set(item.id, i);
    const bad =
      absolutePathProblem(item.path, p.platform) ??
      systemFolderProblem(item.path, p.platform) ??
      wildcardProblem(item.path, p.platform);
    if (bad) add(['items', i, 'path'], bad);
    else ok.push({ i, c: comparable(item.path, p.platform) });
  });
  for (const a of ok) {
    for (const b of ok) {
      if (a.i >= b.i) continue;
      if (a.c === b.c) add(['items', b.i, 'path'], `is the same folder as items.${a.i}; folders must not overlap`);
      else if (inside(a.c, b.c) || inside(b.c, a.c)) {
        const [outer, inner] = inside(a.c, b.c) ? [a, b] : [b, a];
        add(
          ['items', inner.i, 'path'],
          `lies inside items.${outer.i} (${p.items[outer.i]!.path}); folders must not overlap`,
        );
      }
    }
  }

  // Owners and modes: plain names, no special bits, nothing writable by everyone.
  const o = p.ownership;
  if (o) {
    if (!ACCOUNT_NAME.test(o.user)) add(['ownership', 'user'], `"${o.user}" is not a user name`);
    if (!ACCOUNT_NAME.test(o.group)) add(['ownership', 'group'], `"${o.group}" is not a group name`);
    for (const k of ['dirMode', 'fileMode'] as const) {
      const m = modeProblem(o[k]);
      if (m) add(['ownership', k], m);
    }
    o.exceptions.forEach((e, i) => {
      for (const k of ['dirMode', 'fileMode'] as const) {
        const m = modeProblem(e[k]);
        if (m) add(['ownership', 'exceptions', i, k], m);
      }
      const g = e.glob.replace(/\\/g, '/');
      if (g.startsWith('/') || /^[A-Za-z]:/.test(g) || g.split('/').includes('..')) {
        add(
          ['ownership', 'exceptions', i, 'glob'],
          `must be relative to the folders, starting with an item id (e.g. "${p.items[0]?.id ?? 'Configuration'}/**/*.key"), without ".."`,
        );
      }
    });
  }

  // The service, and any a product step stops or starts: names that cannot be read as options, not the system's own
  // units; a `process` command given by absolute path.
  serviceIssues(p.service, ['service'], p.platform, add);
  p.steps.forEach((step, i) => {
    if (step.kind === 'service') serviceIssues(step.service, ['steps', i, 'service'], p.platform, add);
  });

  // The API receives the secrets the technician types: it must be the product's API on this machine.
  if (p.api) {
    const u = new URL(p.api.baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      add(['api', 'baseUrl'], `must be an http:// or https:// address (got ${u.protocol})`);
    } else if (!isLoopbackHost(u.hostname)) {
      add(
        ['api', 'baseUrl'],
        `must be the product's API on this machine (localhost, 127.0.0.1 or [::1]), not ${u.hostname}: secrets are sent there`,
      );
    } else if (u.username !== '' || u.password !== '') {
      add(['api', 'baseUrl'], 'must not carry a user name or password');
    }
  }

  if (p.version.file) {
    const bad = absolutePathProblem(p.version.file.path, p.platform);
    if (bad) add(['version', 'file', 'path'], bad);
  }
  return issues;
}

/** The rules as a zod refinement, so one parse names every wrong field. */
export function refineProfile(p: Profile, ctx: z.RefinementCtx): void {
  for (const i of profileRuleIssues(p)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
}
