import { RecoveryError } from '../errors.js';
import { fileKind, readGivenFile } from '../util/given-path.js';

const PASSPHRASE_FILE_MAX = 64 * 1024;

/**
 * The passphrase of unattended encrypted backups, from a root-only file. We chose a file over the OS keyring:
 * a scheduled run starts as root (systemd, cron) or SYSTEM (Task Scheduler) with no login session, where
 * Secret Service / the Windows Credential Manager of a technician is not reachable; a root-only file is what
 * the products' own backup scripts use too. The file is refused when it is a link, not a regular file, not
 * owned by root, or readable or writable by anybody else (any group/other bit), so a copy that leaked
 * permissions is noticed. Windows: ACLs are not checked (keep it under %ProgramData%\EdgeRecovery).
 */
export async function readPassphraseFile(
  file: string,
  opts: { platform?: NodeJS.Platform; requireOwner?: number } = {},
): Promise<string> {
  const platform = opts.platform ?? process.platform;
  const fix = `chown root:root '${file}' && chmod 600 '${file}'`;
  // readGivenFile: only a regular file is opened (never a FIFO or a device, even one swapped in meanwhile); a link
  // is refused by the kernel (ELOOP), not checked and then raced; owner and mode are judged on what was opened.
  const buf = await readGivenFile(file, {
    what: 'the passphrase file',
    max: PASSPHRASE_FILE_MAX,
    noFollow: platform !== 'win32',
    openError: (e) =>
      e.code === 'ELOOP'
        ? new RecoveryError('BAD_INPUT', `The passphrase file ${file} is a symbolic link; it is not followed.`, {
            hint: 'Point --passphrase-file at the real file (root-only, mode 600).',
          })
        : new RecoveryError('BAD_INPUT', `Cannot read the passphrase file ${file}: ${e.message}`, {
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
  if (text.length < 8) {
    throw new RecoveryError('BAD_INPUT', `The passphrase in ${file} is shorter than 8 characters.`);
  }
  return text;
}
