import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBackup } from '../engine/backup/run-backup.js';
import { RecoveryError } from '../engine/errors.js';
import { loadProfile, parseProfile } from '../engine/profiles/load.js';
import type { Profile } from '../engine/profiles/schema.js';
import { readJournal } from '../engine/restore/journal.js';
import { runRestore } from '../engine/restore/run-restore.js';
import type { RunbookIO } from '../engine/runbook/runner.js';
import { serviceFor } from '../engine/service/index.js';
import type { ServiceControl } from '../engine/service/types.js';
import { practiceLockScope } from '../engine/util/job-lock.js';
import { freePort, portHeldByOther } from './free-port.js';
import { standinCommand } from './standins/common.js';
import { countRecords, installOpenCrvs, opencrvsServerArgs, runNightlyBackup } from './standins/opencrvs.js';
import { countComponents, installStackState, stackgraphArgs, stackstateServerArgs } from './standins/stackstate.js';
import { countDevices, deviceonServerArgs, installDeviceOn, scheduledBackup } from './standins/deviceon.js';
import { edgeConfig, installEvcEdge, listBackups, makeBackup, evcEdgeServerArgs } from './standins/evc-edge.js';
import { notePracticeKept } from '../engine/restore/practice-kept.js';
import { removeTreeNoFollow } from '../engine/util/safe-delete.js';

/**
 * `edge-recovery practice <profile-id>`: a product's whole backup and restore, run by its built-in profile's
 * own steps against its practice stand-in: an "old" machine (data, the product's own backups) and a
 * "replacement" (a fresh install, the staging target), a folder standing in for the stick. Every program the
 * steps run is a real process; the services run under the process manager (tests swap in runit).
 */
export interface PracticeService {
  spec: Profile['service'];
  dispose(): Promise<void>;
}

/** Makes a service that runs `argv` in the foreground (a long-running stand-in server). */
export type ServiceMaker = (name: string, argv: string[], home: string) => Promise<PracticeService>;

export const processServiceMaker: ServiceMaker = async (name, argv, home) => {
  const spec: Profile['service'] = {
    manager: 'process',
    name,
    command: argv,
    pidFile: path.join(home, 'run', `${name}.pid`),
    stopTimeoutSeconds: 15,
    startTimeoutSeconds: 30,
  };
  await fsp.mkdir(path.join(home, 'run'), { recursive: true });
  return {
    spec,
    dispose: async () => {
      await serviceFor(spec)
        .stop()
        .catch(() => undefined);
    },
  };
};

export interface MachinePlan {
  root: string;
  port: number;
  /** The main service that runs the product's stand-in. */
  service: PracticeService;
  /** Extra services (a database the product needs), by the name the profile gives them. */
  extra: Record<string, PracticeService>;
}

interface Kit {
  /** What the practice shows before it starts. */
  describe: string;
  /** The technician's name for the backup, where the product names its backups. */
  label?: string;
  /** Installs the stand-in on both machines, seeds the old one; returns what the restore needs. */
  prepare(s: Sandbox, make: ServiceMaker): Promise<{ old: MachinePlan; fresh: MachinePlan; passphrase?: string }>;
  /** After the restore: the replacement holds the old machine's data (plain words, or throws). */
  check(s: Sandbox, old: MachinePlan, fresh: MachinePlan): Promise<string>;
}

interface Sandbox {
  dir: string;
  stick: string;
  state: string;
}

async function startService(p: PracticeService): Promise<ServiceControl> {
  const svc = serviceFor(p.spec, { pollMs: 100 });
  await svc.start();
  await svc.waitFor('running', 30_000);
  return svc;
}

/** Waits for the stand-in `svc` started to answer on `port`: its own answer, not another program's there. */
async function waitHttp(svc: ServiceControl, port: number, p: string, timeoutMs = 30_000): Promise<void> {
  const refused = (why: string): RecoveryError =>
    new RecoveryError('APPLIANCE_UNREACHABLE', `The practice stand-in on port ${port} ${why}.`);
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const s = await svc.status();
    if (s.state !== 'running' || s.pid === undefined) throw refused(`ended before it answered (${s.detail})`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        const other = await portHeldByOther(port, s.pid);
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

const OPENCRVS: Kit = {
  describe:
    'OpenCRVS: the old server holds records and three nightly backups made by the real openssl (one in the legacy form without -pbkdf2); the tool copies them onto the stick, decrypts the newest on the staging server and runs OpenCRVS’s extract-backup.sh and restore.sh there.',
  async prepare(s, make) {
    const passphrase = 'practice opencrvs backup passphrase';
    const pf = path.join(s.dir, 'opencrvs-backup.passphrase');
    await fsp.writeFile(pf, `${passphrase}\n`, { mode: 0o600 });
    const machine = async (id: string, records: number): Promise<MachinePlan> => {
      const root = path.join(s.dir, id, 'root');
      await installOpenCrvs(root, { records });
      const port = await freePort();
      const service = await make(
        `opencrvs-${id}`,
        [...standinCommand(), ...opencrvsServerArgs(root, port)],
        path.join(s.dir, id),
      );
      await waitHttp(await startService(service), port, '/ping');
      return { root, port, service, extra: {} };
    };
    const old = await machine('old', 42);
    // Three nights: the oldest in the legacy form (older OpenCRVS, no -pbkdf2), the newest with the most records.
    runNightlyBackup(old.root, '2026-01-01', pf, true);
    await installOpenCrvs(old.root, { records: 45 });
    runNightlyBackup(old.root, '2026-01-02', pf);
    await installOpenCrvs(old.root, { records: 47 });
    runNightlyBackup(old.root, '2026-01-03', pf);
    const now = Date.now() / 1000;
    for (const [i, d] of ['2026-01-01', '2026-01-02', '2026-01-03'].entries()) {
      const f = path.join(old.root, 'home/backup/backups', d, `${d}.tar.gz.enc`);
      await fsp.utimes(f, now - (3 - i) * 86400, now - (3 - i) * 86400);
    }
    const fresh = await machine('staging', 0);
    return { old, fresh, passphrase };
  },
  async check(_s, old, fresh) {
    const want = await countRecords(old.root);
    const got = await countRecords(fresh.root);
    if (got !== want) {
      throw new RecoveryError(
        'INTERNAL',
        `The staging server holds ${got} records after the restore; the newest backup has ${want}.`,
      );
    }
    return `The staging server now holds the ${got} records of the newest nightly backup and answers GET /ping.`;
  },
};

const STACKSTATE: Kit = {
  describe:
    'StackState 4.6: the old server’s StackGraph holds a topology; the tool checks StackGraph runs, stops StackState, runs sts-standalone.sh export, puts the file on the stick, and on the new server imports it, follows stackstate.log until the import completes, and starts StackState. Telemetry is not part of it.',
  async prepare(s, make) {
    const machine = async (id: string, components: number): Promise<MachinePlan> => {
      const home = path.join(s.dir, id);
      const root = path.join(home, 'root');
      await installStackState(root, components);
      const port = await freePort();
      const graph = await make(`stackgraph-${id}`, [...standinCommand(), ...stackgraphArgs(root)], home);
      await startService(graph);
      const service = await make(`stackstate-${id}`, [...standinCommand(), ...stackstateServerArgs(root, port)], home);
      await waitHttp(await startService(service), port, '/api/server/info');
      return { root, port, service, extra: { 'stackgraph.service': graph } };
    };
    return { old: await machine('old', 120), fresh: await machine('new', 0) };
  },
  async check(_s, old, fresh) {
    const want = await countComponents(old.root);
    const got = await countComponents(fresh.root);
    if (got !== want) {
      throw new RecoveryError(
        'INTERNAL',
        `The new StackGraph holds ${got} components after the restore; the old one ${want}.`,
      );
    }
    return `The new server's StackGraph holds the old topology (${got} components) and StackState runs on it.`;
  },
};

const EVC_OLD = 'EDGE-7F3A21';
const EVC_NEW = 'EDGE-9C0D44';

const EVC_EDGE: Kit = {
  describe:
    'EVC-net Edge: the old Edge (device EDGE-7F3A21) holds 8 chargepoints and its own backups (11 manual, automatic ones going back 230 days). The tool waits until no chargepoint transaction runs, asks the Edge for a named manual backup (the Edge then keeps its 10 newest manual backups), downloads it onto the stick, and on the replacement Edge (new device id EDGE-9C0D44) restores it through switch device: the backup is listed under the old id and restored from there.',
  label: 'practice before replacement',
  async prepare(s, make) {
    const machine = async (id: string, deviceId: string, chargepoints: number): Promise<MachinePlan> => {
      const home = path.join(s.dir, id);
      const root = path.join(home, 'root');
      await installEvcEdge(root, { deviceId, chargepoints });
      const port = await freePort();
      const service = await make(`evc-edge-${id}`, [...standinCommand(), ...evcEdgeServerArgs(root, port)], home);
      await waitHttp(await startService(service), port, '/api/v1/system');
      return { root, port, service, extra: {} };
    };
    const old = await machine('old', EVC_OLD, 8);
    // The old Edge's own history: automatic backups every month back to 8 months, 11 manual ones (one over 10).
    const now = Date.now();
    for (const days of [230, 200, 170, 140, 110, 80, 50, 20]) {
      await makeBackup(
        old.root,
        `Automatic, ${days} days ago`,
        'automatic',
        new Date(now - days * 86_400_000).toISOString(),
        false,
      );
    }
    for (let i = 1; i <= 11; i++) {
      await makeBackup(old.root, `manual ${i}`, 'manual', new Date(now - (12 - i) * 86_400_000).toISOString(), false);
    }
    return { old, fresh: await machine('new', EVC_NEW, 0) };
  },
  async check(_s, old, fresh) {
    const want = (await edgeConfig(old.root)).chargepoints.length;
    const cfg = await edgeConfig(fresh.root);
    if (cfg.chargepoints.length !== want || cfg.restoredFrom?.deviceId !== EVC_OLD) {
      throw new RecoveryError(
        'INTERNAL',
        `The replacement Edge holds ${cfg.chargepoints.length} chargepoints (restored from ${cfg.restoredFrom?.deviceId ?? 'nothing'}); the old one ${want}.`,
      );
    }
    const kept = await listBackups(old.root, EVC_OLD);
    return `The replacement Edge ${EVC_NEW} runs the configuration of ${EVC_OLD} (${want} chargepoints), restored from its backup "${cfg.restoredFrom.name}" through switch device. The old Edge keeps ${kept.filter((b) => b.type === 'manual').length} manual and ${kept.filter((b) => b.type === 'automatic').length} automatic backups (10 newest manual; automatic ones of the last 6 months).`;
  },
};

const DEVICEON: Kit = {
  describe:
    'WISE-DeviceOn: the old server manages 25 devices and has written nine nightly scheduled backups (TPM-encrypted), of which its retention count keeps 7. The tool copies those 7 zip files onto the stick; the new server (the same version, reinstalled on the same hardware, so the same TPM) is reset to default and restored by its System Recovery tool with the newest backup.',
  async prepare(s, make) {
    const machine = async (id: string, devices: number): Promise<MachinePlan> => {
      const home = path.join(s.dir, id);
      const root = path.join(home, 'root');
      await installDeviceOn(root, { devices, tpmEncryption: true, tpmId: 'TPM-2B7E151628AED2A6' });
      const port = await freePort();
      const service = await make(`deviceon-${id}`, [...standinCommand(), ...deviceonServerArgs(root, port)], home);
      await waitHttp(await startService(service), port, '/rmm/v1/about');
      return { root, port, service, extra: {} };
    };
    const old = await machine('old', 25);
    const now = Date.now();
    for (let d = 9; d >= 1; d--) await scheduledBackup(old.root, new Date(now - d * 86_400_000 + 3_600_000));
    return { old, fresh: await machine('new', 2) };
  },
  async check(_s, old, fresh) {
    const want = await countDevices(old.root);
    const got = await countDevices(fresh.root);
    if (got !== want) {
      throw new RecoveryError(
        'INTERNAL',
        `The new DeviceOn server manages ${got} devices after the restore; the old one ${want}.`,
      );
    }
    return `The new DeviceOn server manages the old server's ${got} devices, restored by its System Recovery from the newest scheduled backup.`;
  },
};

const KITS: Record<string, Kit> = {
  'deviceon-linux': DEVICEON,
  opencrvs: OPENCRVS,
  'stackstate-linux': STACKSTATE,
  'evc-edge': EVC_EDGE,
};

export function practiceProfileIds(): string[] {
  return Object.keys(KITS);
}

/** The built-in profile pointed at one practice machine: its port, its service, its own user where the product's is missing. */
export function practiceProfileFor(base: Profile, m: MachinePlan): Profile {
  const me = os.userInfo().username;
  const raw = JSON.parse(JSON.stringify(base)) as Record<string, unknown> & {
    api?: { baseUrl: string };
    steps: Array<Record<string, unknown>>;
    service: unknown;
  };
  raw.id = base.id;
  raw.service = m.service.spec;
  if (raw.api) raw.api.baseUrl = `http://127.0.0.1:${m.port}`;
  for (const st of raw.steps) {
    // A rehearsal waits in 1-second steps (at most 5) where the product's procedure waits minutes.
    if (st.kind === 'http' && typeof st.retries === 'number' && Number(st.retryDelaySeconds ?? 5) >= 10) {
      st.retries = Math.min(st.retries, 5);
      st.retryDelaySeconds = Math.min(Number(st.retryDelaySeconds ?? 5), 1);
    }
    // A practice machine has no product user: the stand-in's scripts run as whoever runs the practice.
    if (typeof st.user === 'string') st.user = me;
    const undo = st.undo as Record<string, unknown> | undefined;
    if (undo && typeof undo.user === 'string') undo.user = me;
    if (st.kind === 'service') {
      const name = (st.service as { name: string }).name;
      const extra = m.extra[name];
      if (extra === undefined)
        throw new RecoveryError('INTERNAL', `The practice has no stand-in for the service ${name}.`);
      st.service = extra.spec;
    }
  }
  // Modes were parsed into numbers: put the ownership back as the schema reads it.
  if (base.ownership) {
    raw.ownership = {
      ...base.ownership,
      user: me,
      dirMode: base.ownership.dirMode.toString(8),
      fileMode: base.ownership.fileMode.toString(8),
      exceptions: base.ownership.exceptions.map((e) => ({
        glob: e.glob,
        ...(e.dirMode !== undefined ? { dirMode: e.dirMode.toString(8) } : {}),
        ...(e.fileMode !== undefined ? { fileMode: e.fileMode.toString(8) } : {}),
      })),
    };
  }
  return parseProfile(raw, `practice profile for ${base.id}`);
}

export interface ProductPracticeResult {
  profileId: string;
  setDir: string;
  reports: string[];
  check: string;
  sandbox: string;
}

export async function runProductPractice(
  profileId: string,
  io: RunbookIO,
  opts: {
    baseDir?: string;
    keep?: boolean;
    makeService?: ServiceMaker;
    /** Told the sandbox folder as soon as it exists (the wizard keeps it for the report, removes it later). */
    onSandbox?: (dir: string) => void;
    /** Called before the backup (old machine) and before the restore (replacement): tests set the scene. */
    before?: (phase: 'backup' | 'restore', m: MachinePlan) => Promise<void>;
  } = {},
): Promise<ProductPracticeResult> {
  const kit = KITS[profileId];
  if (kit === undefined) {
    throw new RecoveryError('PROFILE_NOT_FOUND', `There is no practice for "${profileId}".`, {
      hint: `Practice exists for: eds-practice (Edge Data Store, the default: edge-recovery practice), ${practiceProfileIds().join(', ')}.`,
    });
  }
  const base = await loadProfile(profileId);
  const parent = opts.baseDir ?? os.tmpdir();
  await fsp.mkdir(parent, { recursive: true });
  const dir = await fsp.mkdtemp(path.join(parent, `edge-recovery-practice-${profileId}-`));
  opts.onSandbox?.(dir);
  const s: Sandbox = { dir, stick: path.join(dir, 'stick'), state: path.join(dir, 'state') };
  await fsp.mkdir(s.stick);
  await fsp.mkdir(s.state, { mode: 0o700 });
  // Its jobs touch only this sandbox: they lock here, not the machine's lock (see engine/util/job-lock.ts).
  const forgetLockScope = practiceLockScope(s.state);
  const services: PracticeService[] = [];
  const make: ServiceMaker = async (name, argv, home) => {
    const svc = await (opts.makeService ?? processServiceMaker)(name, argv, home);
    services.push(svc);
    return svc;
  };
  try {
    io.emit({ type: 'log', level: 'info', message: `Practice: ${kit.describe} Sandbox: ${dir}` });
    const { old, fresh, passphrase } = await kit.prepare(s, make);
    await opts.before?.('backup', old);
    const backup = await runBackup(
      {
        profile: practiceProfileFor(base, old),
        to: s.stick,
        root: old.root,
        // A product with its own device id files the backup under it (EVC-net Edge); the others under a name.
        ...(base.api?.deviceId ? {} : { deviceId: 'practice-old' }),
        ...(kit.label !== undefined ? { label: kit.label } : {}),
        stateDir: s.state,
      },
      io,
    );
    await opts.before?.('restore', fresh);
    const restored = await runRestore(
      {
        backup: backup.setDir,
        profile: practiceProfileFor(base, fresh),
        root: fresh.root,
        ...(passphrase !== undefined ? { passphrase } : {}),
        allowOtherDevice: true,
        stateDir: s.state,
      },
      io,
    );
    const check = await kit.check(s, old, fresh);
    io.emit({ type: 'log', level: 'info', message: check });
    return { profileId, setDir: backup.setDir, reports: restored.reports, check, sandbox: dir };
  } finally {
    forgetLockScope();
    for (const svc of services.reverse()) await svc.dispose().catch(() => undefined);
    // For `status --state-dir <it>`: its stand-ins were stopped, so it does not offer entering credentials.
    if (opts.keep) await notePracticeKept(s.state, dir).catch(() => undefined);
    if (!opts.keep) {
      // A restore that failed half-way keeps its work folder (in the system temp folder) for its rollback; the
      // practice's journal goes with the sandbox, so its work folder goes too.
      const j = await readJournal(s.state).catch(() => null);
      // The work folder may be the product account's: by descriptor, never following its links.
      if (j?.product?.work !== undefined) removeTreeNoFollow(j.product.work);
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
