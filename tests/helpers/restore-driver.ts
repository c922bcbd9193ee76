/**
 * Runs one restore action in its own process so a test can SIGKILL it (EDGE_RECOVERY_CRASH_AT) or let it end:
 *   node --import tsx tests/helpers/restore-driver.ts '<json DriverArgs>'
 * The spawner sets EDGE_RECOVERY_DRIVER=1. The passphrase comes from EDGE_RECOVERY_TEST_PASSPHRASE (never argv). Prints one JSON line:
 * { ok: true, result } or { ok: false, error }.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseProfile } from '../../src-main/engine/profiles/load.js';
import { resumeRestore, rollbackRestore, runRestore } from '../../src-main/engine/restore/run-restore.js';
import { restoreStatus } from '../../src-main/engine/restore/status.js';
import { toRecoveryError } from '../../src-main/engine/errors.js';
import type { Interaction } from '../../src-main/engine/runbook/types.js';
import { clearSystemUsersCache, gidForGroup, uidForUser } from '../../src-main/engine/util/system-users.js';

export interface DriverArgs {
  action: 'restore' | 'resume' | 'rollback' | 'status';
  stateDir: string;
  backup?: string;
  /** A profile JSON file (input form, as written by the practice machine). */
  profilePath?: string;
  root?: string;
  allowOtherDevice?: boolean;
  allowVersionMismatch?: boolean;
  keepDefaults?: boolean;
  reportDirs?: string[];
  pollMs?: number;
  deviceId?: string;
  /** Answer the credentials prompt with `secretPrefix + entryId` for every secret field; absent: answer null. */
  secretPrefix?: string;
}

/** The secret the driver types for an entry (tests check the appliance accepted exactly this). */
export function secretFor(prefix: string, entryId: string): string {
  return `${prefix}${entryId}`;
}

export function driverInteraction(secretPrefix: string | undefined): Interaction {
  return {
    confirm: async () => true,
    credentials: async (req) => {
      if (secretPrefix === undefined) return null;
      const out: Record<string, Record<string, string>> = {};
      for (const e of req.entries) {
        out[e.key] = Object.fromEntries(
          e.fields.filter((f) => f.secret).map((f) => [f.name, secretFor(secretPrefix, e.entryId)]),
        );
      }
      return out;
    },
  };
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as DriverArgs;
  const passphrase = process.env.EDGE_RECOVERY_TEST_PASSPHRASE;
  const io = { emit: () => undefined, interaction: driverInteraction(a.secretPrefix) };
  const tuning = {
    ...(a.pollMs !== undefined ? { pollMs: a.pollMs } : {}),
    ...(a.deviceId !== undefined ? { deviceId: a.deviceId } : {}),
  };
  let result: unknown;
  switch (a.action) {
    case 'restore': {
      const profile = parseProfile(JSON.parse(await fsp.readFile(a.profilePath!, 'utf8')), a.profilePath!);
      result = await runRestore(
        {
          backup: a.backup!,
          profile,
          stateDir: a.stateDir,
          ...(a.root !== undefined ? { root: a.root } : {}),
          ...(passphrase !== undefined ? { passphrase } : {}),
          allowOtherDevice: a.allowOtherDevice ?? false,
          allowVersionMismatch: a.allowVersionMismatch ?? false,
          keepDefaults: a.keepDefaults ?? false,
          ...(a.reportDirs ? { reportDirs: a.reportDirs } : {}),
          tuning,
        },
        io,
      );
      break;
    }
    case 'resume':
      result = await resumeRestore(
        { stateDir: a.stateDir, ...(passphrase !== undefined ? { passphrase } : {}), tuning },
        io,
      );
      break;
    case 'rollback':
      result = await rollbackRestore(
        { stateDir: a.stateDir, ...(a.pollMs !== undefined ? { pollMs: a.pollMs } : {}) },
        io,
      );
      break;
    case 'status':
      result = await restoreStatus({ stateDir: a.stateDir });
      break;
  }
  process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
}

// Only when run as a program (the spawner sets EDGE_RECOVERY_DRIVER): tests import the helpers below.
if (process.env.EDGE_RECOVERY_DRIVER === '1') {
  main().catch((e: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: toRecoveryError(e).toJSON() })}\n`);
    process.exitCode = 1;
  });
}

export const DRIVER_PATH = fileURLToPath(import.meta.url);

export interface DriverOutcome {
  /** Exit signal ("SIGKILL" for a crash point) or null. */
  signal: NodeJS.Signals | null;
  code: number | null;
  out: { ok: boolean; result?: unknown; error?: { code: string; message: string } } | null;
  stderr: string;
}

/** Runs the driver in a child process; `crashAt` sets EDGE_RECOVERY_CRASH_AT, `killAfterMs` SIGKILLs it from outside. */
export function runDriver(
  args: DriverArgs,
  opts: { crashAt?: string; killAfterMs?: number; passphrase?: string; pauseAt?: string; pauseFile?: string } = {},
): Promise<DriverOutcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, EDGE_RECOVERY_DRIVER: '1' };
  delete env.EDGE_RECOVERY_CRASH_AT;
  if (opts.pauseAt !== undefined && opts.pauseFile !== undefined) {
    env.EDGE_RECOVERY_PAUSE_AT = opts.pauseAt;
    env.EDGE_RECOVERY_PAUSE_FILE = opts.pauseFile;
  }
  delete env.EDGE_RECOVERY_TEST_PASSPHRASE;
  if (opts.crashAt !== undefined) env.EDGE_RECOVERY_CRASH_AT = opts.crashAt;
  if (opts.passphrase !== undefined) env.EDGE_RECOVERY_TEST_PASSPHRASE = opts.passphrase;
  return new Promise((resolve, reject) => {
    // The driver bundled by the suite's globalSetup (tests/helpers/test-build.ts), else these sources through tsx.
    const built = process.env.EDGE_RECOVERY_TEST_BUILD;
    const entry = built ? [path.join(built, 'restore-driver.js')] : ['--import', 'tsx', DRIVER_PATH];
    const child = spawn(process.execPath, [...entry, JSON.stringify(args)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer =
      opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      let out: DriverOutcome['out'] = null;
      try {
        out = line ? (JSON.parse(line) as DriverOutcome['out']) : null;
      } catch {
        out = null;
      }
      resolve({ signal, code, out, stderr });
    });
  });
}

/** Restore tests need root (chown to another user) and runit: skip with a reason here, fail in CI. */
export function restoreTestsBlocked(): string | undefined {
  const why =
    process.getuid?.() !== 0
      ? 'restore tests chown files to a test user: run them as root'
      : !existsSync('/usr/bin/sv') || !existsSync('/usr/bin/runsvdir')
        ? 'runit is not installed (apt-get install runit)'
        : undefined;
  if (why !== undefined && process.env.CI) throw new Error(`CI must run the restore tests: ${why}`);
  return why;
}

/** A system user and group of that name (created once, kept: other tests may run with it). */
export function ensureTestOwner(name: string): void {
  clearSystemUsersCache();
  if (gidForGroup(name) === undefined) execFileSync('groupadd', ['--system', name]);
  if (uidForUser(name) === undefined)
    execFileSync('useradd', ['--system', '--no-create-home', '--gid', name, '--shell', '/usr/sbin/nologin', name]);
  clearSystemUsersCache();
}
