import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ApplianceClient, apiWithPort } from '../../src-main/engine/appliance/client.js';
import type { Profile } from '../../src-main/engine/profiles/schema.js';
import { freePort } from '../../src-main/practice/free-port.js';
import { practiceProfile, practiceProfileInput } from '../../src-main/practice/practice-profile.js';
import { startRunsvdir, type RunitTree } from './runit.js';
import { rootOnlyProfiles } from './root-only-profile.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const APPLIANCE_ENTRY = path.join(REPO, 'src-main/practice/appliance.ts');
// runit starts the run script with an almost empty environment and cwd: name the loader by absolute path.
export const TSX_LOADER = path.join(REPO, 'node_modules/tsx/dist/loader.mjs');

export interface PracticeMachine {
  /** Top temp folder of this machine (runit tree, log, profile file). */
  dir: string;
  /** The filesystem root the appliance's absolute EDS paths live under (pass as `root` to resolveItems). */
  root: string;
  port: number;
  keyFile: string;
  serviceDir: string;
  profilePath: string;
  profile: Profile;
  api: ApplianceClient;
  logFile: string;
  /** The JavaScript file the appliance runs (applianceBundle()). */
  applianceEntry: string;
  /** Stops the appliance and runsvdir and removes the temp folder. Safe to call twice. */
  stop(): Promise<void>;
}

export { freePort };

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

let bundled: Promise<string> | undefined;

/**
 * The appliance's sources bundled into one plain JavaScript file (as the build makes dist/practice-appliance.js),
 * once per test process and only when the sources changed (the name holds the bundle's hash). A start through
 * tsx's loader costs ~0.9 s to the first answer and ~0.6 s of CPU before any of the appliance's own code runs;
 * the bundle answers after ~0.3 s. A restore starts the appliance twice, and kill-restore does that 30 times.
 */
export function applianceBundle(): Promise<string> {
  bundled ??= (async () => {
    const r = await build({
      entryPoints: [APPLIANCE_ENTRY],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      write: false,
      logLevel: 'warning',
    });
    const code = r.outputFiles[0]!.contents;
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    // Not in /tmp: a name anyone can predict there could be planted by another account and then run by root.
    const dir = path.join(REPO, 'node_modules/.cache/edge-recovery-tests');
    await fsp.mkdir(dir, { recursive: true });
    const file = path.join(dir, `practice-appliance-${hash}.mjs`);
    if (!existsSync(file)) {
      // Written beside and renamed: another test process may be writing the same file right now.
      const tmp = `${file}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, code, { mode: 0o644 });
      await fsp.rename(tmp, file);
    }
    return file;
  })();
  return bundled;
}

export function applianceRunScript(o: {
  /** The appliance to run: applianceBundle()'s file; without it, the sources through tsx's loader. */
  entry?: string;
  root: string;
  port: number;
  keyFile: string;
  version: string;
  logFile: string;
  eds?: '1.0' | '1.1';
}): string {
  const argv = [
    process.execPath,
    ...(o.entry !== undefined ? [o.entry] : ['--import', TSX_LOADER, APPLIANCE_ENTRY]),
    '--root',
    o.root,
    '--port',
    String(o.port),
    '--key-file',
    o.keyFile,
    '--version',
    o.version,
    ...(o.eds !== undefined ? ['--api', o.eds] : []),
  ];
  return `#!/bin/sh\nexec >>${shellQuote(o.logFile)} 2>&1\nexec ${argv.map(shellQuote).join(' ')}\n`;
}

async function logTail(file: string): Promise<string> {
  return (await fsp.readFile(file, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
}

/** Waits until the API answers its version endpoint. */
export async function waitForApi(api: ApplianceClient, timeoutMs: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      await api.productVersion();
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = logFile ? `\nappliance log:\n${await logTail(logFile)}` : '';
  throw new Error(`the practice appliance did not answer within ${timeoutMs} ms: ${last}${tail}`);
}

/**
 * A practice "machine": its own temp root, machine key, port, private runsvdir and an appliance service
 * running from sources. Always call stop() (afterEach/afterAll); an exit hook kills leftovers regardless.
 */
export async function startPracticeMachine(
  opts: {
    version?: string;
    user?: string;
    group?: string;
    /** The EDS API the stand-in speaks (default 1.0; 1.1 reports 1.1.1.46 unless `version` says otherwise). */
    eds?: '1.0' | '1.1';
    /**
     * Write the real port into <root>/opt/OSIsoft/EdgeDataStore/appsettings.json and give the profile the
     * default 5590 in its baseUrl: the client must read the port from the file.
     */
    portFromAppsettings?: boolean;
  } = {},
): Promise<PracticeMachine> {
  const entry = await applianceBundle();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'practice-machine-'));
  const root = path.join(dir, 'root');
  const keyFile = path.join(root, 'var/lib/edge-practice/machine.key');
  const logFile = path.join(dir, 'appliance.log');
  // The profile file as a technician installs a product's own profile: in a root-only folder on this machine's own
  // disk, so trusted (a backup or restore takes a file in /tmp only with --allow-profile-commands). Without root
  // (no runit either) it stays in the temp folder.
  const profiles = process.getuid?.() === 0 ? await rootOnlyProfiles('practice-machine') : null;
  const profilePath = path.join(profiles?.dir ?? dir, 'profile.json');
  let tree: RunitTree | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await tree?.stop();
    await fsp.rm(dir, { recursive: true, force: true });
    await profiles?.remove();
  };
  try {
    await fsp.mkdir(root, { recursive: true });
    const port = await freePort();
    tree = await startRunsvdir(path.join(dir, 'service'), {
      'eds-practice': applianceRunScript({
        entry,
        root,
        port,
        keyFile,
        version: opts.version ?? (opts.eds === '1.0' ? '1.0.0.52' : '1.1.1.46'),
        logFile,
        ...(opts.eds !== undefined ? { eds: opts.eds } : {}),
      }),
    });
    const serviceDir = tree.services[0]!;
    const appsettings = '/opt/OSIsoft/EdgeDataStore/appsettings.json';
    if (opts.portFromAppsettings) {
      const f = path.join(root, appsettings);
      await fsp.mkdir(path.dirname(f), { recursive: true });
      await fsp.writeFile(
        f,
        `${JSON.stringify({ ApplicationSettings: { Port: port, ApplicationDataDirectory: 'EdgeDataStore' } }, null, 2)}\n`,
      );
    }
    const extra = {
      ...(opts.eds !== undefined ? { eds: opts.eds } : {}),
      ...(opts.portFromAppsettings ? { portFile: appsettings } : {}),
    };
    const input = practiceProfileInput({
      ...extra,
      port: opts.portFromAppsettings ? 5590 : port,
      service: { manager: 'runit', name: serviceDir, stopTimeoutSeconds: 15, startTimeoutSeconds: 30 },
      ...(opts.user !== undefined ? { user: opts.user } : {}),
      ...(opts.group !== undefined ? { group: opts.group } : {}),
    });
    await fsp.writeFile(profilePath, `${JSON.stringify(input, null, 2)}\n`, { mode: 0o644 });
    const profile: Profile = practiceProfile({
      ...extra,
      port: opts.portFromAppsettings ? 5590 : port,
      service: input.service,
      ...(opts.user !== undefined ? { user: opts.user } : {}),
      ...(opts.group !== undefined ? { group: opts.group } : {}),
    });
    const api = new ApplianceClient(apiWithPort(profile.api!, { root }).api);
    await waitForApi(api, 30_000, logFile);
    return { dir, root, port, keyFile, serviceDir, profilePath, profile, api, logFile, applianceEntry: entry, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
