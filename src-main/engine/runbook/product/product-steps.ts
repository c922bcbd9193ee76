import { constants, openAsBlob, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getPointer } from '../../appliance/json-pointer.js';
import {
  API_ANSWER_MAX,
  productApiBase,
  readAnswer,
  refuseForeignListener,
  scrub,
  trustedListenerUids,
} from '../../appliance/client.js';
import { RecoveryError, toRecoveryError } from '../../errors.js';
import { ProgressMeter, countOf, formatBytes } from '../../progress.js';
import type { Profile } from '../../profiles/schema.js';
import type { CommandAction, HttpAction, ProductStep, StepPoint } from '../../profiles/steps-schema.js';
import { serviceFor } from '../../service/index.js';
import type { Step, StepContext } from '../runner.js';
import { copyHashed, globFiles, type ArtifactRecord } from './artifacts.js';
import { decryptOpensslEnc } from './openssl-enc.js';
import { accountFor, runCommand } from './run-command.js';
import { boundText } from '../../profiles/safe-pattern.js';
import { removeTreeNoFollow } from '../../util/safe-delete.js';
import { SafeDir, namedByPath, openDirBelow, openFolderTo, procFdPath } from '../../util/atomic-fs.js';
import { fileKind, openRegularFile, openRegularOrRefuse } from '../../util/given-path.js';

/** What product steps remember while a job runs; the restore keeps it in its journal (resume, rollback). */
export interface ProductState {
  /** The job's work folder ({work}). */
  work?: string;
  /** A second service's state before a service step changed it (step id → state). */
  before: Record<string, string>;
  /** Where a followed log stood when its point began (step id → byte offset). */
  offsets: Record<string, number>;
  /** Product steps that completed, in order: their undo runs in reverse. */
  done: string[];
  /** Values http steps captured from their answers ({var:<name>}). */
  vars?: Record<string, string>;
}

export function emptyProductState(): ProductState {
  return { before: {}, offsets: {}, done: [] };
}

/** What a runbook lends its product steps. */
export interface ProductHost {
  profile: Profile;
  root: string | null;
  /** The technician's name for the backup ({label}). */
  label: string;
  device: string;
  /** The product's passphrase: only ever written to a program's input, never logged. */
  passphrase: string | undefined;
  signal: AbortSignal | undefined;
  pollMs?: number;
  state: ProductState;
  save(): Promise<void>;
  /**
   * Backup: the set folder being written (created by the archive step), held open: the product's files go into it
   * through this descriptor, never by its path on the stick.
   */
  setFolder?(): SafeDir;
  addArtifact?(r: ArtifactRecord): void;
  /** Restore: the set folder and the artifacts its manifest lists. */
  backupDir?: string;
  artifacts?(): ArtifactRecord[];
}

/** A product step's runbook id: its own, which the schema keeps apart from the runbooks' ids. */
export function stepsAt(profile: Profile, point: StepPoint): ProductStep[] {
  return profile.steps.filter((s) => s.at === point);
}

/** Product steps that change the machine (a failure after one leaves something to roll back). */
export function changesMachine(s: ProductStep): boolean {
  return (
    s.kind === 'reset' ||
    s.kind === 'command' ||
    (s.kind === 'service' && s.service.manager !== 'none' && (s.action === 'stop' || s.action === 'start')) ||
    (s.kind === 'http' && s.method !== 'GET')
  );
}

/** The user who owns the work folder: the first step that runs as a named user. */
function workOwner(profile: Profile): string | undefined {
  for (const s of profile.steps) if ((s.kind === 'command' || s.kind === 'reset') && s.user) return s.user;
  return undefined;
}

export async function ensureWork(h: ProductHost): Promise<string> {
  if (h.state.work !== undefined) {
    const st = await fsp.lstat(h.state.work).catch(() => null);
    if (st !== null && st.isDirectory() && !st.isSymbolicLink()) return h.state.work;
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'edge-recovery-work-'));
  await fsp.chmod(dir, 0o700);
  const owner = workOwner(h.profile);
  if (owner !== undefined && process.platform !== 'win32' && process.getuid?.() === 0) {
    const a = accountFor(owner);
    await fsp.chown(dir, a.uid, a.gid);
  }
  h.state.work = dir;
  await h.save();
  return dir;
}

export async function removeWork(h: ProductHost): Promise<void> {
  if (h.state.work === undefined) return;
  // The folder may belong to the product's account, which can swap anything in it for a link at any moment: deleted
  // by descriptor, never following a link (a path-based recursive delete went down such links as root).
  removeTreeNoFollow(h.state.work);
  delete h.state.work;
  await h.save();
}

/**
 * {artifact:id} on a restore: a hash-checked copy of the newest file of that artifact, in the work folder; with
 * `decrypt` ({artifact-decrypted:id}), that copy decrypted (both openssl forms) in its place.
 */
async function artifactCopy(h: ProductHost, id: string, decrypt = false): Promise<string> {
  const rec = h.artifacts?.().find((r) => r.step === id);
  if (rec === undefined || h.backupDir === undefined) {
    throw new RecoveryError('BACKUP_INCOMPLETE', `The backup holds no file of the artifact "${id}".`, {
      hint: 'Was it made with this profile? Pick a backup made by the same procedure.',
    });
  }
  const work = await ensureWork(h);
  const name = path.posix.basename(rec.path);
  // The work folder may be the product's account's, in /tmp: that account can rename it away and put a link by its
  // name at any moment. Everything root does there (the copy, its hand-over, the decryption and the deletion of the
  // encrypted copy) goes through the folder opened here (never a link), not to wherever the path leads by then: else
  // root would hand over, delete or write a file by that name in a folder the account linked there.
  const into = await SafeDir.open(work);
  try {
    await fsp.rm(into.at(name), { force: true });
    await copyHashed(
      path.join(h.backupDir, ...rec.path.split('/')),
      { dir: into, name },
      {
        expectSha256: rec.sha256,
        ...(h.signal ? { signal: h.signal } : {}),
      },
    );
    if (!decrypt) {
      await chownToWorkOwner(h, into, name);
      return path.join(work, name);
    }
    if (h.passphrase === undefined || h.passphrase === '') {
      throw new RecoveryError('PASSPHRASE_REQUIRED', "Decrypting the product's backup needs its passphrase.", {
        hint: 'Give it with --passphrase-file (or type it when asked).',
        ui: { hint: 'Type the passphrase of this backup.' },
      });
    }
    const plain = name.endsWith('.enc') && name !== '.enc' ? name.slice(0, -4) : `${name}.dec`;
    try {
      await decryptOpensslEnc(into.at(name), h.passphrase, into.at(plain));
    } catch (e) {
      throw namedByPath(e, into);
    }
    await fsp.rm(into.at(name), { force: true });
    await chownToWorkOwner(h, into, plain);
    return path.join(work, plain);
  } finally {
    await into.close();
  }
}

/**
 * Hands a file root just wrote in the work folder (held open: `dir`) to the account the product's program runs as.
 * That account owns the folder and may have swapped the name for a link (to /etc/shadow) or a file of its own since:
 * the file is opened without following a link and given away only if it is still root's own, single-linked regular
 * file, by descriptor.
 */
async function chownToWorkOwner(h: ProductHost, dir: SafeDir, name: string): Promise<void> {
  const owner = workOwner(h.profile);
  if (owner !== undefined && process.platform !== 'win32' && process.getuid?.() === 0) {
    const a = accountFor(owner);
    const file = path.join(dir.dir, name);
    const swapped = (): RecoveryError =>
      new RecoveryError(
        'UNSAFE_PATH',
        `${file} was replaced while the tool worked on it (a link or a file of another account): it was not handed to the user "${owner}". Nothing else was changed.`,
        {
          hint: `Something running as "${owner}" changes the tool's work folder: check that account, then start again.`,
        },
      );
    const fh = await openRegularOrRefuse(dir.at(name), (why) =>
      'error' in why ? (namedByPath(why.error, dir) as Error) : swapped(),
    );
    try {
      const st = await fh.stat();
      if (st.uid !== process.geteuid?.() || st.nlink !== 1) throw swapped();
      await fh.chown(a.uid, a.gid);
    } finally {
      await fh.close();
    }
  }
}

/** Where a download (an http step's saveTo) may go: a file directly in the work folder. */
export const WORK_PREFIX = '{work}/';

const PLACEHOLDER =
  /\{(work|root|label|device|passphrase|var:[a-z][a-z0-9-]*|artifact:[a-z0-9-]+|artifact-stem:[a-z0-9-]+|artifact-decrypted:[a-z0-9-]+)\}/g;

/** Fills placeholders; `secretOk` only where the value goes to a program's input. */
async function fill(h: ProductHost, text: string, secretOk = false): Promise<string> {
  const found = [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  const vals = new Map<string, string>();
  for (const k of found) {
    if (vals.has(k)) continue;
    if (k === 'work') vals.set(k, await ensureWork(h));
    else if (k === 'root') vals.set(k, h.root ?? '');
    else if (k === 'label') vals.set(k, h.label);
    else if (k === 'device') vals.set(k, h.device);
    else if (k.startsWith('var:')) {
      const v = h.state.vars?.[k.slice(4)];
      if (v === undefined) {
        throw new RecoveryError('BAD_PROFILE', `No earlier step captured the value "${k.slice(4)}" this step needs.`, {
          hint: 'The profile must capture it in an http step that runs before this one.',
        });
      }
      vals.set(k, v);
    } else if (k === 'passphrase') {
      if (!secretOk) throw new RecoveryError('BAD_PROFILE', '{passphrase} may only be answered to a prompt.');
      if (h.passphrase === undefined || h.passphrase === '') {
        throw new RecoveryError('PASSPHRASE_REQUIRED', "This step needs the product's backup passphrase.", {
          hint: 'Give it with --passphrase-file (or type it when asked).',
          ui: { hint: 'Type the passphrase of this backup.' },
        });
      }
      vals.set(k, h.passphrase);
    } else if (k.startsWith('artifact:')) {
      vals.set(k, await artifactCopy(h, k.slice(9)));
    } else if (k.startsWith('artifact-decrypted:')) {
      // The product's encrypted backup, decrypted by the tool (both openssl forms) into the work folder.
      vals.set(k, await artifactCopy(h, k.slice(19), true));
    } else if (k.startsWith('artifact-stem:')) {
      const rec = h.artifacts?.().find((r) => r.step === k.slice(14));
      if (rec === undefined)
        throw new RecoveryError('BACKUP_INCOMPLETE', `The backup holds no artifact "${k.slice(14)}".`);
      vals.set(k, path.posix.basename(rec.path).replace(/(\.tar)?(\.gz)?(\.enc)?$/, ''));
    }
  }
  return text.replace(PLACEHOLDER, (_m, k: string) => vals.get(k) ?? '');
}

/** A path from the profile: taken as written, after placeholders ({root} puts it under --root). */
async function place(h: ProductHost, template: string): Promise<string> {
  return fill(h, template);
}

function secrets(h: ProductHost): string[] {
  return h.passphrase ? [h.passphrase] : [];
}

/**
 * The folder a command runs in, held open (not on Windows: its path). The program is started in the folder held
 * (/proc/self/fd/<n>: the child enters it before it runs anything), never where the path leads by then: the work
 * folder, and anything in it, is the product's account's when a step runs as that account, and the account may put
 * a link to a root-only folder by its name (or a folder's in it) at any moment, so root's program ran there (its
 * relative paths read and wrote in /etc). The folder is reached as openFolderTo reaches it: each folder on the way
 * through the one above it, following only links no other account could have put (root's, in a folder only root
 * may write), so a link in the work folder, or in a folder of the product's own that its account owns, is refused.
 */
async function openCwd(dir: string, program: string): Promise<SafeDir | string> {
  if (process.platform === 'win32') return dir;
  const abs = path.resolve(dir);
  try {
    return await openFolderTo(abs);
  } catch (e) {
    const code = e instanceof RecoveryError ? e.code : (e as NodeJS.ErrnoException).code;
    if (code === 'UNSAFE_PATH') {
      throw new RecoveryError(
        'UNSAFE_PATH',
        `The folder ${abs} that ${path.basename(program)} runs in was not entered, so the step did not run: ${(e as Error).message.replace(/: nothing was written there\.$/, '.')}`,
        {
          hint: "Check the product's account and what it put there, then start again.",
          details: { path: abs },
        },
      );
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new RecoveryError(
        'STEP_FAILED',
        `The folder ${abs} that ${path.basename(program)} runs in does not exist, so the step did not run.`,
        { hint: "Check the step's cwd in the profile. Nothing was changed by this step." },
      );
    }
    throw toRecoveryError(e, abs);
  }
}

async function runCommandAction(
  h: ProductHost,
  a: CommandAction,
  timeoutSeconds: number,
  s: Pick<StepContext, 'log'>,
): Promise<string> {
  const argv = [await place(h, a.argv[0]!)];
  for (const x of a.argv.slice(1)) argv.push(await fill(h, x));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.env)) env[k] = await fill(h, v);
  const answers: Array<{ prompt: string; answer: string }> = [];
  for (const x of a.answers) answers.push({ prompt: x.prompt, answer: await fill(h, x.answer, true) });
  const cwd = await openCwd(a.cwd !== undefined ? await place(h, a.cwd) : await ensureWork(h), argv[0]!);
  try {
    const r = await runCommand({
      argv,
      cwd: typeof cwd === 'string' ? cwd : cwd.self,
      env,
      ...(a.user !== undefined ? { user: a.user } : {}),
      answers,
      ...(a.stdin !== undefined ? { stdin: await fill(h, a.stdin, true) } : {}),
      ...(a.successPattern !== undefined ? { successPattern: a.successPattern } : {}),
      ...(a.failurePattern !== undefined ? { failurePattern: a.failurePattern } : {}),
      exitCodes: a.exitCodes,
      timeoutMs: timeoutSeconds * 1000,
      secrets: secrets(h),
      ...(h.signal ? { signal: h.signal } : {}),
      onLine: (l) => s.log(`${path.basename(argv[0]!)}: ${l}`),
    });
    const last = r.tail.filter((l) => l.trim() !== '').slice(-3);
    return `${path.basename(argv[0]!)} ended with exit code ${r.code}${r.sawSuccess ? ', reporting success' : ''}.${last.length ? ` Last output: ${last.join(' | ')}` : ''}`;
  } finally {
    if (typeof cwd !== 'string') await cwd.close();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new RecoveryError('CANCELLED'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A try whose answer stopped after its headers (the timeout, or the connection dropped): tried again. */
function answerCut(e: unknown): string {
  return `the answer did not finish (${(e as Error).name === 'TimeoutError' ? 'timed out' : 'connection dropped'})`;
}

/**
 * The file an http step uploads: a file directly in the work folder (profile rules: "{work}/<name>", or the tool's
 * copy of an artifact there), opened through the folder held open, never by its path. The product's account may own
 * the folder: a link it put there (to /etc/shadow), or the folder itself swapped for a link to a root-only folder, is
 * not followed, a FIFO not waited on; only a regular file is sent.
 */
async function openUpload(h: ProductHost, template: string): Promise<{ body: Blob; close: () => Promise<void> }> {
  const file = await place(h, template);
  const work = await ensureWork(h);
  if (path.dirname(path.resolve(file)) !== path.resolve(work)) {
    throw new RecoveryError('BAD_PROFILE', `${file} is not a file directly in the work folder: nothing was uploaded.`, {
      hint: 'An upload comes from the work folder: "{work}/<file name>", "{artifact:<id>}" or "{artifact-decrypted:<id>}".',
    });
  }
  const into = await SafeDir.open(work).catch((e: unknown) => {
    throw e instanceof RecoveryError && e.code === 'UNSAFE_PATH'
      ? new RecoveryError(
          'UNSAFE_PATH',
          `The work folder ${work} is a link: it is not followed, nothing was uploaded.`,
          {
            hint: "Something replaced the tool's work folder: check the product's account, then start again.",
          },
        )
      : e;
  });
  let fh: fsp.FileHandle;
  try {
    fh = await openRegularOrRefuse(into.at(path.basename(file)), (why) =>
      'error' in why
        ? (namedByPath(why.error, into) as Error)
        : 'link' in why
          ? new RecoveryError('UNSAFE_PATH', `${file} is a link: it is not followed, nothing was uploaded.`, {
              hint: "Something replaced the file the tool put in its work folder: check the product's account, then start again.",
            })
          : new RecoveryError('UNSAFE_PATH', `${file} is not a regular file: nothing was uploaded.`),
    );
  } finally {
    await into.close();
  }
  try {
    // One name only: a second name the account gave a file it may not read (ln /etc/shadow {work}/x: any account may
    // where fs.protected_hardlinks is 0, the kernel's default) is opened as root like any file in its folder.
    const { nlink } = await fh.stat();
    if (nlink !== 1) {
      throw new RecoveryError(
        'UNSAFE_PATH',
        `${file} has ${nlink} names (a hard link to a file elsewhere, which may be anyone's): nothing was uploaded.`,
        {
          hint: "Something replaced the file the tool put in its work folder: check the product's account, then start again.",
        },
      );
    }
    // Linux: the body is the file itself, read as it is sent (a product's backup can be large: memory holds a chunk
    // of it, not all of it, twice). /proc/self/fd/<n> is the inode opened above for as long as `fh` stays open.
    if (process.platform === 'linux') {
      return { body: await openAsBlob(procFdPath(fh.fd)), close: () => fh.close() };
    }
    const data = await fh.readFile();
    await fh.close();
    return { body: new Blob([data]), close: () => Promise.resolve() };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * Whose listener on the API port an http step trusts: root's, ours, the accounts the profile names
 * (trustedListenerUids), and the account the product's service runs as while it runs (the owner of its main
 * process), which a profile need not name (EVC-net Edge's is not documented). A stopped product trusts no one else.
 */
async function trustedNow(h: ProductHost): Promise<ReadonlySet<number>> {
  const named = trustedListenerUids(h.profile);
  if (process.platform !== 'linux') return named;
  const st = await serviceFor(h.profile.service, h.pollMs === undefined ? {} : { pollMs: h.pollMs })
    .status()
    .catch(() => null);
  if (st?.state !== 'running' || st.pid === undefined) return named;
  const uid = (await fsp.stat(`/proc/${st.pid}`).catch(() => null))?.uid;
  return uid === undefined ? named : new Set([...named, uid]);
}

async function runHttpAction(
  h: ProductHost,
  a: HttpAction,
  timeoutSeconds: number,
  s: Pick<StepContext, 'log'>,
): Promise<string> {
  // The upload is opened once, for every try, and closed when the step ends.
  const upload = a.upload !== undefined ? await openUpload(h, a.upload) : null;
  try {
    return await httpTries(h, a, timeoutSeconds, s, upload?.body);
  } finally {
    await upload?.close();
  }
}

async function httpTries(
  h: ProductHost,
  a: HttpAction,
  timeoutSeconds: number,
  s: Pick<StepContext, 'log'>,
  upload: Blob | undefined,
): Promise<string> {
  const api = h.profile.api!;
  const shownPath = await fill(h, a.path);
  // The port the credentials go to as well (appsettings.json's, the container's), not only `baseUrl`'s.
  const service = serviceFor(h.profile.service, h.pollMs === undefined ? {} : { pollMs: h.pollMs });
  const url = (await productApiBase({ ...h.profile, api }, { root: h.root, service })) + shownPath;
  const body: string | Blob | undefined =
    upload !== undefined ? upload : a.body === undefined ? undefined : await fill(h, JSON.stringify(a.body));
  const contentType = a.upload !== undefined ? 'application/octet-stream' : 'application/json';
  // What goes out is the product's backup or values taken from its answers (a token): never to a listener of
  // another account on the API port (listener-owner.ts), held to the credentials' rule. When the profile names the
  // product's account, no answer is taken from such a listener either (it may set what later steps use).
  const sends = body !== undefined || a.path.includes('{var:');
  const checked = sends || h.profile.ownership?.user !== undefined;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = '';
  for (let attempt = 0; attempt <= a.retries; attempt++) {
    if (attempt > 0) {
      s.log(`${a.method} ${shownPath}: ${last}; trying again in ${a.retryDelaySeconds} s (${attempt}/${a.retries}).`);
      await sleep(a.retryDelaySeconds * 1000, h.signal);
    }
    if (Date.now() > deadline) break;
    // Before every try: the port can change hands between two (a restart).
    if (checked) {
      refuseForeignListener(url, await trustedNow(h), {
        notSent: `Nothing was sent${a.upload !== undefined ? " (the product's backup was not uploaded)" : ''}, and no answer from it is taken for the product's.`,
        then: 'retry',
      });
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: a.method,
        headers: body === undefined ? { accept: '*/*' } : { accept: '*/*', 'content-type': contentType },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(Math.max(1000, Math.min(api.timeoutMs, deadline - Date.now()))),
        // The API is held to this machine (profile rules) because what goes there is private (an upload of the
        // product's backup): a redirect is not followed anywhere else.
        redirect: 'manual',
      });
    } catch (e) {
      last = `no answer (${(e as Error).name === 'TimeoutError' ? 'timed out' : 'connection refused or failed'})`;
      continue;
    }
    if (res.status >= 300 && res.status < 400 && !a.expect.status.includes(res.status)) {
      await res.body?.cancel().catch(() => undefined);
      throw new RecoveryError(
        'STEP_FAILED',
        `${a.method} ${shownPath} was answered with a redirect (HTTP ${res.status}): it is not followed, nothing was sent there.`,
        { hint: "Check the profile's api.baseUrl (http or https, the product's port on this machine)." },
      );
    }
    if (!a.expect.status.includes(res.status)) {
      last = `HTTP ${res.status}`;
      await res.body?.cancel().catch(() => undefined); // not read: its size is the sender's choice
      continue;
    }
    if (a.saveTo !== undefined) {
      // Written to its file as it arrives (a product's backup export can be large): memory holds one chunk of it.
      // Only into the work folder (profile rules: "{work}/<name>"), through the folder opened here: the product's
      // account may own it and put a link to a root-only folder by its name, and a path anywhere else (an untrusted
      // profile's /etc/cron.d/…) had root delete and write any file with the answer.
      const work = await ensureWork(h);
      const name = await fill(h, a.saveTo.slice(WORK_PREFIX.length));
      const to = path.join(work, name);
      const into = await SafeDir.open(work);
      let size = 0;
      let cut: string | null = null;
      try {
        const at = into.at(name);
        await fsp.rm(at, { force: true });
        const fh = await fsp.open(
          at,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        try {
          const reader = res.body?.getReader();
          for (;;) {
            let chunk: ReadableStreamReadResult<Uint8Array>;
            try {
              if (reader === undefined) break;
              chunk = await reader.read();
            } catch (e) {
              cut = answerCut(e);
              break;
            }
            if (chunk.done) break;
            await fh.write(chunk.value);
            size += chunk.value.byteLength;
          }
          if (cut === null) await fh.sync();
        } finally {
          await fh.close();
        }
      } finally {
        await into.close();
      }
      if (cut !== null) {
        last = cut;
        continue;
      }
      return `${a.method} ${shownPath}: HTTP ${res.status}, saved ${formatBytes(size)} to ${to}.`;
    }
    let text: string;
    try {
      // At most API_ANSWER_MAX: no answer a step reads comes near it; more is not read (memory stays bounded).
      text = await readAnswer(res);
    } catch (e) {
      if (e instanceof RecoveryError) {
        throw new RecoveryError(
          'STEP_FAILED',
          `${a.method} ${shownPath} was answered with more than ${API_ANSWER_MAX / 1024 / 1024} MiB: reading stopped.`,
          { hint: "Check that the profile's api.baseUrl reaches the product, and the product's state and log." },
        );
      }
      last = answerCut(e);
      continue;
    }
    const captures = Object.entries(a.capture);
    if (captures.length > 0) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        last = `HTTP ${res.status} but the answer is not JSON`;
        continue;
      }
      const got: Record<string, string> = {};
      for (const [name, ptr] of captures) {
        const v = getPointer(json, ptr);
        if (typeof v !== 'string' && typeof v !== 'number') break;
        got[name] = String(v);
      }
      if (Object.keys(got).length < captures.length) {
        last = `the answer lacks ${captures.map(([, p]) => p).join(', ')}`;
        continue;
      }
      h.state.vars = { ...h.state.vars, ...got };
      await h.save();
    }
    if (a.expect.pointer !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        last = `HTTP ${res.status} but the answer is not JSON`;
        continue;
      }
      const v = getPointer(json, a.expect.pointer);
      if (a.expect.equals !== undefined && v !== a.expect.equals) {
        last = `${a.expect.pointer} is ${JSON.stringify(v)}, not ${JSON.stringify(a.expect.equals)}`;
        continue;
      }
      if (a.expect.equals === undefined && v === undefined) {
        last = `${a.expect.pointer} is missing from the answer`;
        continue;
      }
    }
    return `${a.method} ${shownPath}: HTTP ${res.status}${a.expect.pointer !== undefined ? `, ${a.expect.pointer} as expected` : ''}${attempt > 0 ? ` (after ${attempt} retr${attempt === 1 ? 'y' : 'ies'})` : ''}.`;
  }
  throw new RecoveryError(
    a.precheck ? 'PRECHECK_FAILED' : Date.now() > deadline ? 'STEP_TIMEOUT' : 'STEP_FAILED',
    `${a.method} ${shownPath} did not answer as expected after ${a.retries + 1} tr${a.retries === 0 ? 'y' : 'ies'}: ${scrub(last, secrets(h))}.`,
    { hint: a.failMessage ?? "Check the product's state and log, then retry." },
  );
}

async function fileSize(f: string): Promise<number> {
  return (await fsp.stat(f).catch(() => null))?.size ?? 0;
}

async function followLog(
  h: ProductHost,
  step: Extract<ProductStep, { kind: 'follow-log' }>,
  s: Pick<StepContext, 'log'>,
): Promise<string> {
  const file = await place(h, step.file);
  let offset = h.state.offsets[step.id] ?? (await fileSize(file));
  const ok = new RegExp(step.successPattern);
  const bad = step.failurePattern !== undefined ? new RegExp(step.failurePattern) : null;
  const deadline = Date.now() + step.timeoutSeconds * 1000;
  let partial = '';
  let lastLine = '';
  for (;;) {
    if (h.signal?.aborted) throw new RecoveryError('CANCELLED');
    const size = await fileSize(file);
    if (size < offset) offset = 0; // rotated or truncated: read the new file from its start
    if (size > offset) {
      // The product's account may swap its log between the stat above and this open: only a regular file is
      // opened (never a link, a device, or a FIFO whose open would wait for a writer for ever, past the timeout).
      const opened = await openRegularFile(file, { noFollow: true });
      if (opened.fh === null) {
        throw new RecoveryError(
          'UNSAFE_PATH',
          `${file} is not a regular file: it is ${fileKind(opened.st)}. It was not read.`,
          { hint: "Something replaced the product's log: check the product's account, then retry or roll back." },
        );
      }
      const fh = opened.fh;
      try {
        const len = Math.min(size - offset, 4 * 1024 * 1024);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        offset += bytesRead;
        partial += buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        s.log(`${path.basename(file)}: ${l}`);
        lastLine = l;
        if (bad?.test(boundText(l))) {
          throw new RecoveryError('STEP_FAILED', `${file} reports a failure: ${l}`, {
            hint: "Read the product's log; fix the cause, then retry or roll back.",
          });
        }
        if (ok.test(boundText(l))) return `${path.basename(file)} says: ${l}`;
      }
    }
    if (Date.now() >= deadline) {
      throw new RecoveryError(
        'STEP_TIMEOUT',
        `${file} did not report /${step.successPattern}/ within ${step.timeoutSeconds} s.${lastLine ? ` Its last line: ${lastLine}` : ''}`,
        { hint: 'The product may still be working: check its log, then retry or roll back.' },
      );
    }
    await sleep(h.pollMs ?? 200, h.signal);
  }
}

async function serviceAction(
  h: ProductHost,
  id: string,
  action: 'stop' | 'start' | 'wait-running' | 'wait-stopped',
  spec: Profile['service'],
  timeoutSeconds: number,
  record: boolean,
): Promise<string> {
  const svc = serviceFor(spec, h.pollMs === undefined ? {} : { pollMs: h.pollMs });
  const st = await svc.status();
  if (record && h.state.before[id] === undefined) {
    h.state.before[id] = st.state;
    await h.save();
  }
  const ms = timeoutSeconds * 1000;
  switch (action) {
    case 'stop':
      if (st.state !== 'stopped') await svc.stop();
      await svc.waitFor('stopped', ms, h.signal);
      return `${svc.label} is stopped (it was ${st.state}).`;
    case 'start':
      if (st.state !== 'running') await svc.start();
      await svc.waitFor('running', ms, h.signal);
      return `${svc.label} runs (it was ${st.state}).`;
    case 'wait-running':
      await svc.waitFor('running', ms, h.signal).catch((e: unknown) => {
        throw new RecoveryError('STEP_TIMEOUT', `${svc.label} is not running: ${toRecoveryError(e).message}`, {
          hint: 'It must run for this step (the product needs it). Start it, then retry.',
        });
      });
      return `${svc.label} runs.`;
    case 'wait-stopped':
      await svc.waitFor('stopped', ms, h.signal);
      return `${svc.label} is stopped.`;
  }
}

async function takeArtifact(
  h: ProductHost,
  step: Extract<ProductStep, { kind: 'artifact' }>,
  s: Pick<StepContext, 'log' | 'progress'>,
): Promise<string> {
  if (h.setFolder === undefined || h.addArtifact === undefined) {
    throw new RecoveryError('INTERNAL', 'An artifact step ran outside a backup.');
  }
  const set = h.setFolder();
  let files: Array<{ file: string; rel: string; mtimeMs: number }>;
  if (step.mode === 'produced') {
    const file = await place(h, step.path!);
    const st = await fsp.lstat(file).catch(() => null);
    files = st === null ? [] : [{ file, rel: path.basename(file), mtimeMs: st.mtimeMs }];
  } else {
    const dir = await place(h, step.dir!);
    const minTime = step.maxAgeDays !== undefined ? Date.now() - step.maxAgeDays * 86_400_000 : -Infinity;
    files = (await globFiles(dir, await fill(h, step.glob!)))
      .filter((f) => f.mtimeMs >= minTime)
      .sort((a, b) => b.mtimeMs - a.mtimeMs || b.rel.localeCompare(a.rel))
      .slice(0, step.newest);
  }
  if (files.length < step.minCount) {
    const where = step.mode === 'produced' ? await place(h, step.path!) : `${await place(h, step.dir!)}/${step.glob}`;
    throw new RecoveryError('STEP_FAILED', `No file to take: nothing at ${where}.`, {
      hint:
        step.mode === 'produced'
          ? 'The step that should have written it did not: read its output above.'
          : 'The product has written no backup there yet (or they are older than the profile accepts).',
    });
  }
  let total = 0;
  for (const f of files) total += (await fsp.stat(f.file)).size;
  const meter = new ProgressMeter('copying', { bytes: total, files: files.length }, s.progress);
  for (const f of files) {
    const rel = `artifacts/${step.id}/${f.rel}`;
    const names = rel.split('/');
    // Made and opened below the held set folder, one level at a time, never through a link (an account that may
    // write the stick's device folder can swap the set's own path for a link while this runs).
    const into = await openDirBelow(set, names.slice(0, -1));
    let r: Awaited<ReturnType<typeof copyHashed>>;
    try {
      r = await copyHashed(
        f.file,
        { dir: into, name: names[names.length - 1]! },
        {
          onBytes: (n) => meter.add(n, 0, f.rel),
          ...(h.signal ? { signal: h.signal } : {}),
        },
      );
    } finally {
      await into.close();
    }
    meter.add(0, 1);
    h.addArtifact({
      step: step.id,
      path: rel,
      size: r.size,
      sha256: r.sha256,
      source: f.file,
      mtime: r.mtime.toISOString(),
      format: step.format,
    });
    s.log(`Copied ${f.file} (${formatBytes(r.size)}, sha256 ${r.sha256.slice(0, 12)}…) into the backup.`);
  }
  meter.flush();
  return `${countOf(files.length, 'file')}, ${formatBytes(total)}, copied into the backup with their checksums: ${files.map((f) => f.rel).join(', ')}.`;
}

/** Runs one product step (the runbook has already confirmed it when it asks for confirmation). */
export async function runProductStep(
  h: ProductHost,
  step: ProductStep,
  s: Pick<StepContext, 'log' | 'progress'>,
): Promise<string> {
  let summary: string;
  switch (step.kind) {
    case 'command':
    case 'reset':
      summary = await runCommandAction(h, step, step.timeoutSeconds, s);
      break;
    case 'http':
      summary = await runHttpAction(h, step, step.timeoutSeconds, s);
      break;
    case 'follow-log':
      summary = await followLog(h, step, s);
      break;
    case 'service':
      summary = await serviceAction(h, step.id, step.action, step.service, step.timeoutSeconds, true);
      break;
    case 'artifact':
      summary = await takeArtifact(h, step, s);
      break;
  }
  if (!h.state.done.includes(step.id)) h.state.done.push(step.id);
  await h.save();
  return summary;
}

/** What undoing a step would do, in plain words, or null when it has no undo. */
export function undoWords(step: ProductStep): string | null {
  if (step.undo?.kind === 'command') return `run ${step.undo.argv.join(' ')}`;
  if (step.undo?.kind === 'http') return `${step.undo.method} ${step.undo.path}`;
  if (step.kind === 'service' && (step.action === 'stop' || step.action === 'start')) {
    return `put ${step.service.name} back as it was`;
  }
  return null;
}

/**
 * Undoes the product steps that completed, newest first: a declared undo, or a second service put back
 * in the state it was in. Failures are reported and the others still run.
 */
export async function undoProductSteps(
  h: ProductHost,
  log: (message: string, level?: 'info' | 'warn') => void,
): Promise<string[]> {
  const lines: string[] = [];
  for (const id of [...h.state.done].reverse()) {
    const step = h.profile.steps.find((x) => x.id === id);
    if (step === undefined) continue;
    try {
      if (step.undo?.kind === 'command') {
        lines.push(`${step.title}: undone (${await runCommandAction(h, step.undo, step.timeoutSeconds, { log })})`);
      } else if (step.undo?.kind === 'http') {
        lines.push(`${step.title}: undone (${await runHttpAction(h, step.undo, step.timeoutSeconds, { log })})`);
      } else if (step.kind === 'service' && (step.action === 'stop' || step.action === 'start')) {
        const before = h.state.before[step.id];
        if (before === 'running' || before === 'starting') {
          lines.push(`${step.title}: ${await serviceAction(h, id, 'start', step.service, step.timeoutSeconds, false)}`);
        } else if (before === 'stopped') {
          lines.push(`${step.title}: ${await serviceAction(h, id, 'stop', step.service, step.timeoutSeconds, false)}`);
        }
      } else if (step.kind === 'reset') {
        lines.push(`${step.title}: a reset to defaults cannot be undone; the restored data was never applied.`);
      }
    } catch (e) {
      const msg = `Could not undo "${step.title}": ${toRecoveryError(e).message}`;
      log(msg, 'warn');
      lines.push(msg);
    }
    h.state.done = h.state.done.filter((x) => x !== id);
    await h.save();
  }
  return lines;
}

/**
 * The runbook steps for one point: each explains itself, asks when the profile (or its kind) says it is
 * destructive, and runs through runProductStep. Follow-log steps note where their log stands when the
 * point begins, so a line written by an earlier step of the point is not missed.
 */
/** The product steps done so far that changed the machine and that nothing undoes (a cancel or a rollback keeps them). */
export function doneForGood(h: ProductHost): ProductStep[] {
  return h.state.done
    .map((id) => h.profile.steps.find((s) => s.id === id))
    .filter((s): s is ProductStep => s !== undefined && changesMachine(s) && undoWords(s) === null);
}

/** What cancelling a restore means once a product step that changes the machine has run. */
export function restoreCancelWords(d: ProductStep): string {
  const undo = undoWords(d);
  return undo !== null
    ? `The restore stops after what it is doing now. Nothing is lost: you then choose to roll back (everything as it was; "${d.title}" is undone: ${undo}) or to resume later.`
    : `The restore stops after what it is doing now. You then choose to roll back or to resume later; a rollback puts the folders and the service back as they were, but cannot undo "${d.title}".`;
}

export function productRunbookSteps<C>(profile: Profile, point: StepPoint, host: (c: C) => ProductHost): Step<C>[] {
  const decls = stepsAt(profile, point);
  return decls.map((d, i) => {
    const step: Step<C> = {
      id: d.id,
      title: d.title,
      explain: () => {
        const undo = undoWords(d);
        return `${d.explain}${undo ? ` (Undone on failure or rollback: ${undo}.)` : ''}`;
      },
      async run(c, s) {
        const h = host(c);
        if (i === 0) {
          for (const f of decls) {
            if (f.kind === 'follow-log' && h.state.offsets[f.id] === undefined) {
              h.state.offsets[f.id] = await fileSize(await place(h, f.file));
            }
          }
          await h.save();
        }
        return runProductStep(h, d, s);
      },
    };
    // A restore cancelled after this step keeps its journal (status.ts machineTouched): say what a rollback can undo.
    if (point.startsWith('restore.') && changesMachine(d)) step.cancel = { during: restoreCancelWords(d) };
    if (d.kind === 'reset' || d.confirm !== undefined) {
      step.confirm = () => ({
        message:
          d.kind === 'reset'
            ? `${d.confirm ?? ''} This resets ${profile.productName} to its defaults and cannot be undone; the backup is then restored onto the clean product.`.trim()
            : d.confirm!,
        details: [d.explain],
        action: d.title,
      });
    }
    return step;
  });
}
