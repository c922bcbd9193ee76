import path from 'node:path';
import { createInterface } from 'node:readline';
import { toRecoveryError } from '../engine/errors.js';
import { cleanText } from '../engine/util/clean-text.js';

/** Commands whose jobs write a report (and so a PDF beside it). */
export const REPORT_COMMANDS = new Set(['backup', 'restore', 'resume', 'credentials', 'finish', 'practice', 'serve']);

/**
 * The PDF printer for this process: the machine's Chromium (run as `nobody` when we are root, sandboxed, fixed
 * arguments, no shell), unless EDGE_RECOVERY_PDF=off or no Chromium is installed; then reports are HTML and JSON,
 * and the technician prints the HTML to PDF in a browser.
 */
export async function configurePdf(): Promise<void> {
  const [{ setReportPdfPrinter }, { defaultCliPdfPrinter }] = await Promise.all([
    import('../engine/report/pdf.js'),
    import('../engine/report/chromium-pdf.js'),
  ]);
  setReportPdfPrinter(defaultCliPdfPrinter());
}

export interface TicketCliOptions {
  ticket?: string;
  site?: string;
  technician?: string;
  yes?: boolean;
  json?: boolean;
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await new Promise<string>((resolve) => rl.question(cleanText(question), resolve));
  } finally {
    rl.close();
  }
}

/**
 * Ticket number, site and technician for the report: --ticket/--site/--technician, else the values remembered
 * from the last job. In a terminal (without --yes or --json) each field not given is asked once, the remembered
 * value offered as the default ("-" clears it). What was used is remembered for the next job.
 */
export async function ticketFor(o: TicketCliOptions, stateDir: string) {
  const { parseTicket, readRememberedTicket, rememberTicket, ticketFieldProblem, TICKET_FIELDS, TICKET_LABEL } =
    await import('../engine/report/ticket.js');
  // Bad flags are refused before anything starts (exit 2), naming the field.
  const given = parseTicket({ number: o.ticket, site: o.site, technician: o.technician });
  const remembered = await readRememberedTicket(stateDir);
  const out = { ...remembered, ...given };
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true && !o.yes && !o.json;
  if (interactive) {
    const flags = { number: o.ticket, site: o.site, technician: o.technician };
    process.stderr.write('For the report (Enter keeps the value in brackets, "-" leaves it empty):\n');
    for (const f of TICKET_FIELDS) {
      if (flags[f] !== undefined) continue;
      for (;;) {
        const cur = out[f];
        const a = (await ask(`  ${TICKET_LABEL[f]}${cur ? ` [${cur}]` : ''}: `)).trim();
        if (a === '') break;
        if (a === '-') {
          delete out[f];
          break;
        }
        const problem = ticketFieldProblem(f, a);
        if (problem === null) {
          out[f] = a.replace(/\s+/g, ' ');
          break;
        }
        process.stderr.write(`  ${problem}\n`);
      }
    }
  }
  await rememberTicket(stateDir, out).catch((e: unknown) => {
    process.stderr.write(`Note: the ticket fields could not be remembered: ${toRecoveryError(e).message}\n`);
  });
  return out;
}

/** Where the report went, stick and machine told apart, for the end of a job's output. */
export async function savedLines(reports: string[], stateDir: string): Promise<string> {
  if (reports.length === 0) return '';
  const { savedPlaces, savedPlaceWords } = await import('../engine/report/saved-at.js');
  const places = await savedPlaces(reports, path.join(stateDir, 'reports'));
  const lines = ['Report saved:'];
  for (const s of places) {
    lines.push(`  ${savedPlaceWords(s)}`);
    for (const f of [s.pdf, s.html, s.json]) if (f) lines.push(`    ${path.basename(f)}`);
  }
  if (!places.some((s) => s.pdf)) {
    lines.push('  (No PDF was made here: open the HTML report in a browser and use Print → Save as PDF.)');
  }
  return lines.join('\n') + '\n';
}
