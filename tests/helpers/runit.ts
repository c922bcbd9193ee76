import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Why runit tests cannot run here, or undefined when sv and runsvdir are installed. */
export function runitMissing(): string | undefined {
  const need = ['/usr/bin/sv', '/usr/bin/runsvdir', '/usr/bin/runsv'];
  const missing = need.filter((p) => !existsSync(p));
  return missing.length ? `runit is not installed (${missing.join(', ')}): apt-get install runit` : undefined;
}

/** Skip with a reason on a developer machine; fail in CI, where the package must be present. */
export function requireRunit(): { skip: boolean; reason: string } {
  const why = runitMissing();
  if (why && process.env.CI) throw new Error(`CI needs runit: ${why}`);
  return { skip: why !== undefined, reason: why ?? '' };
}

/** Pids of every descendant of `root`, from /proc/<pid>/stat (synchronous, so it also works in an exit handler). */
export function descendantsOf(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may contain spaces and parentheses, so split after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, pp] of parent) {
      if (pp === p && !out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Alive and not a zombie (an exited child of init is never reaped in this container). */
export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const live = new Set<RunitTree>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test run dies before its cleanup: no runsvdir, runsv or service is left behind.
  process.on('exit', () => {
    for (const t of live) t.killNow();
  });
}

export interface RunitTree {
  /** The folder runsvdir watches. */
  dir: string;
  pid: number;
  /** Service folders, in the order they were created. */
  services: string[];
  /** Creates <dir>/<name>/run and waits until runsv supervises it; returns the service folder. */
  addService(name: string, runScript: string, opts?: { down?: boolean }): Promise<string>;
  /** Stops every service (sv -w 5 stop, then sv kill), makes runsv exit, kills runsvdir. Idempotent. */
  stop(): Promise<void>;
  /** Synchronous SIGKILL of runsvdir and everything below it. */
  killNow(): void;
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function writeService(dir: string, name: string, runScript: string, down: boolean): Promise<string> {
  const tmp = path.join(dir, `.${name}.tmp`);
  const final = path.join(dir, name);
  await fsp.mkdir(tmp, { recursive: true });
  if (down) await fsp.writeFile(path.join(tmp, 'down'), '');
  await fsp.writeFile(path.join(tmp, 'run'), runScript, { mode: 0o755 });
  // Appear complete in one rename, so runsvdir never sees a folder without its run script.
  await fsp.rename(tmp, final);
  return final;
}

async function waitSupervised(final: string): Promise<void> {
  await waitUntil(() => existsSync(path.join(final, 'supervise', 'ok')), 15_000, `runsv to supervise ${final}`);
  await waitUntil(
    async () => {
      try {
        await execFileP('sv', ['status', final]);
        return true;
      } catch {
        return false;
      }
    },
    5_000,
    `sv status ${final}`,
  );
}

/**
 * Starts a private `runsvdir -P <dir>` (the real runit, not the system's /etc/service tree).
 * Services given here exist before runsvdir's first scan, so they start at once; services added
 * later wait for its next scan (every 5 s).
 */
export async function startRunsvdir(dir: string, initial: Record<string, string> = {}): Promise<RunitTree> {
  await fsp.mkdir(dir, { recursive: true });
  const services: string[] = [];
  for (const [name, script] of Object.entries(initial)) services.push(await writeService(dir, name, script, false));
  const child: ChildProcess = spawn('runsvdir', ['-P', dir], { stdio: 'ignore', detached: true });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.unref();
  const pid = child.pid!;
  let stopped = false;

  const tree: RunitTree = {
    dir,
    pid,
    services,
    async addService(name, runScript, opts = {}) {
      const final = await writeService(dir, name, runScript, opts.down ?? false);
      services.push(final);
      await waitSupervised(final);
      return final;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        services.map(async (svc) => {
          const down = await execFileP('sv', ['-w', '5', 'stop', svc]).then(
            () => true,
            () => false,
          );
          // A service that ignored SIGTERM: force it.
          if (!down) await execFileP('sv', ['-w', '2', 'kill', svc]).catch(() => undefined);
          await execFileP('sv', ['exit', svc]).catch(() => undefined);
        }),
      );
      // runsv outlives runsvdir (it is reparented to init), so remember every pid before letting go.
      const all = [pid, ...descendantsOf(pid)];
      // SIGHUP makes runsvdir TERM its runsv children before it exits; then sweep anything left.
      killQuietly(pid, 'SIGHUP');
      await waitUntil(() => all.every((p) => !isLive(p)), 5_000, 'runsvdir and runsv to exit').catch(() => undefined);
      for (const p of all) if (isLive(p)) killQuietly(p, 'SIGKILL');
      await waitUntil(() => all.every((p) => !isLive(p)), 5_000, 'killed runit processes to go').catch(() => undefined);
      live.delete(tree);
    },
    killNow() {
      const all = descendantsOf(pid);
      killQuietly(pid, 'SIGKILL');
      for (const p of all) killQuietly(p, 'SIGKILL');
    },
  };
  live.add(tree);
  installExitHook();
  try {
    for (const svc of services) await waitSupervised(svc);
  } catch (e) {
    await tree.stop();
    throw e;
  }
  return tree;
}
