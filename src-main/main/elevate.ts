import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { childEnv } from '../engine/util/child-env.js';
import { HelperClient } from '../host/helper-client.js';
import { HELPER_FLAG, HELPER_PIPE_PREFIX } from '../host/helper-channel.js';

/**
 * Administrator rights without a root GUI: the window stays an ordinary user's process; privileged work runs in a
 * helper started with pkexec (Linux) or UAC (Windows) with a FIXED argument list (nothing of this process's own
 * command line, so no --inspect, --remote-debugging-port or other switch reaches a root process), speaking the
 * same contract over its stdin/stdout (Linux) or a named pipe this process created first (Windows).
 */
export interface HelperLaunch {
  platform: NodeJS.Platform;
  /** The app's binary (Electron), or the AppImage file (its mount is this user's and vanishes with us). */
  exe: string;
  /** Unpackaged (development) Electron needs the app folder as its first argument. */
  appPath?: string;
  /** Windows: the pipe the helper connects back to. */
  pipe?: string;
}

/**
 * A PowerShell single-quoted literal reading back as `s`. PowerShell takes the typographic single quotes (U+2018 to
 * U+201B) for quotes too (about_Quoting_Rules), so each is doubled like ': a user folder such as C:\Users\O’Brien
 * ended the literal, and the rest of the path was read as PowerShell's own code.
 */
const psQuote = (s: string): string => `'${s.replace(/['\u2018-\u201b]/g, '$&$&')}'`;

/** The exact command that starts the helper. Built from fixed parts only. */
export function helperCommand(o: HelperLaunch): { file: string; args: string[] } {
  const app = o.appPath !== undefined ? [o.appPath] : [];
  if (o.platform === 'linux') {
    // The helper opens no window; Chromium refuses to start as root with its sandbox on, so it is off here.
    return { file: 'pkexec', args: [o.exe, ...app, '--no-sandbox', HELPER_FLAG] };
  }
  if (o.platform === 'win32') {
    if (o.pipe === undefined) throw new Error('a pipe name is needed on Windows');
    const list = [...app, HELPER_FLAG, `${HELPER_PIPE_PREFIX}${o.pipe}`].map(psQuote).join(',');
    return {
      file: 'powershell.exe',
      args: [
        '-NoProfile',
        '-NonInteractive',
        '-Command',
        `Start-Process -FilePath ${psQuote(o.exe)} -ArgumentList ${list} -Verb RunAs -WindowStyle Hidden`,
      ],
    };
  }
  throw new Error('Administrator rights are supported on Linux and Windows only.');
}

/**
 * Starts the helper and resolves with its client once it answers, or with why not (prompt dismissed, not
 * authorised). Linux: stdio pipes through pkexec. Windows: a named pipe with a random name, served here first.
 */
export async function startPrivilegedHelper(
  launch: Omit<HelperLaunch, 'pipe'>,
  onEnd: () => void,
): Promise<{ client: HelperClient } | { client: null; message: string }> {
  if (launch.platform === 'win32') return startOverPipe(launch, onEnd);
  const { file, args } = helperCommand(launch);
  // pkexec resets the environment anyway; nothing of ours (tokens, NODE_OPTIONS) is passed to begin with.
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv(), windowsHide: true });
  const client = new HelperClient(child.stdout, child.stdin, onEnd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('error', () => undefined);
  try {
    await client.ready;
    return { client };
  } catch {
    const code = await exited;
    const why =
      code === 126
        ? 'the password prompt was cancelled'
        : code === 127
          ? 'this account may not become root'
          : `exit code ${String(code)}`;
    return { client: null, message: `Administrator rights were not granted (${why}).` };
  }
}

async function startOverPipe(
  launch: Omit<HelperLaunch, 'pipe'>,
  onEnd: () => void,
): Promise<{ client: HelperClient } | { client: null; message: string }> {
  const pipe = `\\\\.\\pipe\\edge-recovery-helper-${randomBytes(16).toString('hex')}`;
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(pipe, () => resolve());
  });
  const connected = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const { file, args } = helperCommand({ ...launch, pipe });
  const ps = spawn(file, args, { stdio: 'ignore', env: childEnv(), windowsHide: true });
  const psExit = new Promise<number | null>((r) => ps.once('exit', (code) => r(code)));
  ps.once('error', () => undefined);
  // Start-Process returns at once when UAC says yes (exit 0) and fails when the prompt is declined.
  const declined = psExit.then(async (code): Promise<net.Socket | null> => (code === 0 ? connected : null));
  const first = await Promise.race([connected, declined]);
  if (first === null) {
    server.close();
    return { client: null, message: 'Administrator rights were not granted (the UAC prompt was declined).' };
  }
  server.close(); // one connection only: nobody else may attach later
  const client = new HelperClient(first, first, onEnd);
  await client.ready;
  return { client };
}
