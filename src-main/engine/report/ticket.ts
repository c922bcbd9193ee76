import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { RecoveryError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-fs.js';
import { readGivenFile } from '../util/given-path.js';

/** The service ticket a report belongs to: asked once before a job (wizard or CLI), remembered in the state folder. */
export interface TicketFields {
  number?: string;
  site?: string;
  technician?: string;
}

export const TICKET_FIELDS = ['number', 'site', 'technician'] as const;
export type TicketField = (typeof TICKET_FIELDS)[number];

/** Longest accepted value per field (characters): a ticket id, a site name, a person's name. */
export const TICKET_MAX: Record<TicketField, number> = { number: 64, site: 120, technician: 80 };

export const TICKET_LABEL: Record<TicketField, string> = {
  number: 'Ticket number',
  site: 'Site',
  technician: 'Technician',
};

/** The file the last values are remembered in, inside the state folder (root-only, 0600). */
export const TICKET_FILE = 'ticket.json';

// C0/C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, BOM: never in a report line.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** What is wrong with one value as typed, or null: too long, or a control character (a tab, a newline, an escape). */
export function ticketFieldProblem(field: TicketField, value: string): string | null {
  const v = value.trim();
  if (CONTROL.test(v)) {
    return `${TICKET_LABEL[field]} contains a control character (a tab, a line break or similar): type it on one line.`;
  }
  if ([...v].length > TICKET_MAX[field]) {
    return `${TICKET_LABEL[field]} is longer than ${TICKET_MAX[field]} characters.`;
  }
  return null;
}

/**
 * Validates and cleans the three fields as typed by a technician (wizard, CLI flag or prompt): trimmed, inner runs
 * of spaces made one, empty ones left out. A control character or an over-long value is refused with BAD_INPUT
 * (a message naming the field), never cut silently.
 */
export function parseTicket(input: Partial<Record<TicketField, unknown>>): TicketFields {
  const out: TicketFields = {};
  const problems: string[] = [];
  for (const f of TICKET_FIELDS) {
    const raw = input[f];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'string') {
      problems.push(`${TICKET_LABEL[f]} must be text.`);
      continue;
    }
    const p = ticketFieldProblem(f, raw);
    if (p !== null) {
      problems.push(p);
      continue;
    }
    const v = raw.trim().replace(/\s+/g, ' ');
    if (v !== '') out[f] = v;
  }
  if (problems.length > 0) {
    throw new RecoveryError('BAD_INPUT', problems.join(' '), {
      hint: 'Correct the ticket number, site or technician and try again. Nothing was changed.',
      details: { problems },
    });
  }
  return out;
}

/**
 * Lenient reading of values that did not come from a person just now (the remembered file, a journal): control
 * characters removed, values cut to their limit, anything not a string dropped. Never throws.
 */
export function cleanTicket(input: unknown): TicketFields {
  const out: TicketFields = {};
  if (input === null || typeof input !== 'object') return out;
  for (const f of TICKET_FIELDS) {
    const raw = (input as Record<string, unknown>)[f];
    if (typeof raw !== 'string') continue;
    const v = [...raw.replace(CONTROL_ALL, ' ').trim().replace(/\s+/g, ' ')].slice(0, TICKET_MAX[f]).join('').trim();
    if (v !== '') out[f] = v;
  }
  return out;
}

export function hasTicket(t: TicketFields | undefined): t is TicketFields {
  return t !== undefined && TICKET_FIELDS.some((f) => t[f] !== undefined);
}

/** The values remembered from the last job, or `{}` (none, a link, not a regular file, too large, not JSON). */
export async function readRememberedTicket(stateDir: string): Promise<TicketFields> {
  try {
    // Like any file whose name may have been changed: only a regular file is opened (a device node or a FIFO put in
    // its place is not), never through a link, at most 16 KiB.
    const bytes = await readGivenFile(path.join(stateDir, TICKET_FILE), {
      what: 'the remembered ticket',
      max: 16 * 1024,
      noFollow: true,
    });
    return cleanTicket(JSON.parse(bytes.toString('utf8')));
  } catch {
    return {};
  }
}

/**
 * Remembers the values for the next job (0600, written atomically without following links). Fields left empty
 * are forgotten: what is remembered is exactly what was used last.
 */
export async function rememberTicket(stateDir: string, t: TicketFields): Promise<void> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const clean = cleanTicket(t);
  await writeFileAtomic(path.join(stateDir, TICKET_FILE), JSON.stringify(clean, null, 2) + '\n', 0o600);
}

/** "ticket INC-1, site Plant 4, technician A. Jones" (for the CLI and logs); '' when empty. */
export function ticketWords(t: TicketFields): string {
  return TICKET_FIELDS.filter((f) => t[f] !== undefined)
    .map((f) => `${f === 'number' ? 'ticket' : f} ${t[f]}`)
    .join(', ');
}
