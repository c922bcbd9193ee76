import { spawn } from 'node:child_process';

/** Argument the elevated copy receives: it ends this (unelevated) process once its window is up. */
export const REPLACE_PID_ARG = '--replace-pid=';

/** The program and arguments that start this app again, the way it was started now. */
function selfCommand(): { exe: string; args: string[] } {
  // An AppImage runs from a mount that disappears with this process: relaunch the image file itself.
  const exe = process.env.APPIMAGE ?? process.execPath;
  const args = process.argv.slice(1).filter((a) => !a.startsWith(REPLACE_PID_ARG));
  return { exe, args: [...args, `${REPLACE_PID_ARG}${process.pid}`] };
}

/** PowerShell single-quoted literal. */
const psQuote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Starts this app again with root (pkexec) or Administrator (UAC) rights. Resolves when the elevated copy
 * could not start (prompt cancelled: `started: false`); on success the copy ends this process itself.
 */
export function relaunchElevated(): Promise<{ started: boolean; message: string }> {
  const { exe, args } = selfCommand();
  let file: string;
  let argv: string[];
  if (process.platform === 'linux') {
    // pkexec clears the environment; the display variables let the root copy open its window here.
    const keep = ['DISPLAY', 'XAUTHORITY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR']
      .filter((k) => process.env[k])
      .map((k) => `${k}=${process.env[k]}`);
    // Chromium refuses to run as root with its sandbox on; the renderer stays context-isolated.
    file = 'pkexec';
    argv = ['env', ...keep, exe, ...(args.includes('--no-sandbox') ? [] : ['--no-sandbox']), ...args];
  } else if (process.platform === 'win32') {
    const list = args.map((a) => psQuote(a)).join(',');
    file = 'powershell.exe';
    argv = [
      '-NoProfile',
      '-NonInteractive',
      '-Command',
      `Start-Process -FilePath ${psQuote(exe)} ${list ? `-ArgumentList ${list} ` : ''}-Verb RunAs`,
    ];
  } else {
    return Promise.resolve({
      started: false,
      message: 'Relaunching with administrator rights is supported on Linux and Windows only.',
    });
  }
  return new Promise((resolve) => {
    const child = spawn(file, argv, { detached: true, stdio: 'ignore', windowsHide: true });
    child.once('error', (e) =>
      resolve({ started: false, message: `Could not ask for administrator rights: ${e.message}` }),
    );
    child.once('exit', (code) => {
      if (process.platform === 'win32' && code === 0) {
        resolve({ started: true, message: 'The wizard is starting again as Administrator.' });
        return;
      }
      // pkexec: 126 = the password prompt was dismissed, 127 = not authorised. Success never returns here:
      // the root copy ends this process once its window is shown.
      const why =
        code === 126
          ? 'the password prompt was cancelled'
          : code === 127
            ? 'this account may not become root'
            : `exit code ${String(code)}`;
      resolve({ started: false, message: `The wizard was not relaunched with administrator rights (${why}).` });
    });
    child.unref();
  });
}

/** In the elevated copy: ends the unelevated one that launched it, once this window is up. */
export function replaceParentIfAsked(): void {
  const arg = process.argv.find((a) => a.startsWith(REPLACE_PID_ARG));
  const pid = arg ? Number(arg.slice(REPLACE_PID_ARG.length)) : NaN;
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}
