import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseProfile } from '../engine/profiles/load.js';
import type { Profile, ProfileInput } from '../engine/profiles/schema.js';

export interface PracticeProfileOptions {
  port: number;
  service: Profile['service'] | ProfileInput['service'];
  /** Owner of the folders; defaults to the current user's name and primary group name. */
  user?: string;
  group?: string;
  version?: { policy?: 'same' | 'same-or-newer' | 'any'; significantParts?: number };
  id?: string;
  /**
   * Which Edge Data Store API the appliance speaks (`appliance --api`): 1.0 (PeriodicEgressEndpoints, PUT) or
   * 1.1 (EgressEndpoints and HealthEndpoints by PATCH, each OPC UA adapter's DataSource by PUT). Default 1.0.
   */
  eds?: '1.0' | '1.1';
  /** Read the API port from this appsettings.json (absolute, under the machine's --root) instead of `port`. */
  portFile?: string;
}

type CredentialInput = NonNullable<ProfileInput['credentials']>[number];
const SECRET_SETS = [
  { identity: 'ClientId', secret: 'ClientSecret' },
  { identity: 'Username', secret: 'Password' },
];

/** The stand-in's credential resources per API version (the stand-in also reports a SecretStatus per entry). */
function practiceCredentials(eds: '1.0' | '1.1'): CredentialInput[] {
  const status = { statusField: 'SecretStatus', statusNeedsReentry: ['undecryptable'] };
  if (eds === '1.0') {
    return [
      {
        id: 'egress',
        title: 'Periodic egress endpoints',
        path: '/api/v1/configuration/storage/periodicegressendpoints',
        kind: 'collection',
        idField: 'Id',
        nameField: 'Id',
        fieldSets: SECRET_SETS,
        ...status,
        method: 'PUT',
      },
    ];
  }
  return [
    {
      id: 'egress-endpoints',
      title: 'Egress endpoints',
      path: '/api/v1/configuration/storage/egressendpoints',
      kind: 'collection',
      idField: 'Id',
      nameField: 'Id',
      fieldSets: SECRET_SETS,
      ...status,
      method: 'PATCH',
      versions: { min: '1.1' },
    },
    {
      id: 'health-endpoints',
      title: 'Health endpoints',
      path: '/api/v1/configuration/System/HealthEndpoints',
      kind: 'collection',
      idField: 'Id',
      nameField: 'Id',
      fieldSets: SECRET_SETS,
      ...status,
      method: 'PATCH',
      versions: { min: '1.1' },
    },
    {
      id: 'opcua-data-source',
      title: 'OPC UA data source',
      path: '/api/v1/configuration/{id}/DataSource',
      kind: 'object',
      fieldSets: [{ identity: 'UserName', secret: 'Password' }],
      ...status,
      method: 'PUT',
      versions: { min: '1.1' },
      forEach: {
        list: '/api/v1/configuration/system/components',
        idField: 'ComponentId',
        where: { field: 'ComponentType', equals: 'OpcUa' },
      },
    },
  ];
}

/** The current user's primary group name from /etc/group (Node has no getgrgid); the gid as text if unnamed. */
export function currentGroupName(): string {
  const gid = os.userInfo().gid;
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === gid) return name;
    }
  } catch {
    // no /etc/group (Windows): fall through
  }
  return String(gid);
}

/** The profile as JSON-ready input (modes as octal strings), e.g. to write a profile file. */
export function practiceProfileInput(opts: PracticeProfileOptions): ProfileInput {
  const svc = opts.service;
  return {
    schemaVersion: 1,
    id: opts.id ?? 'eds-practice',
    productName: 'AVEVA Edge Data Store (practice appliance)',
    platform: 'linux',
    description: 'The practice appliance: Edge Data Store folders and API on this machine, for rehearsals and tests.',
    service: {
      manager: svc.manager,
      name: svc.name,
      ...(svc.command !== undefined ? { command: svc.command } : {}),
      ...(svc.pidFile !== undefined ? { pidFile: svc.pidFile } : {}),
      ...(svc.displayName !== undefined ? { displayName: svc.displayName } : {}),
      ...(svc.stopTimeoutSeconds !== undefined ? { stopTimeoutSeconds: svc.stopTimeoutSeconds } : {}),
      ...(svc.startTimeoutSeconds !== undefined ? { startTimeoutSeconds: svc.startTimeoutSeconds } : {}),
    },
    items: [
      {
        id: 'Configuration',
        path: '/usr/share/OSIsoft/EdgeDataStore/Configuration',
        required: true,
        description: 'Configuration files (JSON), including encrypted secrets.',
      },
      {
        id: 'Storage',
        path: '/usr/share/OSIsoft/EdgeDataStore/Storage',
        required: true,
        description: 'Stored streams and data.',
      },
    ],
    ownership: {
      user: opts.user ?? os.userInfo().username,
      group: opts.group ?? currentGroupName(),
      dirMode: '755',
      fileMode: '644',
      exceptions: [],
    },
    api: {
      baseUrl: `http://127.0.0.1:${opts.port}`,
      versionEndpoint: '/api/v1/diagnostics/productinformation',
      versionPointer: '/Edge Data Store',
      versionPointers: ['/Product Version', '/Edge Data Store'],
      ...(opts.portFile !== undefined
        ? { portFile: { path: opts.portFile, pointer: '/ApplicationSettings/Port' } }
        : {}),
      healthEndpoint: '/api/v1/diagnostics/health',
      timeoutMs: 5000,
    },
    credentials: practiceCredentials(opts.eds ?? '1.0'),
    prechecks: [
      {
        id: 'no-running-transactions',
        title: 'No running transactions',
        kind: 'http',
        path: '/api/v1/diagnostics/transactions',
        expect: { pointer: '/Running', equals: 0 },
        failMessage: 'Edge Data Store is still processing transactions. Wait until they finish, then try again.',
        when: ['backup', 'restore'],
      },
    ],
    version: { policy: opts.version?.policy ?? 'same-or-newer', significantParts: opts.version?.significantParts ?? 3 },
  };
}

/** The practice appliance's profile, validated by the same schema as every other profile. */
export function practiceProfile(opts: PracticeProfileOptions): Profile {
  return parseProfile(practiceProfileInput(opts), 'practice profile');
}
