import path from 'node:path';
import { newPassphraseProblem } from '../../shared/passphrase.js';
import { RecoveryError } from '../errors.js';
import { SafeDir } from '../util/atomic-fs.js';
import { fileKind, readGivenFile } from '../util/given-path.js';
import { resolveTrusted } from '../util/linked-folder.js';
import { shellWord } from '../backup/restore-txt.js';
import { OWN_FILESYSTEMS_ENV, otherFilesystemProblem } from '../util/own-filesystem.js';

const PASSPHRASE_FILE_MAX = 64 * 1024;

/**
 * The passphrase of unattended encrypted backups, from a root-only file. We chose a file over the OS keyring:
 * a scheduled run starts as root (systemd, cron) or SYSTEM (Task Scheduler) with no login session, where
 * Secret Service / the Windows Credential Manager of a technician is not reachable; a root-only file is what
 * the products' own backup scripts use too. The file is refused when it is a link, not a regular file, not
 * owned by root, or readable or writable by anybody else (any group/other bit), so a copy that leaked
 * permissions is noticed. The folders on the way count as much as the file: an account that may change any of
 * them (one of its own, one writable by group or others, a link it made) could put its own folder or file by that
 * name, and root would encrypt with a passphrase that account chose, or read a file it was never meant to. So the
 * whole way is judged first (resolveTrusted: every folder root's and not writable by group/others, every link
 * root's), the file's folder is held open and judged again on its descriptor, and the file is opened and read
 * through that descriptor (UNSAFE_PATH, exit 4, naming the folder to fix; nothing read or changed).
 * Windows: ACLs are not checked (keep it under %ProgramData%\EdgeRecovery).
 */
export async function readPassphraseFile(
  file: string,
  opts: { platform?: NodeJS.Platform; requireOwner?: number } = {},
): Promise<string> {
  const platform = opts.platform ?? process.platform;
  const fix = `chown root:root '${file}' && chmod 600 '${file}'`;
  const folder = platform === 'win32' ? null : await holdFolderOf(file, opts.requireOwner ?? 0);
  try {
    return await readHeld(file, folder === null ? file : folder.at(path.basename(file)), platform, fix, opts);
  } finally {
    await folder?.close();
  }
}

async function readHeld(
  file: string,
  opened: string,
  platform: NodeJS.Platform,
  fix: string,
  opts: { requireOwner?: number },
): Promise<string> {
  // readGivenFile: only a regular file is opened (never a FIFO or a device, even one swapped in meanwhile); a link
  // is refused by the kernel (ELOOP), not checked and then raced; owner and mode are judged on what was opened.
  const buf = await readGivenFile(opened, {
    what: 'the passphrase file',
    max: PASSPHRASE_FILE_MAX,
    noFollow: platform !== 'win32',
    openError: (e) =>
      e.code === 'ELOOP'
        ? new RecoveryError('BAD_INPUT', `The passphrase file ${file} is a symbolic link; it is not followed.`, {
            hint: 'Point --passphrase-file at the real file (root-only, mode 600).',
          })
        : new RecoveryError('BAD_INPUT', `Cannot read the passphrase file ${file}: ${whyNot(e)}.`, {
            hint: 'Create it as root: umask 077; printf %s "<passphrase>" > <file>.',
          }),
    check: (st) => {
      if (!st.isFile()) {
        return new RecoveryError(
          'BAD_INPUT',
          `The passphrase file ${file} is not a regular file: it is ${fileKind(st)}.`,
          { hint: 'Point --passphrase-file at an ordinary root-only file (mode 600), not a pipe or a device.' },
        );
      }
      if (st.size > PASSPHRASE_FILE_MAX) {
        return new RecoveryError('BAD_INPUT', `The passphrase file ${file} is ${st.size} bytes: not a passphrase.`, {
          hint: 'The file holds the passphrase only, on one line.',
        });
      }
      if (platform === 'win32') return undefined;
      const owner = opts.requireOwner ?? 0;
      if (st.uid !== owner) {
        return new RecoveryError('BAD_INPUT', `The passphrase file ${file} is not owned by root (uid ${st.uid}).`, {
          hint: `Only root may own it: ${fix}`,
        });
      }
      if ((st.mode & 0o077) !== 0) {
        return new RecoveryError(
          'BAD_INPUT',
          `The passphrase file ${file} can be read or changed by other users (mode ${(st.mode & 0o777).toString(8)}).`,
          { hint: `Make it root-only: ${fix}. Consider the passphrase seen and change it if others could log in.` },
        );
      }
      return undefined;
    },
  });
  const text = buf.toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new RecoveryError('BAD_INPUT', `The passphrase file ${file} is empty.`);
  // The rule of every new backup's passphrase (the CLI's --passphrase-file says it in the same words).
  const weak = newPassphraseProblem(text);
  if (weak !== null) {
    throw new RecoveryError('BAD_INPUT', `The passphrase in ${file} is too short to protect the backup.`, {
      hint: `${weak} Nothing was installed or backed up.`,
    });
  }
  return text;
}

const whyNot = (e: NodeJS.ErrnoException): string =>
  e.code === 'ENOENT' ? 'there is no such file' : e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message);

/**
 * The folder of `file`, held open, once it and every folder and link on the way to it were found to be root's
 * (`owner`'s) and not writable by group or others; the descriptor is judged again (the same folder, still root-only).
 */
async function holdFolderOf(file: string, owner: number): Promise<SafeDir> {
  const fail = (place: string, why: string, hint?: string): RecoveryError =>
    new RecoveryError(
      'UNSAFE_PATH',
      `The passphrase file ${file} is not safe to read: ${why}. Another account could put a file of its own in its place, and the backups would be encrypted with a passphrase it chose. Nothing was read or changed.`,
      {
        hint:
          hint ??
          `Keep the file in a folder only root can change, with every folder above it root's and not writable by group or others (e.g. mkdir -m 700 /etc/edge-recovery): fix ${place} (chown root:root, chmod go-w) or move the file, then give its new place.`,
        details: { file, place },
      },
    );
  const dir = path.dirname(path.resolve(file));
  const { place, st } = resolveTrusted(dir, fail);
  if (st === null) {
    throw new RecoveryError('BAD_INPUT', `Cannot read the passphrase file ${file}: there is no folder ${place}.`, {
      hint: 'Create it as root: umask 077; printf %s "<passphrase>" > <file>.',
    });
  }
  const judge = (s: typeof st, where: string): void => {
    if (!s.isDirectory()) throw fail(where, `${where} is not a folder`);
    if (s.uid !== owner) throw fail(where, `the folder ${where} belongs to uid ${s.uid}`);
    if ((s.mode & 0o022) !== 0) {
      throw fail(where, `the folder ${where} is writable by others (mode ${(s.mode & 0o7777).toString(8)})`);
    }
  };
  judge(st, place);
  // A stick's folders are root's and 700 wherever it was written: its owners say nothing here (one rule for profiles,
  // the schedule's program, the state folder and this file: util/own-filesystem.ts).
  const foreign = otherFilesystemProblem(place, st.dev);
  if (foreign !== null) {
    // No owner or mode fixes a stick (they say nothing there): the file has to move onto this machine's own disk.
    const copy = `/etc/edge-recovery/${path.basename(file)}`;
    throw fail(
      place,
      foreign,
      `Copy it onto this machine's own disk, root-only: install -D -o root -g root -m 600 ${shellWord(path.resolve(file), true)} ${shellWord(copy, true)}, and give that file: --passphrase-file ${shellWord(copy, true)} (a data disk built into the machine counts when named in ${OWN_FILESYSTEMS_ENV}).`,
    );
  }
  const d = await SafeDir.open(place);
  try {
    const now = await d.fh.stat();
    if (now.dev !== st.dev || now.ino !== st.ino) throw fail(place, `${place} changed while it was checked`);
    judge(now, place);
    return d;
  } catch (e) {
    await d.close();
    throw e;
  }
}
