import { applianceClientFor, type ApplianceClient } from '../appliance/client.js';
import type { AgeKey } from '../archive/age-key.js';
import { jobKeyFor } from '../backup/manifest-integrity.js';
import { readBackupSet, type BackupManifest } from '../backup/manifest.js';
import { RecoveryError, toRecoveryError } from '../errors.js';
import type { Profile } from '../profiles/schema.js';
import { serviceFor } from '../service/index.js';
import type { ServiceControl, ServiceDeps } from '../service/types.js';
import type { Interaction } from '../runbook/types.js';
import { emptyProductState, type ProductHost } from '../runbook/product/product-steps.js';
import type { JournalStore } from './journal.js';

/** Knobs tests turn (fast polls); real runs use the defaults. */
export interface RestoreTuning {
  /** Poll interval for service state and API health. */
  pollMs?: number;
  /** This machine's device id, when the caller knows better (practice mode runs two "machines" on one host). */
  deviceId?: string;
}

export interface RestoreCtx {
  store: JournalStore;
  profile: Profile;
  /** Only in memory, never in the journal. */
  passphrase: string | undefined;
  /** The passphrase's scrypt key: derived once per job (verify, extract), zeroed when the job ends. */
  ageKey: AgeKey | null;
  /** Read from the medium when a step needs it (verify, compatibility, extract). */
  manifest: BackupManifest | null;
  service: ServiceControl;
  api: ApplianceClient | null;
  tuning: RestoreTuning;
  signal: AbortSignal | undefined;
  /** What the profile's own steps run with (their state lives in the journal). */
  product: ProductHost;
}

/** The product steps' view of a restore (also used by the rollback, which has no manifest at hand). */
export function restoreProductHost(
  store: JournalStore,
  opts: { passphrase?: string; signal?: AbortSignal; pollMs?: number; manifest?: () => BackupManifest | null },
): ProductHost {
  const j = store.j;
  j.product ??= emptyProductState();
  return {
    profile: j.profile,
    root: j.root,
    label: j.id,
    // The backup's device (known once the compatibility step read the manifest): {device} in a restore.
    get device() {
      return j.backupFacts?.deviceId ?? '';
    },
    passphrase: opts.passphrase,
    signal: opts.signal,
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    state: j.product,
    save: () => store.save(),
    backupDir: j.backup,
    artifacts: () => opts.manifest?.()?.artifacts ?? [],
  };
}

export function makeCtx(
  store: JournalStore,
  passphrase: string | undefined,
  tuning: RestoreTuning,
  signal: AbortSignal | undefined,
  interaction?: Interaction,
): RestoreCtx {
  const profile = store.j.profile;
  const service = serviceFor(profile.service, serviceDeps(tuning.pollMs, interaction, 'stop-service'));
  const c: RestoreCtx = {
    store,
    profile,
    passphrase,
    ageKey: null,
    manifest: null,
    service,
    api: applianceClientFor(profile, { root: store.j.root, service }),
    tuning,
    signal,
    product: undefined as unknown as ProductHost,
  };
  c.product = restoreProductHost(store, {
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(signal ? { signal } : {}),
    ...(tuning.pollMs !== undefined ? { pollMs: tuning.pollMs } : {}),
    manifest: () => c.manifest,
  });
  return c;
}

/**
 * The service manager's dependencies: with `service.manager: none` the technician stops and starts the
 * product by hand, asked through the job's own interaction (a terminal prompt, the wizard, or --yes).
 */
export function serviceDeps(
  pollMs: number | undefined,
  interaction: Interaction | undefined,
  stepId: string,
): ServiceDeps {
  return {
    ...(pollMs === undefined ? {} : { pollMs }),
    ...(interaction === undefined
      ? {}
      : {
          confirm: (message: string) => interaction.confirm({ stepId, title: 'By hand', message, action: 'Done' }),
        }),
  };
}

/** "Stopped by hand (confirmed)" rather than a claim the tool cannot check. */
export function byHand(profile: Profile): boolean {
  return profile.service.manager === 'none';
}

/** The job's scrypt key for an encrypted backup (derived on first use, once per job); null for a plain one. */
export async function needAgeKey(c: RestoreCtx): Promise<AgeKey | null> {
  const m = await needManifest(c);
  if (m.archive.encryption === null) return null;
  c.ageKey ??= await jobKeyFor(await readBackupSet(c.store.j.backup), c.passphrase);
  return c.ageKey;
}

export async function needManifest(c: RestoreCtx): Promise<BackupManifest> {
  if (c.manifest === null) c.manifest = (await readBackupSet(c.store.j.backup)).manifest;
  return c.manifest;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until the service runs and its API says healthy (the API alone is not enough: an old process may answer). */
export async function waitHealthy(c: RestoreCtx): Promise<string> {
  const timeoutMs = c.profile.service.startTimeoutSeconds * 1000;
  const st = await c.service.waitFor('running', timeoutMs, c.signal);
  if (c.api === null) return `${c.service.label} runs (${st.detail}); the profile has no API to ask about health.`;
  const until = Date.now() + timeoutMs;
  let last = { ok: false, detail: 'no answer yet' };
  for (;;) {
    last = await c.api.health().catch((e: unknown) => ({ ok: false, detail: toRecoveryError(e).message }));
    if (last.ok) return `${c.service.label} runs and its API answers healthy.`;
    if (Date.now() >= until) break;
    await sleep(c.tuning.pollMs ?? 250);
  }
  throw new RecoveryError(
    'SERVICE_TIMEOUT',
    `${c.profile.productName} runs but its API did not become healthy within ${c.profile.service.startTimeoutSeconds} s: ${last.detail}`,
    {
      hint: "Check the product's log. The restored folders are in place; you can resume once it answers, or roll back.",
    },
  );
}
