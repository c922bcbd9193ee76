import { describe, expect, expectTypeOf, it } from 'vitest';
import { buildReport, type ReportData } from '../../src-main/engine/report/index.js';

function sampleReport(over: Partial<ReportData> = {}): ReportData {
  return {
    kind: 'restore',
    ok: true,
    toolVersion: '0.1.0',
    profile: { id: 'eds-linux', productName: 'AVEVA Edge Data Store' },
    hostname: 'eds-edge01',
    deviceId: 'eds-edge01-1a2b3c4d',
    sourceDeviceId: 'eds-edge01-1a2b3c4d',
    backupPath: '/media/tech/USB STICK/EdgeRecovery/eds-edge01-1a2b3c4d/Backup_eds-linux_20261121_2100Z',
    startedAt: '2026-11-21T22:10:00.000Z',
    finishedAt: '2026-11-21T22:15:30.000Z',
    versions: { backup: '1.1.2', installedBefore: '1.1.2', installedAfter: '1.1.2' },
    steps: [
      {
        id: 'verify',
        title: 'Verify the backup',
        explain: 'Reads every part back.',
        destructive: false,
        state: 'done',
        summary: '3 parts, all hashes match.',
        startedAt: '2026-11-21T22:10:00.000Z',
        finishedAt: '2026-11-21T22:11:00.000Z',
      },
      {
        id: 'stop',
        title: 'Stop the service',
        explain: 'Stops EDS.',
        destructive: true,
        state: 'done',
        summary: 'Stopped in 2 s.',
      },
      {
        id: 'health',
        title: 'Check health',
        explain: 'Asks the API.',
        destructive: false,
        state: 'failed',
        error: {
          code: 'APPLIANCE_UNREACHABLE',
          message: "The appliance's local API does not answer.",
          hint: 'Check the service log.',
        },
      },
    ],
    files: 1234,
    contentBytes: 987_654_321,
    ownershipCheck: { checked: 1234, mismatches: [] },
    credentialsReentered: [{ resourceTitle: 'PI Server', entryName: 'PI Web API', fields: ['password'] }],
    notes: ['The service took 40 s to answer after the restart.'],
    ...over,
  };
}

// Type-level guards on ReportData: checked by `tsc --noEmit` (tsconfig includes tests).
type Open<T> = unknown extends T
  ? true
  : T extends readonly (infer U)[]
    ? Open<U>
    : T extends object
      ? string extends keyof T
        ? true
        : { [K in keyof T]-?: Open<T[K]> }[keyof T]
      : false;
type DeepKeys<T> = T extends readonly (infer U)[]
  ? DeepKeys<U>
  : T extends object
    ? { [K in keyof T]-?: K | DeepKeys<T[K]> }[keyof T]
    : never;
type Secretish =
  `${string}${'password' | 'Password' | 'secret' | 'Secret' | 'passphrase' | 'Passphrase' | 'token' | 'Token' | 'value' | 'Value' | 'details'}${string}`;

describe('buildReport', () => {
  it('has no field that could hold a secret value (type-level)', () => {
    expectTypeOf<Open<ReportData>>().toEqualTypeOf<false>();
    expectTypeOf<Extract<DeepKeys<ReportData>, Secretish>>().toBeNever();
    expectTypeOf<ReportData['credentialsReentered'][number]['fields']>().toEqualTypeOf<string[]>();
  });

  it('escapes a <script> in a file name and a note, and the page has no script at all', () => {
    const evil = '/var/lib/eds/<script>alert(1)</script>.json';
    const { html, json } = buildReport(
      sampleReport({
        ok: false,
        ownershipCheck: {
          checked: 10,
          mismatches: [{ path: evil, expected: 'eds:eds 0640', actual: 'root:root 0644' }],
        },
        notes: ['"quoted" & <b>bold</b>'],
        hostname: "o'brien<img src=x onerror=alert(1)>",
      }),
    );
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).toContain('/var/lib/eds/&lt;script&gt;alert(1)&lt;/script&gt;.json');
    expect(html).toContain('&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;');
    expect(html).toContain('o&#39;brien&lt;img src=x onerror=alert(1)&gt;');
    expect(JSON.parse(json).ownershipCheck.mismatches[0].path).toBe(evil);
  });

  it('is self-contained and printable: inline CSS, print rules, no external reference', () => {
    const { html } = buildReport(sampleReport());
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<style>');
    expect(html).toContain('@media print');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).toContain("default-src 'none'");
  });

  it('shows the result, the steps with their errors, and credentials by field name', () => {
    const { html } = buildReport(sampleReport());
    expect(html).toContain('Restore report: AVEVA Edge Data Store on eds-edge01');
    expect(html).toContain('SUCCEEDED');
    expect(html).toContain('Verify the backup');
    expect(html).toContain('Failed');
    expect(html).toContain('<code>APPLIANCE_UNREACHABLE</code>');
    expect(html).toContain('Check the service log.');
    expect(html).toContain('<td>PI Server</td><td>PI Web API</td><td>password</td>');
    expect(html).toContain('5 min 30 s');
    expect(html).toContain('942 MiB (987,654,321 bytes)');
  });

  it('writes JSON with exactly the declared fields, even when callers pass objects carrying more', () => {
    const leaky = sampleReport() as unknown as Record<string, unknown>;
    leaky.passphrase = 'MARKER-SECRET-1';
    const data = leaky as unknown as ReportData;
    (data.steps[2]!.error as unknown as Record<string, unknown>).details = { password: 'MARKER-SECRET-2' };
    (data.credentialsReentered[0] as unknown as Record<string, unknown>).fields = [
      { name: 'password', value: 'MARKER-SECRET-3' },
    ];
    (data.profile as unknown as Record<string, unknown>).clientSecret = 'MARKER-SECRET-4';
    const { json, html } = buildReport(data);
    expect(json).not.toContain('MARKER-SECRET');
    expect(html).not.toContain('MARKER-SECRET');
    const parsed = JSON.parse(json);
    expect(parsed.credentialsReentered[0].fields).toEqual(['password']);
    expect(Object.keys(parsed).sort()).toEqual(['reportFormat', ...Object.keys(sampleReport())].sort());
    expect(parsed.steps[2].error).toEqual({
      code: 'APPLIANCE_UNREACHABLE',
      message: "The appliance's local API does not answer.",
      hint: 'Check the service log.',
    });
  });

  it('lists the first 200 ownership mismatches in the page and all of them in the JSON', () => {
    const mismatches = Array.from({ length: 250 }, (_, i) => ({
      path: `/var/lib/eds/f${i}`,
      expected: 'eds:eds 0640',
      actual: 'root:root 0644',
    }));
    const { html, json } = buildReport(sampleReport({ ok: false, ownershipCheck: { checked: 5000, mismatches } }));
    expect(html).toContain('/var/lib/eds/f199<');
    expect(html).not.toContain('/var/lib/eds/f200<');
    expect(html).toContain('… and 50 more, listed in the JSON report.');
    expect(html).toContain('250 do not match');
    // The count is of paths (folders and links are checked too), and says so.
    expect(html).toContain('5,000 paths (files, folders and links) checked against the owner and permission policy');
    expect(JSON.parse(json).ownershipCheck.mismatches).toHaveLength(250);
  });
});
