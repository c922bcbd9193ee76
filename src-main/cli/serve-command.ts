import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecoveryError } from '../engine/errors.js';
import { defaultStateDir } from '../engine/restore/journal.js';
import { requestNewLink, type NewLink } from '../server/control.js';
import { startServer } from '../server/serve.js';

export interface ServeCommandOptions {
  practice?: boolean;
  port?: number;
  socket?: string;
  newLink?: boolean;
  stateDir?: string;
}

function openLine(link: NewLink): string {
  if (link.url !== null) return `  ${link.url}\n`;
  return (
    `  http://localhost:8080${link.path}\n\n` +
    `(8080 is the local port of your tunnel: ssh -L 8080:${link.listening} <user>@<this machine>)\n`
  );
}

/** `edge-recovery serve`: prints the one-time URL and serves until interrupted; `--new-link` asks a running one. */
export async function serveCommand(o: ServeCommandOptions): Promise<void> {
  const stateDir = o.stateDir ? path.resolve(o.stateDir) : defaultStateDir();
  if (o.newLink) {
    if (o.practice || o.port !== undefined || o.socket !== undefined) {
      throw new RecoveryError('BAD_INPUT', '--new-link asks the running serve; it takes only --state-dir.');
    }
    const link = await requestNewLink(stateDir);
    process.stdout.write(
      `A new one-time sign-in link for the running wizard (${link.listening}):\n\n${openLine(link)}\n` +
        'It works once; links printed before stop working.\n',
    );
    return;
  }
  if (o.port !== undefined && o.socket !== undefined) {
    throw new RecoveryError('BAD_INPUT', 'Use either --port or --socket, not both.');
  }
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) {
    throw new RecoveryError('BAD_INPUT', `--port takes a port number from 1 to 65535, not "${String(o.port)}".`);
  }
  // dist/cli.js → dist/renderer; from sources, the build's output in the repo.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const rendererDir = here.endsWith(`${path.sep}dist`)
    ? path.join(here, 'renderer')
    : path.resolve(here, '../../dist/renderer');
  const server = await startServer({
    practice: o.practice === true,
    stateDir,
    rendererDir,
    control: true,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.socket !== undefined ? { socket: o.socket } : {}),
  });
  const where =
    o.socket !== undefined
      ? `on the Unix socket ${server.listening} (only this account can connect).\n` +
        `From your computer: ssh -N -L 8080:${server.listening} <user>@<this machine>, then open:\n\n`
      : `on this machine only.\nOpen this address in a browser here, or through an SSH tunnel (ssh -N -L <port>:127.0.0.1:<port> …):\n\n`;
  const link = {
    path: `/?token=${server.token}`,
    url: o.socket !== undefined ? null : server.url,
    listening: server.listening,
  };
  process.stdout.write(
    `Edge Recovery Wizard${o.practice ? ' (practice mode)' : ''} is served ${where}${openLine(link)}\n` +
      'The address works once: it signs in one browser tab. Press Ctrl+C to stop.\n' +
      (server.controlProblem === null
        ? `Closed the tab? Run "edge-recovery serve --new-link${o.stateDir ? ` --state-dir ${stateDir}` : ''}" for a new link.\n`
        : `Note: "serve --new-link" will not work: ${server.controlProblem}\n`),
  );
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
