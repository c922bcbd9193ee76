import { cleanLine } from '../util/clean-text.js';
import type { ReportData, ReportStep, ReportStepError } from './types.js';

/** Every text field of a report: one line, no control characters (the report is also read as a text file). */
function str(v: unknown): string {
  return cleanLine(typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
}

function optStr<T extends object>(into: T, key: keyof T & string, v: unknown): void {
  if (typeof v === 'string' && v !== '') (into as Record<string, unknown>)[key] = str(v);
}

function stepError(e: ReportStepError | undefined): ReportStepError | undefined {
  if (e === undefined) return undefined;
  const out: ReportStepError = { code: e.code, message: str(e.message) };
  optStr(out, 'hint', e.hint);
  return out;
}

/**
 * Copies exactly the fields ReportData declares and nothing else. Callers pass live engine
 * objects (a StepInfo with `error.details`, a credential entry with its fields): spreading them
 * would carry whatever extra properties they happen to hold into a file that leaves the machine.
 */
export function normalizeReport(d: ReportData): ReportData {
  const steps: ReportStep[] = d.steps.map((s) => {
    const out: ReportStep = {
      id: str(s.id),
      title: str(s.title),
      explain: str(s.explain),
      destructive: s.destructive === true,
      state: s.state,
    };
    optStr(out, 'summary', s.summary);
    const err = stepError(s.error);
    if (err !== undefined) out.error = err;
    optStr(out, 'startedAt', s.startedAt);
    optStr(out, 'finishedAt', s.finishedAt);
    return out;
  });
  const versions: ReportData['versions'] = {};
  optStr(versions, 'backup', d.versions?.backup);
  optStr(versions, 'installedBefore', d.versions?.installedBefore);
  optStr(versions, 'installedAfter', d.versions?.installedAfter);
  return {
    kind: d.kind,
    ok: d.ok === true,
    toolVersion: str(d.toolVersion),
    profile: { id: str(d.profile.id), productName: str(d.profile.productName) },
    hostname: str(d.hostname),
    deviceId: str(d.deviceId),
    sourceDeviceId: d.sourceDeviceId === null ? null : str(d.sourceDeviceId),
    backupPath: str(d.backupPath),
    ...(d.source
      ? {
          source: {
            kind: 'hand-made' as const,
            format: str(d.source.format),
            sha256: str(d.source.sha256),
            verified: false as const,
            mapping: str(d.source.mapping),
          },
        }
      : {}),
    startedAt: str(d.startedAt),
    finishedAt: str(d.finishedAt),
    versions,
    steps,
    files: Number(d.files) || 0,
    contentBytes: Number(d.contentBytes) || 0,
    ownershipCheck: {
      checked: Number(d.ownershipCheck.checked) || 0,
      mismatches: d.ownershipCheck.mismatches.map((m) => ({
        path: str(m.path),
        expected: str(m.expected),
        actual: str(m.actual),
      })),
    },
    credentialsReentered: d.credentialsReentered.map((c) => ({
      resourceTitle: str(c.resourceTitle),
      entryName: str(c.entryName),
      // A field given as an object ({ name, value }) by mistake keeps only its name.
      fields: c.fields.map((f) => (typeof f === 'string' ? f : str((f as { name?: unknown }).name))),
    })),
    notes: d.notes.map(str),
  };
}
