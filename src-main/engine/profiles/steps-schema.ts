import { z } from 'zod';
import { SafeGlob, SafePattern } from './safe-pattern.js';
import { ServiceSchema } from './schema.js';

/**
 * A product's own procedure, declared as data: steps at named points of the backup and restore runbooks.
 * The runbook engine runs, journals, explains, confirms, times out and rolls them back like its own steps.
 * Values may hold placeholders, filled in when the step runs:
 *   {work}            a root-only work folder of this job (owned by the steps' `user` when they name one)
 *   {root}            the --root folder ("" on a real appliance)
 *   {artifact:<id>}   backup: where an artifact is written; restore: a copy of it taken from the backup set
 *   {label}           the technician's name for this backup (defaults to its time stamp)
 *   {device}          this device's id
 *   {passphrase}      only in `answers` and `stdin` (never argv or env): the product's passphrase
 *   {var:<name>}      a value an earlier http step captured from its answer (`capture`)
 */
export const STEP_POINTS = [
  'backup.before-stop',
  'backup.after-stop',
  'backup.archive',
  'backup.before-start',
  'backup.after-start',
  'restore.before-stop',
  'restore.after-stop',
  'restore.import',
  'restore.before-start',
  'restore.after-start',
] as const;
export type StepPoint = (typeof STEP_POINTS)[number];

/** Ids the runbooks use for their own steps: a product step may not take one. */
export const RESERVED_STEP_IDS = [
  'prechecks',
  'version',
  'stop-service',
  'open-files',
  'archive',
  'verify',
  'start-service',
  'retention',
  'compatibility',
  'extract',
  'swap',
  'ownership',
  'credentials',
  'restart',
  'report',
  'finish',
];

/** Characters a shell would interpret. Steps never run through a shell, so seeing one means a mistake. */
const SHELL_META = /[;&|`$<>\n\r]|\$\(/;
const SHELLS = /^(sh|bash|dash|zsh|ksh|csh|tcsh|fish|cmd|cmd\.exe|powershell|powershell\.exe|pwsh|pwsh\.exe)$/i;

const Arg = z
  .string()
  .refine((s) => !SHELL_META.test(s), 'must not contain shell characters (; & | ` $ < > or a line break)');

const Argv = z
  .array(Arg)
  .min(1)
  .refine((a) => {
    const prog = (a[0] ?? '').split(/[\\/]/).pop() ?? '';
    return !(SHELLS.test(prog) && a.some((x) => /^(-c|\/c|-command)$/i.test(x)));
  }, 'must name the program itself, not a shell with -c (no shell is used)');

const Pattern = SafePattern;

const StepId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes');
const UserName = z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'must be a user name');
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const Common = {
  id: StepId,
  title: z.string().min(1),
  /** Plain words: what will happen, shown before the step runs. */
  explain: z.string().min(1),
  at: z.enum(STEP_POINTS),
  timeoutSeconds: z
    .number()
    .int()
    .positive()
    .max(24 * 3600)
    .default(300),
  /** When set, the technician confirms this message before the step runs. */
  confirm: z.string().min(1).optional(),
};

/**
 * What an http step may upload: a file directly in the work folder (a plain name after "{work}/", or placeholders
 * without a "/"), or the tool's copy of an artifact there.
 */
const UPLOAD_FROM = /^(\{work\}\/(?!\.\.?$)[^/\\]+|\{artifact(-decrypted)?:[a-z0-9-]+\})$/;

/** What a command does, without where it sits in the runbook (also used as an `undo`). */
export const CommandActionSchema = z.object({
  argv: Argv,
  /** Run as this user (by name); its uid, gid and home are taken from this machine. */
  user: UserName.optional(),
  cwd: z.string().min(1).optional(),
  /** Only these variables (plus PATH, LANG, HOME, USER) reach the program: the tool's own never do. */
  env: z.record(EnvName, Arg).default({}),
  /** Prompts the program prints and what to answer (each once, in order). */
  answers: z.array(z.object({ prompt: Pattern, answer: z.string() })).default([]),
  /** Text written to the program's input at start. */
  stdin: z.string().optional(),
  successPattern: Pattern.optional(),
  failurePattern: Pattern.optional(),
  exitCodes: z.array(z.number().int().min(0).max(255)).min(1).default([0]),
});

const HttpExpect = z.object({
  status: z.array(z.number().int().min(100).max(599)).min(1).default([200, 201, 202, 204]),
  pointer: z.string().optional(),
  equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
});

export const HttpActionSchema = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  /** On the profile's API (api.baseUrl). */
  path: z.string().startsWith('/', 'must start with "/"'),
  body: z.unknown().optional(),
  expect: HttpExpect.default({ status: [200, 201, 202, 204] }),
  /** Tries after the first; each waits retryDelaySeconds. */
  retries: z.number().int().min(0).max(1000).default(0),
  retryDelaySeconds: z.number().min(0).max(3600).default(5),
  /** Writes the answer's body to this file (a download); usually {artifact:<id>} or {work}/… */
  saveTo: z.string().min(1).optional(),
  /** Sends this file as the body (an upload, application/octet-stream); usually {artifact:<id>}. */
  upload: z.string().min(1).optional(),
  /** Values taken from the JSON answer (name → JSON pointer), used by later steps as {var:<name>}. */
  capture: z
    .record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'), z.string())
    .default({}),
  /** What to tell the technician when the expectation is never met. */
  failMessage: z.string().min(1).optional(),
  /** A check before anything changes ("no running transactions"): never met, it refuses (PRECHECK_FAILED, exit 4). */
  precheck: z.boolean().default(false),
});

export const ServiceActionSchema = z.object({
  action: z.enum(['stop', 'start', 'wait-running', 'wait-stopped']),
  service: z.lazy(() => ServiceSchema),
});

const CommandStep = z.object({ ...Common, kind: z.literal('command'), ...CommandActionSchema.shape });
const ResetStep = z.object({
  ...Common,
  kind: z.literal('reset'),
  ...CommandActionSchema.shape,
  /** Required: a reset is destructive and always confirmed. */
  confirm: z.string().min(1),
});
const HttpStep = z.object({ ...Common, kind: z.literal('http'), ...HttpActionSchema.shape });
const FollowLogStep = z.object({
  ...Common,
  kind: z.literal('follow-log'),
  file: z.string().min(1),
  successPattern: Pattern,
  failurePattern: Pattern.optional(),
});
const ServiceStep = z.object({ ...Common, kind: z.literal('service'), ...ServiceActionSchema.shape });
const ArtifactStep = z.object({
  ...Common,
  kind: z.literal('artifact'),
  /** `produced`: one file a step wrote (path). `collect`: the product's own backups (dir + glob, newest first). */
  mode: z.enum(['produced', 'collect']).default('produced'),
  path: z.string().min(1).optional(),
  dir: z.string().min(1).optional(),
  /** Relative to dir; `*` matches within one folder level: "*\/*.tar.gz.enc". */
  glob: SafeGlob.pipe(z.string().min(1)).optional(),
  newest: z.number().int().positive().max(1000).default(1),
  /** Files older than this are left out (collect). */
  maxAgeDays: z.number().positive().optional(),
  /** The file is the product's encrypted backup: `verify` decrypts it and reads the tar through. */
  format: z.enum(['file', 'openssl-enc-tar-gz']).default('file'),
  /** At least this many files must be collected. */
  minCount: z.number().int().min(0).default(1),
});

export const ProductStepSchema = z
  .discriminatedUnion('kind', [CommandStep, ResetStep, HttpStep, FollowLogStep, ServiceStep, ArtifactStep])
  .and(
    z.object({
      /** How to undo the step when the job fails or is rolled back (service steps undo themselves). */
      undo: z
        .union([
          CommandActionSchema.extend({ kind: z.literal('command') }),
          HttpActionSchema.extend({ kind: z.literal('http') }),
        ])
        .optional(),
    }),
  )
  .superRefine((s, ctx) => {
    if (RESERVED_STEP_IDS.includes(s.id)) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: `"${s.id}" is the id of one of the runbook's own steps` });
    }
    if (s.kind === 'artifact') {
      if (s.mode === 'produced' && s.path === undefined)
        ctx.addIssue({ code: 'custom', path: ['path'], message: 'a produced artifact needs "path"' });
      if (s.mode === 'collect' && (s.dir === undefined || s.glob === undefined))
        ctx.addIssue({ code: 'custom', path: ['dir'], message: 'a collected artifact needs "dir" and "glob"' });
      if (s.at !== 'backup.archive')
        ctx.addIssue({ code: 'custom', path: ['at'], message: 'artifacts go into the set at "backup.archive"' });
    }
    if (s.kind === 'http' && s.body !== undefined && s.upload !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['upload'], message: 'an http step sends either "body" or "upload"' });
    }
    // A download goes into the work folder only: written by root, anywhere else it would replace any file (an
    // untrusted profile needs no --allow-profile-commands for an http step).
    const saves = [s.kind === 'http' ? s.saveTo : undefined, s.undo?.kind === 'http' ? s.undo.saveTo : undefined];
    for (const v of saves) {
      const name = v?.startsWith('{work}/') ? v.slice('{work}/'.length) : null;
      if (v !== undefined && (name === null || name === '' || /[/\\]/.test(name) || name === '.' || name === '..')) {
        ctx.addIssue({
          code: 'custom',
          path: ['saveTo'],
          message: 'a download goes into the work folder: "{work}/<file name>"',
        });
      }
    }
    // An upload comes from the work folder only, as a download goes there: a file directly in it (or a copy the tool
    // puts there from the backup), read through the folder held open. Anywhere else root read any file (an untrusted
    // profile's /etc/shadow, sent to its API), and a folder on the way could be a link the product's account put.
    const uploads = [s.kind === 'http' ? s.upload : undefined, s.undo?.kind === 'http' ? s.undo.upload : undefined];
    for (const v of uploads) {
      if (v !== undefined && !UPLOAD_FROM.test(v)) {
        ctx.addIssue({
          code: 'custom',
          path: ['upload'],
          message:
            'an upload comes from the work folder: "{work}/<file name>", "{artifact:<id>}" or "{artifact-decrypted:<id>}"',
        });
      }
    }
    if (s.kind === 'reset' && !s.at.startsWith('restore.')) {
      ctx.addIssue({ code: 'custom', path: ['at'], message: 'a reset runs before a restore (a restore point)' });
    }
    const envs = 'env' in s ? [s.env] : [];
    if (s.undo?.kind === 'command') envs.push(s.undo.env);
    if (envs.some((e) => Object.values(e).some((v) => v.includes('{passphrase}')))) {
      ctx.addIssue({
        code: 'custom',
        path: ['env'],
        message: "{passphrase} may not go into a program's environment; use answers or stdin",
      });
    }
    const argvs = 'argv' in s ? [s.argv] : [];
    if (s.undo?.kind === 'command') argvs.push(s.undo.argv);
    for (const a of argvs) {
      if (a.some((x) => x.includes('{passphrase}'))) {
        ctx.addIssue({
          code: 'custom',
          path: ['argv'],
          message: '{passphrase} may not appear in argv (other users see it); use answers or stdin',
        });
      }
    }
  });

export type ProductStep = z.output<typeof ProductStepSchema>;
export type CommandAction = z.output<typeof CommandActionSchema>;
export type HttpAction = z.output<typeof HttpActionSchema>;
