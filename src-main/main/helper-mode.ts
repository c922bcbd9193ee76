import { app } from 'electron';
import net from 'node:net';
import { defaultStateDir } from '../engine/restore/journal.js';
import { HELPER_FLAG, HELPER_PIPE_PREFIX, helperStartProblem, serveHelper } from '../host/helper-channel.js';
import { setupReportPdf } from './pdf-window.js';
import { applianceCommand } from './practice-appliance-mode.js';

/** This binary started as the privileged helper (by pkexec/UAC, see elevate.ts)? */
export function isHelperMode(argv = process.argv): boolean {
  return argv.includes(HELPER_FLAG);
}

/**
 * The helper inside Electron's binary: no window, the handler table served to the unprivileged main over stdio
 * (Linux) or the named pipe it created (Windows). Refuses any argument beyond the fixed list.
 */
export async function runHelperMode(): Promise<void> {
  app.on('window-all-closed', () => undefined);
  const allowed = [HELPER_FLAG, '--no-sandbox', ...(app.isPackaged ? [] : [app.getAppPath()])];
  const problem = helperStartProblem(process.argv.slice(1), allowed);
  if (problem !== null) {
    process.stderr.write(`edge-recovery helper: refused to start: ${problem}\n`);
    app.exit(2);
    return;
  }
  // The helper writes the reports of the jobs it runs: their PDF comes from a hidden window of this same binary.
  await app.whenReady();
  setupReportPdf();
  const ctx = { shell: 'electron' as const, stateDir: defaultStateDir(), practiceApplianceCommand: applianceCommand() };
  const pipeArg = process.argv.find((a) => a.startsWith(HELPER_PIPE_PREFIX));
  if (pipeArg !== undefined) {
    const sock = net.connect(pipeArg.slice(HELPER_PIPE_PREFIX.length));
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    await serveHelper(sock, sock, ctx);
  } else {
    await serveHelper(process.stdin, process.stdout, ctx);
  }
  app.exit(0);
}
