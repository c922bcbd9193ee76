import { isRecoveryError, RecoveryError } from '../errors.js';
import { cleanLine } from '../util/clean-text.js';
import { readSmallFileSync } from '../util/given-path.js';
import { resolveItemPath } from '../profiles/load.js';
import type { CredentialResource, Precheck, Profile } from '../profiles/schema.js';
import type { CredentialEntry, CredentialField } from '../runbook/types.js';
import { uidForUser, userNameForUid } from '../util/system-users.js';
import { getPointer } from './json-pointer.js';
import { untrustedListener } from './listener-owner.js';

type Api = NonNullable<Profile['api']>;
type Json = unknown;

/** Replaces every secret value in a text; messages may quote an answer, never a secret. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first: a secret that contains another is replaced whole.
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.replace(secretPattern(s), '[secret]');
  }
  return out;
}

const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * The secret as a product may echo it: as sent, or JSON-escaped once or more (a request body quoted in a message:
 * \" and \\ doubled), with any character as \uXXXX (.NET's System.Text.Json writes & + < > ' " and all non-ASCII so),
 * or percent-encoded. Matched case-insensitively (hex digits); replacing a little more than the secret is harmless.
 */
function secretPattern(secret: string): RegExp {
  const units = (c: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < c.length; i++) out.push(c.charCodeAt(i).toString(16).padStart(4, '0'));
    return out;
  };
  const named: Record<string, string> = { '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f' };
  const parts = [...secret].map((c) => {
    const alts = [
      reEscape(c),
      `\\\\+${reEscape(c)}`,
      units(c)
        .map((u) => `\\\\+u${u}`)
        .join(''),
    ];
    if (named[c] !== undefined) alts.push(`\\\\+${named[c]}`);
    const pct = encodeURIComponent(c);
    if (pct !== c) alts.push(reEscape(pct));
    return `(?:${alts.join('|')})`;
  });
  return new RegExp(parts.join(''), 'gi');
}

/** No answer of a product's local API comes near this; more is not read (memory stays bounded). */
export const API_ANSWER_MAX = 16 * 1024 * 1024;

/** The whole body of an answer, at most API_ANSWER_MAX bytes; rejects when it does not arrive whole. */
export async function readAnswer(res: Response): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > API_ANSWER_MAX) {
      await reader.cancel().catch(() => undefined);
      throw new RecoveryError(
        'API_ERROR',
        `The appliance API's answer is more than ${API_ANSWER_MAX / 1024 / 1024} MiB, far more than any answer of its: reading stopped`,
      );
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isUnreachable(e: unknown): boolean {
  const name = (e as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return true;
  // undici: TypeError("fetch failed") with the socket error as its cause
  return e instanceof TypeError;
}

function isNotFound(e: unknown): boolean {
  return e instanceof RecoveryError && e.code === 'API_ERROR' && e.details?.status === 404;
}

/** Dotted numeric versions, missing parts as 0: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = (/^\s*v?(\d+(?:\.\d+)*)/.exec(a)?.[1] ?? '0').split('.').map(Number);
  const pb = (/^\s*v?(\d+(?:\.\d+)*)/.exec(b)?.[1] ?? '0').split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/**
 * Refuses (API_ERROR) a loopback `url` whose port another account than `trusted` (root, this process's, the
 * product's) listens on, where a connection to it could land: what would be sent there is not. `notSent` says what
 * was kept back, `then` what to do once the port is the product's again.
 */
export function refuseForeignListener(
  url: string,
  trusted: ReadonlySet<number>,
  say: { notSent: string; then: string },
): void {
  if (!/^https?:\/\/(localhost|127\.[0-9.]+|\[::1\])(:|\/|$)/i.test(url)) return;
  const l = untrustedListener(url, trusted);
  if (l === null) return;
  const who = userNameForUid(l.uid);
  throw new RecoveryError(
    'API_ERROR',
    `Another program answers on the appliance's API port ${l.port}: it listens on ${l.address} as uid ${l.uid}${who ? ` ("${who}")` : ''}, not as the product's account or root. ${say.notSent}`,
    {
      hint: `Find it with "ss -ltnp 'sport = :${l.port}'" and stop it, make sure the product runs and holds its port, then ${say.then}.`,
      details: { port: l.port, address: l.address, uid: l.uid },
    },
  );
}

/** Root, this process's account and the product's (productAccounts): whose listener on the API port is trusted. */
export function trustedListenerUids(profile: Profile): ReadonlySet<number> {
  return new Set([0, process.geteuid?.() ?? 0, ...productAccounts(profile)]);
}

/** The product's local REST API, as the profile describes it. */
export class ApplianceClient {
  private readonly api: Api;
  private readonly fetchFn: typeof fetch;

  private readonly resolvePort: (() => Promise<number | null>) | undefined;
  private base: Promise<string> | null = null;
  private readonly trusted: ReadonlySet<number>;
  private readonly everyRequest: boolean;

  /**
   * `resolvePort`: asked once, before the first request (a Docker container's `portnum`); null keeps baseUrl's.
   * `trustedUids`: the accounts besides root and this one whose listener on the API port may be sent a secret
   * (the product's own account). `checkEveryRequest`: hold every request to that rule, not only those carrying a
   * secret (when the profile names the product's account, so a health or version answer is the product's own).
   */
  constructor(
    api: Api,
    opts: {
      fetch?: typeof fetch;
      resolvePort?: () => Promise<number | null>;
      trustedUids?: readonly number[];
      checkEveryRequest?: boolean;
    } = {},
  ) {
    this.api = api;
    this.fetchFn = opts.fetch ?? fetch;
    this.resolvePort = opts.resolvePort;
    this.trusted = new Set([0, process.geteuid?.() ?? 0, ...(opts.trustedUids ?? [])]);
    this.everyRequest = opts.checkEveryRequest === true;
  }

  /**
   * Before a secret goes out: every listener a loopback connection to the API's port can reach must be root's, ours
   * or the product account's. Another account's program there (listening while the restore has the product stopped,
   * or on the address family the product does not hold) would be sent the credentials the technician types.
   */
  private refuseForeignListener(url: string, secret: boolean): void {
    refuseForeignListener(url, this.trusted, {
      notSent: secret
        ? 'The credentials were not sent.'
        : 'Nothing was sent, and no answer from it is taken for the product’s.',
      then: 'enter the credentials again',
    });
  }

  private async url(p: string): Promise<string> {
    this.base ??= (async () =>
      baseWithPort(this.api.baseUrl, this.resolvePort ? await this.resolvePort().catch(() => null) : null))();
    return (await this.base) + p;
  }

  /** One request. `secrets` are scrubbed from anything that ends up in an error. */
  private async request(
    method: string,
    p: string,
    body?: Json,
    secrets: readonly string[] = [],
  ): Promise<{ status: number; json: Json }> {
    const url = await this.url(p);
    if (secrets.length > 0 || this.everyRequest) this.refuseForeignListener(url, secrets.length > 0);
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers:
          body === undefined
            ? { accept: 'application/json' }
            : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.api.timeoutMs),
        // The profile rules allow only a loopback baseUrl because secrets are sent there: an answer must not
        // send them (307/308 keep the method and the body) anywhere else.
        redirect: 'manual',
      });
    } catch (e) {
      if (isUnreachable(e)) {
        const timedOut = (e as { name?: unknown }).name === 'TimeoutError';
        const why = timedOut
          ? `did not answer within ${this.api.timeoutMs} ms`
          : 'refused the connection or could not be reached';
        // The cause is not attached: an undici error may carry the request, and with it a secret.
        throw new RecoveryError('APPLIANCE_UNREACHABLE', `The appliance API at ${url} ${why}.`, {
          hint: 'Is the service running? Check its status and log, then retry.',
          details: { url, method },
        });
      }
      throw new RecoveryError(
        'APPLIANCE_UNREACHABLE',
        `The appliance API at ${url} failed: ${scrub(String((e as Error).message), secrets)}`,
        {
          hint: 'Is the service running?',
          details: { url, method },
        },
      );
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      const to = res.headers.get('location');
      throw new RecoveryError(
        'API_ERROR',
        `The appliance API answered ${method} ${p} with a redirect (${res.status}${to ? ` to ${cleanLine(to).slice(0, 200)}` : ''}): it is not followed, nothing was sent there.`,
        {
          hint: "Check the profile's api.baseUrl (http or https, the product's port on this machine).",
          details: { url, method, status: res.status },
        },
      );
    }
    let text: string;
    try {
      text = await readAnswer(res);
    } catch (e) {
      // An error answer stays an error answer whatever its body; a good one must arrive whole to count.
      if (!res.ok) text = '';
      else if (isRecoveryError(e))
        throw new RecoveryError(e.code, `${e.message} (${method} ${p})`, {
          hint: e.hint,
          details: { url, method, status: res.status },
        });
      else {
        const timedOut = (e as { name?: unknown }).name === 'TimeoutError';
        throw new RecoveryError(
          'APPLIANCE_UNREACHABLE',
          `The appliance API at ${url} did not finish its answer to ${method} ${p}${timedOut ? ` within ${this.api.timeoutMs} ms` : ''}.`,
          { hint: 'Is the service running? Check its status and log, then retry.', details: { url, method } },
        );
      }
    }
    if (!res.ok) {
      // Scrubbed whole, then cut: cut first, a secret across the cut would keep its first characters.
      const snippet = scrub(text, secrets).slice(0, 300).replace(/\s+/g, ' ').trim();
      throw new RecoveryError(
        'API_ERROR',
        `The appliance API answered ${res.status} ${res.statusText} to ${method} ${p}${snippet ? `: ${snippet}` : ''}`,
        { details: { url, method, status: res.status } },
      );
    }
    if (text.trim() === '') return { status: res.status, json: null };
    try {
      return { status: res.status, json: JSON.parse(text) as Json };
    } catch {
      throw new RecoveryError(
        'API_ERROR',
        `The appliance API answered ${method} ${p} with something that is not JSON.`,
        {
          details: { url, method, status: res.status },
        },
      );
    }
  }

  /** One value of the product's (a device id, a fact): a string or number at `pointer`, else null. */
  async value(endpoint: string, pointer: string): Promise<string | null> {
    const { json } = await this.request('GET', endpoint);
    const v = getPointer(json, pointer);
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return null;
  }

  async productVersion(): Promise<string> {
    const { json } = await this.request('GET', this.api.versionEndpoint);
    const pointers = this.api.versionPointers ?? [this.api.versionPointer];
    for (const ptr of pointers) {
      const v = getPointer(json, ptr);
      if (typeof v === 'string' && v.trim() !== '') return v.trim();
      if (typeof v === 'number') return String(v);
    }
    throw new RecoveryError(
      'API_ERROR',
      `The appliance's version answer (${this.api.versionEndpoint}) has no version at ${pointers.map((p) => `"${p}"`).join(' or ')}.`,
      { hint: 'Check versionPointers in the profile.' },
    );
  }

  /**
   * The resources a profile entry stands for on this appliance: none when the installed version is outside its
   * range, one per component for `forEach` (path "{id}" filled in), else itself. Each comes with the id its
   * entries are keyed by when the resource is one object (a data source has no Id field of its own).
   */
  async expand(
    r: CredentialResource,
    installedVersion: string | null,
  ): Promise<{ resource: CredentialResource; objectId?: string; skipped?: string }[]> {
    if (r.versions !== undefined && installedVersion !== null) {
      const v = installedVersion;
      if (r.versions.min !== undefined && compareVersions(v, r.versions.min) < 0) {
        return [{ resource: r, skipped: `${r.title}: not in version ${v} (from ${r.versions.min}).` }];
      }
      if (r.versions.below !== undefined && compareVersions(v, r.versions.below) >= 0) {
        return [{ resource: r, skipped: `${r.title}: not in version ${v} (before ${r.versions.below}).` }];
      }
    }
    if (r.forEach === undefined) return [{ resource: r }];
    const fe = r.forEach;
    let list: unknown;
    try {
      list = (await this.request('GET', fe.list)).json;
    } catch (e) {
      if (isNotFound(e)) return [{ resource: r, skipped: `${r.title}: ${fe.list} does not exist in this version.` }];
      throw e;
    }
    if (!Array.isArray(list))
      throw new RecoveryError('API_ERROR', `The appliance's answer for ${fe.list} is not a list.`);
    const out: { resource: CredentialResource; objectId?: string }[] = [];
    for (const el of list) {
      if (typeof el !== 'object' || el === null) continue;
      const o = el as Record<string, unknown>;
      if (fe.where && String(o[fe.where.field]) !== fe.where.equals) continue;
      const id = String(o[fe.idField] ?? '');
      if (!/^[A-Za-z0-9._-]+$/.test(id)) continue; // a component id becomes a path segment: nothing else gets in
      out.push({
        resource: { ...r, path: r.path.split('{id}').join(encodeURIComponent(id)), title: `${r.title} ${id}` },
        objectId: id,
      });
    }
    return out;
  }

  /** Never throws: a dead API is an unhealthy appliance, said in `detail`. */
  async health(): Promise<{ ok: boolean; detail: string }> {
    const p = this.api.healthEndpoint ?? this.api.versionEndpoint;
    try {
      const { status } = await this.request('GET', p);
      return { ok: true, detail: `${p} answered ${status}` };
    } catch (e) {
      return { ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * A failed expectation or a non-2xx answer is `ok: false` with the profile's message; an API that
   * does not answer at all throws APPLIANCE_UNREACHABLE, because then the check says nothing.
   */
  async runPrecheck(p: Precheck): Promise<{ ok: boolean; message: string }> {
    let json: Json;
    try {
      json = (await this.request('GET', p.path)).json;
    } catch (e) {
      if (e instanceof RecoveryError && e.code === 'API_ERROR')
        return { ok: false, message: `${p.failMessage} (${e.message})` };
      throw e;
    }
    if (p.expect === undefined) return { ok: true, message: `${p.title}: passed.` };
    const found = getPointer(json, p.expect.pointer);
    if (found === p.expect.equals) return { ok: true, message: `${p.title}: passed.` };
    return {
      ok: false,
      message: `${p.failMessage} (${p.expect.pointer} is ${JSON.stringify(found) ?? 'missing'}, expected ${JSON.stringify(p.expect.equals)})`,
    };
  }

  private entryPath(r: CredentialResource, entryId: string): string {
    return r.kind === 'collection' ? `${r.path}/${encodeURIComponent(entryId)}` : r.path;
  }

  private needsReentry(r: CredentialResource, e: Record<string, unknown>): boolean {
    if (r.statusField !== undefined) return r.statusNeedsReentry.includes(String(e[r.statusField]));
    // Without a status the product cannot tell us; secrets never survive a move, so every secret is asked for.
    return r.fieldSets.some((fs) => present(e[fs.secret]));
  }

  private toEntry(r: CredentialResource, e: Record<string, unknown>, objectId?: string): CredentialEntry | undefined {
    const set =
      r.fieldSets.find((fs) => present(e[fs.secret])) ??
      (r.statusField !== undefined
        ? r.fieldSets.find((fs) => fs.identity !== undefined && present(e[fs.identity]))
        : undefined);
    if (set === undefined) return undefined;
    const entryId = r.kind === 'collection' ? String(e[r.idField] ?? '') : (objectId ?? String(e[r.idField] ?? r.id));
    const name = r.nameField !== undefined && present(e[r.nameField]) ? String(e[r.nameField]) : entryId;
    const fields: CredentialField[] = [];
    if (set.identity !== undefined) {
      const v = e[set.identity];
      fields.push({
        name: set.identity,
        label: set.identity,
        secret: false,
        ...(present(v) ? { value: String(v) } : {}),
      });
    }
    fields.push({ name: set.secret, label: set.secret, secret: true });
    return { key: `${r.id}/${entryId}`, resourceId: r.id, resourceTitle: r.title, entryId, entryName: name, fields };
  }

  private async readEntries(r: CredentialResource): Promise<Record<string, unknown>[]> {
    const { json } = await this.request('GET', r.path);
    const list = r.kind === 'collection' ? json : [json];
    if (!Array.isArray(list)) {
      throw new RecoveryError('API_ERROR', `The appliance's answer for ${r.title} (${r.path}) is not a list.`, {
        hint: 'Check "kind" of this credential resource in the profile.',
      });
    }
    return list.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
  }

  /**
   * Entries whose secrets must be typed in again on this machine. A resource the appliance does not have
   * (404: another product version) has none, when the profile marks it as version-bound.
   */
  async credentialEntries(r: CredentialResource, objectId?: string): Promise<CredentialEntry[]> {
    const out: CredentialEntry[] = [];
    let entries: Record<string, unknown>[];
    try {
      entries = await this.readEntries(r);
    } catch (e) {
      if ((r.versions !== undefined || r.forEach !== undefined) && isNotFound(e)) return [];
      throw e;
    }
    for (const e of entries) {
      if (!this.needsReentry(r, e)) continue;
      const entry = this.toEntry(r, e, objectId);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  /** Sends the new values (PUT of the whole entry, or PATCH of the fields), then checks the product accepted them. */
  async applyCredentials(r: CredentialResource, entry: CredentialEntry, values: Record<string, string>): Promise<void> {
    const secrets = entry.fields.filter((f) => f.secret).map((f) => values[f.name] ?? '');
    const allowed = new Set(entry.fields.map((f) => f.name));
    for (const k of Object.keys(values)) {
      if (!allowed.has(k)) throw new RecoveryError('BAD_INPUT', `"${k}" is not a field of ${entry.entryName}.`);
    }
    for (const f of entry.fields) {
      if (f.secret && !present(values[f.name])) {
        throw new RecoveryError('BAD_INPUT', `Enter the ${f.label} of ${entry.entryName}.`);
      }
    }
    const p = this.entryPath(r, entry.entryId);
    if (r.method === 'PATCH') {
      // PATCH updates only what is sent: the secrets, and an identity only when the technician changed it.
      const patch: Record<string, string> = {};
      for (const f of entry.fields) {
        const v = values[f.name];
        if (v !== undefined && (f.secret || v !== f.value)) patch[f.name] = v;
      }
      await this.request('PATCH', p, patch, secrets);
    } else {
      // Every answer about this entry may hold the secret (stored by an earlier try of the same value): scrubbed too.
      const { json } = await this.request('GET', p, undefined, secrets);
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new RecoveryError('API_ERROR', `The appliance's answer for ${entry.entryName} (${p}) is not an object.`);
      }
      const full: Record<string, unknown> = { ...(json as Record<string, unknown>), ...values };
      // A status is the product's own verdict, not something we send back.
      if (r.statusField !== undefined) delete full[r.statusField];
      await this.request('PUT', p, full, secrets);
    }
    // The read-back holds the entry as now stored: a product's error answer may echo it, secret and all.
    const { json: after } = await this.request('GET', p, undefined, secrets);
    if (
      typeof after === 'object' &&
      after !== null &&
      r.statusField !== undefined &&
      this.needsReentry(r, after as Record<string, unknown>)
    ) {
      throw new RecoveryError(
        'API_ERROR',
        `The appliance still reports ${entry.entryName} as needing its ${entry.fields
          .filter((f) => f.secret)
          .map((f) => f.label)
          .join(', ')} re-entered after the update.`,
        { hint: 'Enter the value again; if it keeps failing, set it in the product’s own configuration tool.' },
      );
    }
  }
}

/**
 * The profile's API with the port this machine's product really listens on: EDS keeps it in appsettings.json
 * beside its binaries (/opt/OSIsoft/EdgeDataStore/, C:\Program Files\OSIsoft\EdgeDataStore\), outside the
 * backed-up folders, so a new box may differ from the old one. Without the file, `baseUrl` as written.
 */
export function apiWithPort(
  api: Api,
  opts: { root?: string | null; readFile?: (p: string) => string | null } = {},
): { api: Api; port: number | null; from: string | null } {
  if (api.portFile === undefined) return { api, port: null, from: null };
  const file = resolveItemPath(api.portFile.path, opts.root ? { root: opts.root } : {});
  // appsettings.json is a few KiB; a FIFO or a device in its place is not waited on (this read is synchronous).
  const read = opts.readFile ?? ((p: string) => readSmallFileSync(p, 1024 * 1024));
  const text = read(file);
  if (text === null) return { api, port: null, from: null };
  let port: unknown;
  try {
    // appsettings.json may start with a byte-order mark (Windows editors).
    port = getPointer(JSON.parse(text.replace(/^\uFEFF/, '')) as unknown, api.portFile.pointer);
  } catch {
    return { api, port: null, from: null };
  }
  const n = typeof port === 'string' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return { api, port: null, from: null };
  const u = new URL(api.baseUrl);
  u.port = String(n);
  return { api: { ...api, baseUrl: u.toString().replace(/\/$/, '') }, port: n, from: file };
}

/** How the port of the product's API is found on this machine, for the client and the http product steps alike. */
function apiOnThisMachine(
  api: Api,
  opts: { root?: string | null; service?: object },
): { api: Api; resolvePort?: () => Promise<number | null> } {
  const withPort = apiWithPort(api, { root: opts.root ?? null }).api;
  const svc = opts.service as { envPort?: (name: string) => Promise<number | null> } | undefined;
  const portEnv = api.portEnv;
  if (portEnv === undefined || typeof svc?.envPort !== 'function') return { api: withPort };
  const envPort = svc.envPort.bind(svc);
  return { api: withPort, resolvePort: () => envPort(portEnv) };
}

/**
 * The client for a profile on this machine: the port from appsettings.json (portFile), or from the Docker
 * container's environment (portEnv, asked of the service when the first request goes out), else baseUrl's.
 */
export function applianceClientFor(
  profile: Profile,
  opts: { root?: string | null; service?: object } = {},
): ApplianceClient | null {
  if (profile.api === undefined) return null;
  const { api, resolvePort } = apiOnThisMachine(profile.api, opts);
  const trustedUids = productAccounts(profile);
  // The profile names the product's account: every answer must come from it (or root), health and version too.
  const checkEveryRequest = profile.ownership?.user !== undefined;
  return new ApplianceClient(api, { ...(resolvePort ? { resolvePort } : {}), trustedUids, checkEveryRequest });
}

/**
 * The address of the product's API on this machine, as the client reaches it (applianceClientFor): the http
 * product steps go to the same port as the credentials, not to `baseUrl`'s when appsettings.json or the
 * container names another.
 */
export async function productApiBase(
  profile: Profile & { api: Api },
  opts: { root?: string | null; service?: object } = {},
): Promise<string> {
  const { api, resolvePort } = apiOnThisMachine(profile.api, opts);
  return baseWithPort(api.baseUrl, resolvePort ? await resolvePort().catch(() => null) : null);
}

/** `baseUrl` without its trailing slashes, on `port` when one is given. */
function baseWithPort(baseUrl: string, port: number | null): string {
  if (port === null) return baseUrl.replace(/\/+$/, '');
  const u = new URL(baseUrl);
  u.port = String(port);
  return u.toString().replace(/\/+$/, '');
}

/** The accounts the profile says the product (or its own steps) run as, present on this machine. */
function productAccounts(profile: Profile): number[] {
  const names = new Set<string>();
  if (profile.ownership?.user) names.add(profile.ownership.user);
  for (const s of profile.steps) if ((s.kind === 'command' || s.kind === 'reset') && s.user) names.add(s.user);
  const out: number[] = [];
  for (const n of names) {
    const uid = uidForUser(n);
    if (uid !== undefined) out.push(uid);
  }
  return out;
}
