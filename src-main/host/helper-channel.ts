import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Envelope, JobEventEnvelope } from '../shared/contract.js';
import { createHandlers, type HandlerContext } from './handlers.js';

/**
 * The privileged helper's channel: the same contract as the window's IPC, as JSON lines over the helper's
 * stdin/stdout (pipes only its parent holds; pkexec passes them through), or a named pipe the unprivileged main
 * created first (Windows). Main → helper: `{id, name, input}`. Helper → main: `{id, envelope}`, `{jobEvent}`,
 * `{busy}`, and `{ready}` once it serves. Requests are validated by the handler table as on every transport.
 */
export const HELPER_FLAG = '--privileged-helper';
export const HELPER_PIPE_PREFIX = '--pipe=';
const MAX_LINE = 4 * 1024 * 1024;

export type HelperMessage =
  | { ready: { pid: number; elevated: boolean } }
  | { id: number; envelope: Envelope<unknown> }
  | { jobEvent: JobEventEnvelope }
  | { busy: boolean };

/** Serves the handler table on `input`/`output` until `input` ends; then cancels jobs and returns. */
export async function serveHelper(input: Readable, output: Writable, ctx: HandlerContext): Promise<void> {
  const host = createHandlers(ctx);
  const send = (m: HelperMessage): void => {
    output.write(JSON.stringify(m) + '\n');
  };
  const unsubscribe = host.jobs.subscribe((e) => send({ jobEvent: e }));
  const unbusy = host.jobs.onBusyChange((busy) => send({ busy }));
  const { isElevated } = await import('./privileges.js');
  send({ ready: { pid: process.pid, elevated: await isElevated() } });
  const pending = new Set<Promise<void>>();
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    if (line.length > MAX_LINE) break; // not our main: stop serving
    let msg: { id?: unknown; name?: unknown; input?: unknown };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      break;
    }
    if (typeof msg.id !== 'number' || typeof msg.name !== 'string') break;
    const id = msg.id;
    const p = host.dispatch(msg.name, msg.input).then((envelope) => send({ id, envelope }));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await Promise.allSettled([...pending]);
  unsubscribe();
  unbusy();
  await host.dispose();
}

/**
 * Why this process may not serve as the helper, or null: exactly the fixed arguments, no Node options (an
 * inspector or a preloaded module in a root process would be a way in), and none in the environment.
 */
export function helperStartProblem(
  args: readonly string[],
  allowed: readonly string[],
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  const extra = args.filter((a) => !allowed.includes(a) && !a.startsWith(HELPER_PIPE_PREFIX));
  if (extra.length > 0) return `unexpected arguments: ${extra.join(' ').slice(0, 200)}`;
  if (!args.includes(HELPER_FLAG)) return `missing ${HELPER_FLAG}`;
  if (execArgv.length > 0) return `unexpected Node options: ${execArgv.join(' ').slice(0, 200)}`;
  for (const k of ['NODE_OPTIONS', 'ELECTRON_RUN_AS_NODE', 'NODE_PATH']) {
    if (env[k] !== undefined && env[k] !== '') return `${k} is set in the environment`;
  }
  return null;
}
