import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { flags, installWrapper, say } from './common.js';

/**
 * StackState 4.6 on Linux as far as its backup goes: StackGraph (the graph database, its own service) holds the
 * topology; /opt/stackstate/bin/sts-standalone.sh export|import --file <path> --graph default works only while
 * StackGraph runs and stackstate.service is stopped; an import reports its end in var/log/stackstate.log.
 */
const INSTALL = 'opt/stackstate';

const paths = (root: string) => ({
  graph: path.join(root, 'var/lib/stackgraph/graph.json'),
  graphPid: path.join(root, INSTALL, 'var/run/stackgraph.pid'),
  serverPid: path.join(root, INSTALL, 'var/run/stackstate.pid'),
  log: path.join(root, INSTALL, 'var/log/stackstate.log'),
});

async function alivePid(file: string): Promise<boolean> {
  try {
    const pid = Number((await fsp.readFile(file, 'utf8')).trim());
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function logLine(root: string, line: string): Promise<void> {
  const p = paths(root);
  await fsp.mkdir(path.dirname(p.log), { recursive: true });
  await fsp.appendFile(p.log, `${new Date().toISOString()} INFO  [sts-standalone] ${line}\n`);
}

async function preconditions(root: string): Promise<number> {
  const p = paths(root);
  if (!(await alivePid(p.graphPid))) {
    say('ERROR: StackGraph is not running. Start stackgraph.service and try again.');
    return 1;
  }
  if (await alivePid(p.serverPid)) {
    say('ERROR: StackState is running. Stop stackstate.service before an export or import.');
    return 1;
  }
  return 0;
}

async function exportGraph(root: string, f: Map<string, string>): Promise<number> {
  const file = f.get('file');
  if (!file || f.get('graph') !== 'default') {
    say('Usage: sts-standalone.sh export --file <path> --graph default');
    return 2;
  }
  const pre = await preconditions(root);
  if (pre !== 0) return pre;
  say(`Exporting graph 'default' to ${file}`);
  const data = await fsp.readFile(paths(root).graph);
  try {
    const fh = await fsp.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o640);
    await fh.writeFile(data);
    await fh.close();
  } catch (e) {
    say(`ERROR: Cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 1;
  }
  say(`Export of graph 'default' finished: ${data.length} bytes.`);
  return 0;
}

async function importGraph(root: string, f: Map<string, string>): Promise<number> {
  const file = f.get('file');
  if (!file || f.get('graph') !== 'default') {
    say('Usage: sts-standalone.sh import --file <path> --graph default');
    return 2;
  }
  const pre = await preconditions(root);
  if (pre !== 0) return pre;
  try {
    JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    say(`ERROR: ${file} is not a StackGraph export: ${(e as Error).message}`);
    return 1;
  }
  await logLine(root, `Import of ${file} into graph 'default' started`);
  say(`Import of ${file} started; progress in ${paths(root).log}`);
  // The import goes on in the background and reports its end in the log, as StackState does.
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1]!, 'stackstate', 'import-worker', `--root=${root}`, `--file=${file}`],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  child.unref();
  return 0;
}

async function importWorker(root: string, f: Map<string, string>): Promise<number> {
  await new Promise((r) => setTimeout(r, 1500));
  const data = await fsp.readFile(f.get('file')!);
  const n = (JSON.parse(data.toString('utf8')) as { components?: unknown[] }).components?.length ?? 0;
  await logLine(root, `Imported ${n} components`);
  await fsp.mkdir(path.dirname(paths(root).graph), { recursive: true });
  await fsp.writeFile(paths(root).graph, data);
  await logLine(root, `Import of graph 'default' completed successfully`);
  return 0;
}

/** A long-running process that writes its pid file and removes it when stopped. */
async function foreground(pidFile: string, extra?: () => Promise<void>): Promise<number> {
  await fsp.mkdir(path.dirname(pidFile), { recursive: true });
  await fsp.writeFile(pidFile, `${process.pid}\n`);
  if (extra) await extra();
  const stop = (): void => {
    void fsp.rm(pidFile, { force: true }).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setInterval(() => undefined, 1 << 30); // runs until stopped, like a database
  return new Promise<number>(() => undefined);
}

async function server(root: string, f: Map<string, string>): Promise<number> {
  const port = Number(f.get('port'));
  return foreground(paths(root).serverPid, async () => {
    const srv = createServer((req, res) => {
      void (async () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/api/server/info') res.end(JSON.stringify({ version: '4.6.0', deploymentMode: 'Standalone' }));
        else if (req.url === '/api/topology/count') {
          const g = JSON.parse(await fsp.readFile(paths(root).graph, 'utf8').catch(() => '{}')) as {
            components?: unknown[];
          };
          res.end(JSON.stringify({ components: g.components?.length ?? 0 }));
        } else {
          res.statusCode = 404;
          res.end('{}');
        }
      })();
    });
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    await logLine(root, `StackState started, API on port ${port}`);
  });
}

export async function stackstateMain(argv: string[]): Promise<number> {
  // The installed sts-standalone.sh passes --root=<sandbox> first; the product's own arguments follow.
  const rootArg = argv.find((a) => a.startsWith('--root='));
  const [cmd, ...rest] = argv.filter((a) => a !== rootArg);
  const f = flags(rest);
  const root = rootArg?.slice(7) ?? '/';
  switch (cmd) {
    case 'export':
      return exportGraph(root, f);
    case 'import':
      return importGraph(root, f);
    case 'import-worker':
      return importWorker(root, f);
    case 'server':
      return server(root, f);
    case 'stackgraph':
      return foreground(paths(root).graphPid);
    default:
      say(`sts-standalone.sh: unknown command ${cmd ?? ''}. Use export or import.`);
      return 2;
  }
}

/** Installs /opt/stackstate/bin/sts-standalone.sh and a graph with `components` components. */
export async function installStackState(root: string, components: number): Promise<void> {
  await installWrapper(path.join(root, INSTALL, 'bin/sts-standalone.sh'), ['stackstate', `--root=${root}`]);
  // The wrapper passes the root first; the product's own arguments follow ("export --file …").
  const p = paths(root);
  await fsp.mkdir(path.dirname(p.graph), { recursive: true });
  await fsp.mkdir(path.dirname(p.log), { recursive: true });
  await fsp.writeFile(p.log, '');
  const graph = {
    components: Array.from({ length: components }, (_v, i) => ({ id: i + 1, name: `host-${i + 1}`, type: 'host' })),
  };
  await fsp.writeFile(p.graph, JSON.stringify(graph));
}

export async function countComponents(root: string): Promise<number> {
  const g = JSON.parse(await fsp.readFile(paths(root).graph, 'utf8')) as { components: unknown[] };
  return g.components.length;
}

export const stackstateServerArgs = (root: string, port: number): string[] => [
  'stackstate',
  'server',
  `--root=${root}`,
  `--port=${port}`,
];
export const stackgraphArgs = (root: string): string[] => ['stackstate', 'stackgraph', `--root=${root}`];
