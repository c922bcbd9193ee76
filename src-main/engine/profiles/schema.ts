import { z } from 'zod';
import { refineProfile } from './rules.js';
import { SafeGlob, SafePattern } from './safe-pattern.js';
import { ProductStepSchema } from './steps-schema.js';

/** Octal mode written as a string ("755", "0644") so JSON profiles read like chmod. */
const Mode = z
  .string()
  .regex(/^0?[0-7]{3,4}$/, 'must be an octal mode such as "755" or "0644"')
  .transform((s) => parseInt(s, 8));

const Id = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes');

/** A path on the appliance's REST API, starting with "/". */
const ApiPath = z.string().startsWith('/', 'must start with "/"');

export const ServiceSchema = z.object({
  manager: z.enum(['systemd', 'windows', 'runit', 'process', 'none', 'docker']),
  /**
   * systemd unit, Windows service name, runit service directory (absolute) or name under /etc/service, Docker
   * container name;
   * for `process` (practice appliances on machines without a service manager) a label.
   */
  name: z.string().min(1),
  /** `process` only: the command line that runs the program in the foreground, and its pid file. */
  command: z.array(z.string()).min(1).optional(),
  pidFile: z.string().optional(),
  /** Windows: the display name, used when the service name is not found. */
  displayName: z.string().min(1).optional(),
  stopTimeoutSeconds: z.number().int().positive().max(3600).default(90),
  startTimeoutSeconds: z.number().int().positive().max(3600).default(120),
});

export const ItemSchema = z.object({
  /** Name of the folder inside the archive ("Configuration"). */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a plain folder name'),
  /**
   * Absolute path on the appliance. Windows profiles may use %VAR% (e.g. %ProgramData%),
   * resolved from the environment when the profile is used. One component may be `*`: the item then stands for
   * every folder that matches (e.g. each OPC UA adapter's `…/EdgeDataStore/*\/Certificates`), each backed up as
   * its own item `<id>.<name>` and restored to the path with `*` replaced by that name.
   */
  path: z.string().min(1),
  required: z.boolean().default(true),
  /**
   * Whether an optional item is backed up unless the technician leaves it out (true), or only when asked
   * (false: offered, off by default, e.g. EDS Logs).
   */
  selected: z.boolean().default(true),
  description: z.string().optional(),
});

export const ModeExceptionSchema = z
  .object({
    /** Glob relative to the item folder, with the item id first: "Configuration/**\/*.key". */
    glob: SafeGlob.pipe(z.string().min(1)),
    dirMode: Mode.optional(),
    fileMode: Mode.optional(),
  })
  .refine((e) => e.dirMode !== undefined || e.fileMode !== undefined, 'needs dirMode or fileMode');

export const OwnershipSchema = z.object({
  user: z.string().min(1),
  group: z.string().min(1),
  dirMode: Mode.default(0o755),
  fileMode: Mode.default(0o644),
  exceptions: z.array(ModeExceptionSchema).default([]),
});

export const ApiSchema = z.object({
  baseUrl: z.string().url(),
  versionEndpoint: ApiPath,
  /** JSON pointer to the version string in the version endpoint's answer ("/Edge Data Store"). */
  versionPointer: z.string().default(''),
  /**
   * Pointers tried in order, for products whose answer changed shape between versions (EDS 1.0
   * "/Edge Data Store", EDS 1.1 "/Product Version"). When given, `versionPointer` is not used.
   */
  versionPointers: z.array(z.string()).min(1).optional(),
  /**
   * Where the product keeps its API port, outside the backed-up folders (EDS: appsettings.json beside the
   * binaries). Read on this machine (under --root) and used instead of the port in `baseUrl`; recorded at backup.
   */
  portFile: z.object({ path: z.string().min(1), pointer: z.string().startsWith('/') }).optional(),
  /** Docker: the container's environment variable that sets the port (EDS: `-e portnum=6000`). */
  portEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional(),
  /** Endpoint that answers 2xx when the product is healthy; defaults to the version endpoint. */
  healthEndpoint: ApiPath.optional(),
  /**
   * The product's own device id (EVC-net Edge: each Edge has one, and its backups are kept per id). When set, a
   * backup is filed under it, and a restore compares the backup's id with this machine's own: a different one is
   * the product's "switch device" case (a replacement box restoring another device's backup).
   */
  deviceId: z.object({ endpoint: ApiPath, pointer: z.string() }).optional(),
  /** Per request. At most 10 minutes: a timer holds no more than 2^31 - 1 ms, and Node sets a longer one to 1 ms. */
  timeoutMs: z.number().int().positive().max(600_000).default(5000),
});

export const CredentialResourceSchema = z.object({
  id: Id,
  title: z.string().min(1),
  /** GET returns an array of entries (collection) or one object. */
  path: ApiPath,
  kind: z.enum(['collection', 'object']).default('collection'),
  /** Field naming an entry inside a collection; updates go to `<path>/<id>`. */
  idField: z.string().default('Id'),
  nameField: z.string().optional(),
  /** Alternative sets of fields; an entry needs re-entry for the set it uses. */
  fieldSets: z
    .array(
      z.object({
        identity: z.string().optional(),
        secret: z.string().min(1),
      }),
    )
    .min(1),
  /**
   * Optional field the product sets when it cannot decrypt an entry's secret. Without it,
   * every entry that has a secret is listed, because secrets never survive a move to new hardware.
   */
  statusField: z.string().optional(),
  statusNeedsReentry: z.array(z.string()).default([]),
  method: z.enum(['PUT', 'PATCH']).default('PUT'),
  /**
   * Installed versions this resource exists in (EDS 1.0 PeriodicEgressEndpoints: below 1.1; 1.1 EgressEndpoints:
   * from 1.1). Outside the range it is skipped; when the version is unknown, a 404 says the resource is absent.
   */
  versions: z.object({ min: z.string().optional(), below: z.string().optional() }).optional(),
  /**
   * One resource per component: `path` holds "{id}", filled from each element of `list` (e.g. every OPC UA
   * adapter's /api/v1/configuration/{id}/DataSource from /api/v1/configuration/system/components).
   */
  forEach: z
    .object({
      list: ApiPath,
      idField: z.string(),
      where: z.object({ field: z.string(), equals: z.string() }).optional(),
    })
    .optional(),
});

export const PrecheckSchema = z.object({
  id: Id,
  title: z.string().min(1),
  kind: z.literal('http'),
  path: ApiPath,
  /** JSON pointer into the answer and the value it must equal; absent: any 2xx passes. */
  expect: z
    .object({ pointer: z.string(), equals: z.union([z.string(), z.number(), z.boolean(), z.null()]) })
    .optional(),
  /** What to tell the technician when it fails. */
  failMessage: z.string().min(1),
  /** Which sides run it. */
  when: z.array(z.enum(['backup', 'restore'])).default(['backup', 'restore']),
});

export const VersionSchema = z.object({
  policy: z.enum(['same', 'same-or-newer', 'any']).default('same-or-newer'),
  /** The product backs itself up only from this version on (EVC-net Edge: 1.24.5): older ones are refused. */
  minimum: z
    .string()
    .regex(/^\d+(\.\d+)*$/, 'must be a dotted version such as "1.24.5"')
    .optional(),
  /** Compare only the first N dot-separated parts ("1.1.1.46" with 3 → "1.1.1"). */
  significantParts: z.number().int().min(1).max(6).default(3),
  /** Where the installed version comes from when the API is down or absent. */
  file: z.object({ path: z.string(), pattern: SafePattern.optional() }).optional(),
  /**
   * Or the package database, asked before `file`: a program and its arguments (no shell), and a pattern whose
   * first group is the version. `windows` replaces `argv` on Windows (e.g. a registry query).
   */
  command: z
    .object({
      argv: z.array(z.string()).min(1),
      windows: z.array(z.string()).min(1).optional(),
      pattern: SafePattern.pipe(z.string().min(1)),
    })
    .optional(),
});

/**
 * A fact about the product that a backup records and a restore must find the same (DeviceOn: the TPM that
 * encrypted its backups). `same-when-set`: only when the backup recorded a value (an unencrypted backup has none).
 */
export const FactSchema = z.object({
  id: Id,
  title: z.string().min(1),
  endpoint: ApiPath,
  pointer: z.string(),
  /** Where the restore reads this machine's value when it is asked elsewhere (DeviceOn: the TPM's own id). */
  here: z.object({ endpoint: ApiPath, pointer: z.string() }).optional(),
  rule: z.enum(['same', 'same-when-set']).default('same'),
  /** Plain words shown when the restore refuses (what it means and what to do). */
  refuse: z.string().min(1),
});

/** The product's own name for a backup (EVC-net Edge: a manual backup's name), checked before anything runs. */
export const LabelSchema = z.object({
  pattern: SafePattern,
  /** What a valid name looks like, in plain words. */
  message: z.string().min(1),
});

/** The most folders a profile may name. */
export const MAX_ITEMS = 1000;

export const ProfileSchema = z.object({
  schemaVersion: z.literal(1),
  id: Id,
  productName: z.string().min(1),
  platform: z.enum(['linux', 'windows']),
  description: z.string().optional(),
  service: ServiceSchema,
  /**
   * Folders archived by the tool; may be empty when the product's own steps produce the backup (artifacts). A product
   * has a handful (a `*` stands for many): every pair is checked for overlap, and a profile of tens of thousands
   * (22,000 in 0.8 MB) kept the load busy for most of a minute.
   */
  items: z
    .array(ItemSchema)
    .max(MAX_ITEMS, `at most ${MAX_ITEMS} folders (a "*" in a path stands for many)`)
    .default([]),
  ownership: OwnershipSchema.optional(),
  api: ApiSchema.optional(),
  credentials: z.array(CredentialResourceSchema).default([]),
  prechecks: z.array(PrecheckSchema).default([]),
  version: VersionSchema.default({ policy: 'same-or-newer', significantParts: 3 }),
  /** Which runbooks stop the service: a product that backs itself up while running leaves it out. */
  stopService: z.array(z.enum(['backup', 'restore'])).default(['backup', 'restore']),
  /** The product's own procedure at named points of the runbooks (see steps-schema.ts). */
  steps: z.array(ProductStepSchema).default([]),
  /** Facts recorded at backup and compared at restore (see FactSchema). */
  facts: z.array(FactSchema).default([]),
  /** Rules for the backup's name (--label), when the product names its backups. */
  label: LabelSchema.optional(),
  /** Which documentation the profile follows (shown in the plan and the README). */
  sources: z.array(z.string().url()).default([]),
});

export type Profile = z.output<typeof ProfileSchema>;
export type ProfileInput = z.input<typeof ProfileSchema>;
export type CredentialResource = Profile['credentials'][number];
export type Precheck = Profile['prechecks'][number];
export type Fact = Profile['facts'][number];
export type ProfileItem = Profile['items'][number];
export type Ownership = NonNullable<Profile['ownership']>;
export type { ProductStep } from './steps-schema.js';

/** The schema plus the safety rules (rules.ts): what every profile, built-in or from a file, must pass. */
export const CheckedProfileSchema = ProfileSchema.superRefine(refineProfile);
