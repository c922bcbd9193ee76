import { existsSync, promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { freePorts, portHeldByOther } from './free-port.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RecoveryError } from '../engine/errors.js';
import type { Profile } from '../engine/profiles/schema.js';
import { serviceFor } from '../engine/service/index.js';
import { logFileFor } from '../engine/service/process-service.js';
import { practiceLockScope } from '../engine/util/job-lock.js';
import type { PracticeView } from '../shared/contract.js';
import { EDS_DIR } from './appliance-config.js';
import { practiceProfile, practiceProfileInput } from './practice-profile.js';

/**
 * A whole rehearsal on one computer: a folder standing in for the USB stick and two practice appliances,
 * "old" (has data, is backed up) and "replacement" (fresh install, is restored onto). Each runs as a real
 * process with its own folders, port and machine key, so the credential re-entry after a move is real too.
 * Everything is owned by the current user: practice needs no root.
 */
export interface PracticeMachine {
  label: string;
  root: string;
  keyFile: string;
  port: number;
  /** Where the appliance's process is recorded (its log beside it). */
  pidFile: string;
  profileRef: string;
  profile: Profile;
}

export interface PracticeSandbox {
  dir: string;
  stickDir: string;
  /** Restore journals and reports of practice runs, apart from real ones. */
  stateDir: string;
  old: PracticeMachine;
  replacement: PracticeMachine;
  view(): PracticeView;
  dispose(): Promise<void>;
}

export interface PracticeSandboxOptions {
  /** Parent of the sandbox folder; the system temp folder by default. */
  baseDir?: string;
  /**
   * The command that runs the appliance, before its `--root/--port/--key-file` arguments. By default plain
   * Node runs the sources (through tsx) or the bundle `practice-appliance.js` beside this file. Electron,
   * whose binary is not Node, passes its own command (see main/practice-appliance-entry.ts).
   */
  applianceCommand?: string[];
}

function defaultApplianceCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    // From sources (tests, `tsx`): load tsx by absolute URL so the child's working folder does not matter.
    const tsx = pathToFileURL(
      path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs'),
    );
    return [process.execPath, '--import', tsx.href, path.join(path.dirname(here), 'appliance.ts')];
  }
  const bundled = path.join(path.dirname(here), 'practice-appliance.js');
  if (!existsSync(bundled)) {
    throw new RecoveryError('INTERNAL', `The practice appliance program is missing (${bundled}).`, {
      hint: 'Build the app first: npm run build.',
    });
  }
  return [process.execPath, bundled];
}

/** "Some data" on the old machine, so a restore visibly brings something the fresh install lacks. */
async function seedOldMachine(root: string): Promise<void> {
  const conf = path.join(root, EDS_DIR, 'Configuration');
  const streams = path.join(root, EDS_DIR, 'Storage', 'streams');
  await fsp.mkdir(conf, { recursive: true });
  await fsp.mkdir(streams, { recursive: true });
  await fsp.writeFile(
    path.join(conf, 'System_Logging.json'),
    `${JSON.stringify({ LogLevel: 'Warning', LogFileSizeLimitBytes: 34636833, LogFileCountLimit: 31 }, null, 2)}\n`,
  );
  for (let i = 1; i <= 3; i++) {
    const lines: string[] = [];
    for (let j = 0; j < 2000; j++) {
      const t = new Date(Date.UTC(2026, 0, i, 0, 0, j)).toISOString();
      lines.push(JSON.stringify({ Timestamp: t, Stream: 'Pump01.Pressure', Value: 3 + ((i * 7 + j) % 100) / 100 }));
    }
    await fsp.writeFile(path.join(streams, `segment-${String(i).padStart(6, '0')}.dat`), `${lines.join('\n')}\n`);
  }
}

/**
 * Waits until the appliance this sandbox started answers on its port. An answer counts only from that process: the
 * port was free when chosen, but another program (another sandbox's appliance) may bind it first; ours then ends
 * at once (EADDRINUSE) and the other one answered in its place, its pid file naming a process already gone.
 */
async function waitForApi(m: PracticeMachine, timeoutMs: number): Promise<void> {
  const svc = serviceFor(m.profile.service);
  const refused = (why: string): RecoveryError =>
    new RecoveryError('APPLIANCE_UNREACHABLE', `The practice appliance on port ${m.port} ${why}.`, {
      hint: `Its log: ${logFileFor(m.pidFile)}. Start the practice again.`,
    });
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const s = await svc.status();
    if (s.state !== 'running' || s.pid === undefined) throw refused(`ended before it answered (${s.detail})`);
    try {
      const r = await fetch(`http://127.0.0.1:${m.port}/api/v1/diagnostics/productinformation`, {
        signal: AbortSignal.timeout(1000),
      });
      if (r.ok) {
        const other = await portHeldByOther(m.port, s.pid);
        if (other === null) return;
        throw refused(`is held by another program (${other})`);
      }
      last = `HTTP ${r.status}`;
    } catch (e) {
      if (e instanceof RecoveryError) throw e;
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw refused(`did not answer (${last})`);
}

/** One machine's folders and profile, its appliance to run on `port` (exported for tests). */
export async function makeMachine(
  dir: string,
  id: 'old' | 'replacement',
  label: string,
  command: string[],
  port: number,
): Promise<PracticeMachine> {
  const home = path.join(dir, id);
  const root = path.join(home, 'root');
  const keyFile = path.join(home, 'machine.key');
  await fsp.mkdir(root, { recursive: true });
  const service = {
    manager: 'process' as const,
    name: `practice-${id}`,
    command: [...command, '--root', root, '--port', String(port), '--key-file', keyFile],
    pidFile: path.join(home, 'run', 'appliance.pid'),
    stopTimeoutSeconds: 15,
    startTimeoutSeconds: 30,
  };
  const profileRef = path.join(home, 'profile.json');
  // Both machines run the same product: one profile id (a restore checks it), their own port and service.
  const input = practiceProfileInput({ port, service });
  await fsp.writeFile(profileRef, `${JSON.stringify(input, null, 2)}\n`);
  return {
    label,
    root,
    keyFile,
    port,
    pidFile: service.pidFile,
    profileRef,
    profile: practiceProfile({ port, service }),
  };
}

/** Starts the machine's appliance and waits for its own answer (exported for tests). */
export async function startMachine(m: PracticeMachine): Promise<void> {
  const svc = serviceFor(m.profile.service);
  await svc.start();
  await svc.waitFor('running', 15_000);
  await waitForApi(m, 20_000);
}

/** Stops the machine's appliance; never throws (exported for tests). */
export async function stopMachine(m: PracticeMachine): Promise<void> {
  try {
    await serviceFor(m.profile.service).stop();
  } catch {
    // Disposing must go on: the folder is removed either way, and a stray process dies with its files.
  }
}

export async function createPracticeSandbox(opts: PracticeSandboxOptions = {}): Promise<PracticeSandbox> {
  const command = opts.applianceCommand ?? defaultApplianceCommand();
  const base = opts.baseDir ?? os.tmpdir();
  await fsp.mkdir(base, { recursive: true });
  const dir = await fsp.mkdtemp(path.join(base, 'edge-recovery-practice-'));
  const stickDir = path.join(dir, 'stick');
  const stateDir = path.join(dir, 'state');
  await fsp.mkdir(stickDir);
  await fsp.mkdir(stateDir);
  const [oldPort, replacementPort] = await freePorts(2);
  const old = await makeMachine(dir, 'old', 'Old appliance (the one that is being replaced)', command, oldPort!);
  const replacement = await makeMachine(
    dir,
    'replacement',
    'Replacement appliance (fresh install)',
    command,
    replacementPort!,
  );
  // Its jobs touch only this sandbox: they lock here, not the machine's lock (see engine/util/job-lock.ts).
  const forgetLockScope = practiceLockScope(stateDir);
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    forgetLockScope();
    await Promise.all([stopMachine(old), stopMachine(replacement)]);
    await fsp.rm(dir, { recursive: true, force: true });
  };
  try {
    await seedOldMachine(old.root);
    await Promise.all([startMachine(old), startMachine(replacement)]);
  } catch (e) {
    await dispose();
    throw e;
  }
  return {
    dir,
    stickDir,
    stateDir,
    old,
    replacement,
    view: () => ({
      stickDir,
      old: { profileRef: old.profileRef, root: old.root, label: old.label },
      replacement: { profileRef: replacement.profileRef, root: replacement.root, label: replacement.label },
    }),
    dispose,
  };
}
