import { RecoveryError } from '../errors.js';
import type { CredentialResource, Precheck, Profile } from '../profiles/schema.js';
import type { CredentialEntry, CredentialField } from '../runbook/types.js';
import { getPointer } from './json-pointer.js';

type Api = NonNullable<Profile['api']>;
type Json = unknown;

/** Replaces every secret value in a text; messages may quote an answer, never a secret. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[secret]');
  return out;
}

function isUnreachable(e: unknown): boolean {
  const name = (e as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return true;
  // undici: TypeError("fetch failed") with the socket error as its cause
  return e instanceof TypeError;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/** The product's local REST API, as the profile describes it. */
export class ApplianceClient {
  private readonly api: Api;
  private readonly fetchFn: typeof fetch;

  constructor(api: Api, opts: { fetch?: typeof fetch } = {}) {
    this.api = api;
    this.fetchFn = opts.fetch ?? fetch;
  }

  private url(p: string): string {
    return this.api.baseUrl.replace(/\/+$/, '') + p;
  }

  /** One request. `secrets` are scrubbed from anything that ends up in an error. */
  private async request(
    method: string,
    p: string,
    body?: Json,
    secrets: readonly string[] = [],
  ): Promise<{ status: number; json: Json }> {
    const url = this.url(p);
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
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      const snippet = scrub(text.slice(0, 300), secrets).replace(/\s+/g, ' ').trim();
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

  async productVersion(): Promise<string> {
    const { json } = await this.request('GET', this.api.versionEndpoint);
    const v = getPointer(json, this.api.versionPointer);
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    if (typeof v === 'number') return String(v);
    throw new RecoveryError(
      'API_ERROR',
      `The appliance's version answer (${this.api.versionEndpoint}) has no version at "${this.api.versionPointer}".`,
      { hint: 'Check versionPointer in the profile.' },
    );
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

  private toEntry(r: CredentialResource, e: Record<string, unknown>): CredentialEntry | undefined {
    const set =
      r.fieldSets.find((fs) => present(e[fs.secret])) ??
      (r.statusField !== undefined
        ? r.fieldSets.find((fs) => fs.identity !== undefined && present(e[fs.identity]))
        : undefined);
    if (set === undefined) return undefined;
    const entryId = r.kind === 'collection' ? String(e[r.idField] ?? '') : String(e[r.idField] ?? r.id);
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

  /** Entries whose secrets must be typed in again on this machine. */
  async credentialEntries(r: CredentialResource): Promise<CredentialEntry[]> {
    const out: CredentialEntry[] = [];
    for (const e of await this.readEntries(r)) {
      if (!this.needsReentry(r, e)) continue;
      const entry = this.toEntry(r, e);
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
      await this.request('PATCH', p, values, secrets);
    } else {
      const { json } = await this.request('GET', p);
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new RecoveryError('API_ERROR', `The appliance's answer for ${entry.entryName} (${p}) is not an object.`);
      }
      const full: Record<string, unknown> = { ...(json as Record<string, unknown>), ...values };
      // A status is the product's own verdict, not something we send back.
      if (r.statusField !== undefined) delete full[r.statusField];
      await this.request('PUT', p, full, secrets);
    }
    const { json: after } = await this.request('GET', p);
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
