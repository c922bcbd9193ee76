import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../server/serve.js';
import { defaultStateDir } from '../engine/restore/journal.js';

/** `edge-recovery serve`: prints the one-time URL and serves until interrupted. */
export async function serveCommand(o: { practice?: boolean; port?: number; stateDir?: string }): Promise<void> {
  // dist/cli.js → dist/renderer; from sources, the build's output in the repo.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const rendererDir = here.endsWith(`${path.sep}dist`)
    ? path.join(here, 'renderer')
    : path.resolve(here, '../../dist/renderer');
  const server = await startServer({
    practice: o.practice === true,
    stateDir: o.stateDir ? path.resolve(o.stateDir) : defaultStateDir(),
    rendererDir,
    ...(o.port !== undefined ? { port: o.port } : {}),
  });
  process.stdout.write(
    `Edge Recovery Wizard${o.practice ? ' (practice mode)' : ''} is served on this machine only.\n` +
      `Open this address in a browser here, or through an SSH tunnel (ssh -L <port>:127.0.0.1:<port> …):\n\n  ${server.url}\n\n` +
      'The address works once: it signs in this browser. Press Ctrl+C to stop.\n',
  );
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
