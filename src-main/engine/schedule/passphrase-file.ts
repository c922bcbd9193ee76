import { constants, promises as fsp } from 'node:fs';
import { RecoveryError } from '../errors.js';
import { fileKind } from '../util/given-path.js';

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
  let fh: fsp.FileHandle;
  try {
    // O_NOFOLLOW: a link is refused by the kernel (ELOOP), not checked and then raced.
    // O_NONBLOCK: a FIFO in its place does not hold the open (the fstat below refuses it).
    fh = await fsp.open(
      file,
      constants.O_RDONLY | (platform === 'win32' ? 0 : constants.O_NOFOLLOW | constants.O_NONBLOCK),
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      throw new RecoveryError('BAD_INPUT', `The passphrase file ${file} is a symbolic link; it is not followed.`, {
        hint: 'Point --passphrase-file at the real file (root-only, mode 600).',
      });
    }
    throw new RecoveryError('BAD_INPUT', `Cannot read the passphrase file ${file}: ${(e as Error).message}`, {
      hint: 'Create it as root: umask 077; printf %s "<passphrase>" > <file>.',
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new RecoveryError(
        'BAD_INPUT',
        `The passphrase file ${file} is not a regular file: it is ${fileKind(st)}.`,
        {
          hint: 'Point --passphrase-file at an ordinary root-only file (mode 600), not a pipe or a device.',
        },
      );
    }
    if (st.size > PASSPHRASE_FILE_MAX) {
      throw new RecoveryError('BAD_INPUT', `The passphrase file ${file} is ${st.size} bytes: not a passphrase.`, {
        hint: 'The file holds the passphrase only, on one line.',
      });
    }
    if (platform !== 'win32') {
      const owner = opts.requireOwner ?? 0;
      if (st.uid !== owner) {
        throw new RecoveryError('BAD_INPUT', `The passphrase file ${file} is not owned by root (uid ${st.uid}).`, {
          hint: `Only root may own it: ${fix}`,
        });
      }
      if ((st.mode & 0o077) !== 0) {
        throw new RecoveryError(
          'BAD_INPUT',
          `The passphrase file ${file} can be read or changed by other users (mode ${(st.mode & 0o777).toString(8)}).`,
          { hint: `Make it root-only: ${fix}. Consider the passphrase seen and change it if others could log in.` },
        );
      }
    }
    // At most its size and one byte: a file that grows while it is read is refused, never read without end.
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
    if (n > st.size) throw new RecoveryError('BAD_INPUT', `The passphrase file ${file} changed while it was read.`);
    const text = buf.toString('utf8', 0, n).replace(/\r?\n$/, '');
    if (text.length === 0) throw new RecoveryError('BAD_INPUT', `The passphrase file ${file} is empty.`);
    if (text.length < 8) {
      throw new RecoveryError('BAD_INPUT', `The passphrase in ${file} is shorter than 8 characters.`);
    }
    return text;
  } finally {
    await fh.close();
  }
}
