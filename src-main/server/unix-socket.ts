import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RecoveryError } from '../engine/errors.js';
import { resolveTrusted } from '../engine/util/linked-folder.js';

/**
 * Unix sockets that only this account can use: the socket is 0600 inside a folder of ours that nobody else may
 * enter (0700), so no one else can connect even in the moment between `listen` and `chmod`. An existing file,
 * link or folder at the path is never removed; a stale socket (no server answers) is.
 */
const euid = (): number => (typeof process.geteuid === 'function' ? process.geteuid() : -1);

function refuse(message: string, hint: string): RecoveryError {
  return new RecoveryError('BAD_INPUT', message, { hint });
}

/** True when a server answers on the socket `p`. */
export function socketAnswers(p: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    const done = (v: boolean): void => {
      c.destroy();
      resolve(v);
    };
    c.setTimeout(timeoutMs, () => done(false));
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

/** Creates (mode 0700) or checks the folder a private socket lives in. */
export async function privateSocketFolder(dir: string): Promise<void> {
  const hint = `Use a folder only ${os.userInfo().username} can enter, e.g. /run/edge-recovery/serve.sock (the folder is created with mode 700).`;
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw refuse(`Cannot create the folder ${dir}: ${(e as Error).message}`, hint);
    }
  }
  const st = await fsp.lstat(dir);
  if (!st.isDirectory()) throw refuse(`${dir} is not a folder (it may be a link).`, hint);
  // The folders above it too, as the kernel resolves the path (resolveTrusted, the check of the state folder and
  // of linked product folders): another account that can rename entries in one of them could move ours away and
  // put a folder and socket of its own in its place, and the SSH tunnel would then lead the technician's browser
  // (and its sign-in link) to that socket. A sticky folder (/tmp) lets nobody but us rename our folder.
  resolveTrusted(dir, (place, why) =>
    refuse(
      `A folder on the way to ${dir} can be changed by uid other than root or this account (${why}): they could put a socket of their own in the place of this one.`,
      hint,
    ),
  );
  if (st.uid !== euid()) throw refuse(`The folder ${dir} belongs to uid ${st.uid}, not to this account.`, hint);
  if ((st.mode & 0o077) !== 0) {
    throw refuse(`The folder ${dir} can be entered by others (mode ${(st.mode & 0o777).toString(8)}).`, hint);
  }
}

/** Makes `p` free for a new socket: absent, or a stale socket that is removed. Anything else is refused. */
async function clearSocketPath(p: string): Promise<void> {
  let st;
  try {
    st = await fsp.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) {
    throw refuse(
      `${p} exists and is not a socket (${st.isSymbolicLink() ? 'a link' : st.isDirectory() ? 'a folder' : 'a file'}); it is left alone.`,
      'Choose another path, or remove that file yourself if it is yours.',
    );
  }
  if (await socketAnswers(p)) {
    throw refuse(`Another server already answers on ${p}.`, 'Stop it first, or choose another path.');
  }
  await fsp.unlink(p);
}

/** Listens on the Unix socket `p` (0600, in a 0700 folder); returns a function that removes the socket file. */
export async function listenPrivateSocket(server: net.Server, p: string): Promise<() => Promise<void>> {
  if (process.platform === 'win32') {
    throw refuse('--socket needs a Unix socket; Windows is not supported.', 'Use --port instead.');
  }
  const abs = path.resolve(p);
  if (Buffer.byteLength(abs) > 100) throw refuse(`The socket path ${abs} is too long (100 bytes at most).`, '');
  await privateSocketFolder(path.dirname(abs));
  await clearSocketPath(abs);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(abs, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fsp.chmod(abs, 0o600);
  const { ino } = await fsp.lstat(abs);
  return async () => {
    // Only our own socket: a later server may already have replaced a stale one.
    const now = await fsp.lstat(abs).catch(() => null);
    if (now?.isSocket() && now.ino === ino) await fsp.unlink(abs).catch(() => undefined);
  };
}
