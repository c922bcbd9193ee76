import { createInterface } from 'node:readline';
import { countOf, formatBytes, formatDuration, type Progress } from '../engine/progress.js';
import { cleanLine, cleanText } from '../engine/util/clean-text.js';
import type {
  ConfirmRequest,
  CredentialsRequest,
  CredentialValues,
  EventSink,
  Interaction,
  RunbookEvent,
  StepInfo,
} from '../engine/runbook/types.js';

const isTTY = (): boolean => process.stderr.isTTY === true;

/** Everything shown on the terminal passes here: text from a stick must not carry escape sequences. */
function say(text: string): void {
  process.stderr.write(cleanText(text));
}

const MARK: Record<StepInfo['state'], string> = {
  todo: '[ ]',
  running: '[>]',
  done: '[x]',
  failed: '[!]',
  skipped: '[-]',
};

export function progressLine(p: Progress): string {
  const total = p.totalBytes !== null ? ` of ${formatBytes(p.totalBytes)}` : '';
  const pct = p.totalBytes ? ` ${Math.min(100, Math.floor((p.bytes / p.totalBytes) * 100))}%` : '';
  const files = p.totalFiles !== null ? `${p.files}/${p.totalFiles} files` : `${p.files} files`;
  const eta = p.etaSeconds !== null ? `, ${formatDuration(p.etaSeconds)} left` : '';
  return `  ${p.phase}:${pct} ${formatBytes(p.bytes)}${total}, ${files}, ${formatBytes(p.rate)}/s${eta}`;
}

/**
 * Presents a runbook on a terminal (human mode: to stderr, so stdout stays for results) or as
 * newline-delimited JSON events on stdout (--json).
 */
export function terminalSink(opts: { json: boolean }): EventSink {
  // Without a terminal (a log, a pipe): a progress line every 5 s from a step's start, and its last state when the
  // step ends if any was printed. The first event went out at once: "starting: 0 bytes, 0 files" in every log, and a
  // small backup's "unpacking: 100% 33.3 KiB of 33.3 KiB, 0/8 files" (bytes are read before entries are counted)
  // above "Unpacked 8 files".
  let lastProgress = 0;
  let pending: Progress | null = null;
  let printedInStep = false;
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown && isTTY()) process.stderr.write('\r\x1b[2K');
    progressShown = false;
  };
  return (e: RunbookEvent) => {
    if (opts.json) {
      process.stdout.write(JSON.stringify(e) + '\n');
      return;
    }
    switch (e.type) {
      case 'plan':
        say(`\n${e.title}\n`);
        for (const s of e.steps) say(`  ${MARK[s.state]} ${s.title}\n`);
        process.stderr.write('\n');
        break;
      case 'step':
        clearProgress();
        if (!isTTY()) {
          if (printedInStep && pending !== null) say(progressLine(pending) + '\n');
          pending = null;
          printedInStep = false;
          lastProgress = Date.now();
        }
        if (e.step.state === 'running') say(`${MARK.running} ${e.step.title}\n    ${e.step.explain}\n`);
        else if (e.step.state === 'done' && (e.step.open?.length ?? 0) > 0) {
          // Done, with things left to do: not a plain [x].
          const n = e.step.open!.length;
          say(`[~] ${e.step.title} (${n} open item${n === 1 ? '' : 's'}): ${e.step.summary ?? ''}\n`);
        } else say(`${MARK[e.step.state]} ${e.step.title}: ${e.step.summary ?? ''}\n`);
        if (e.step.error?.hint) say(`    What to do: ${e.step.error.hint}\n`);
        break;
      case 'progress': {
        // A question is on the terminal: a progress line would overwrite it.
        if (asking > 0) break;
        const now = Date.now();
        if (isTTY()) {
          process.stderr.write(
            '\r\x1b[2K' + cleanLine(progressLine(e.progress)).slice(0, (process.stderr.columns ?? 100) - 1),
          );
          progressShown = true;
        } else if (now - lastProgress > 5000) {
          say(progressLine(e.progress) + '\n');
          lastProgress = now;
          printedInStep = true;
          pending = null;
        } else pending = e.progress;
        break;
      }
      case 'log':
        clearProgress();
        say(`${e.level === 'warn' ? 'Warning: ' : ''}${e.message}\n`);
        break;
      case 'finished':
        clearProgress();
        break;
    }
  };
}

/** Questions open on the terminal (progress lines wait until they are answered). */
let asking = 0;

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  asking++;
  try {
    return await new Promise<string>((resolve) => rl.question(cleanText(question), resolve));
  } finally {
    asking--;
    rl.close();
  }
}

/** Reads a line without echoing it (passphrases, passwords). */
export async function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new Error('no terminal to ask on');
  asking++;
  try {
    return await readHidden(question, stdin);
  } finally {
    asking--;
  }
}

async function readHidden(question: string, stdin: NodeJS.ReadStream): Promise<string> {
  // Echo off before the question shows: keys typed as soon as it appears (or typed ahead) must never be echoed,
  // however long the switch takes on a loaded machine (tests/engine/cli-prompts.test.ts types on seeing it).
  stdin.setRawMode(true);
  say(question);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let buf = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(buf);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            reject(new Error('cancelled'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/**
 * A secret typed at a hidden prompt: an empty answer is asked again, never accepted (an empty password sent to
 * the product would fail the step and leave the technician one keystroke from a rollback).
 */
export async function askSecret(question: string): Promise<string> {
  for (;;) {
    const v = await askHidden(question);
    if (v.length > 0) return v;
    process.stderr.write('  Nothing was typed. Type it again (Ctrl+C stops).\n');
  }
}

export interface TerminalInteractionOptions {
  yes: boolean;
  json: boolean;
  /** Values from --credentials-file, keyed by entry key ("resource/entry") or entry name. */
  credentials?: Record<string, Record<string, string>>;
}

export function terminalInteraction(o: TerminalInteractionOptions): Interaction {
  return {
    async confirm(req: ConfirmRequest): Promise<boolean> {
      if (o.yes) {
        if (req.explicitOnly === undefined || req.decline === undefined) return true;
        say(
          `"${req.title}": --yes answers "${req.decline}" here (a blanket yes is not that choice; ${req.explicitOnly.how}).\n`,
        );
        return false;
      }
      if (o.json || !process.stdin.isTTY) {
        say(
          req.decline !== undefined
            ? `"${req.title}": not asked without a terminal, so the answer is "${req.decline}" (--yes would say "${req.action}").\n`
            : `"${req.title}" needs confirmation: run again with --yes to go ahead without questions.\n`,
        );
        return false;
      }
      say(`\n${req.title}: ${req.message}\n`);
      for (const d of req.details ?? []) say(`    ${d}\n`);
      const a = (
        await ask(
          req.decline !== undefined
            ? `${req.action}? Type "yes" to do it, or press Enter to answer "${req.decline}": `
            : `${req.action}? Type "yes" to go ahead: `,
        )
      )
        .trim()
        .toLowerCase();
      return a === 'yes' || a === 'y';
    },
    async credentials(req: CredentialsRequest): Promise<CredentialValues | null> {
      if (o.credentials) {
        const out: CredentialValues = {};
        for (const e of req.entries) {
          const given = o.credentials[e.key] ?? o.credentials[e.entryName] ?? o.credentials[e.entryId];
          if (given) out[e.key] = given;
        }
        return out;
      }
      if (o.json || !process.stdin.isTTY) return null;
      say(
        `\n${countOf(req.entries.length, 'credential')} must be entered again: they were encrypted for the old machine.\n`,
      );
      const out: CredentialValues = {};
      for (const e of req.entries) {
        say(`\n${e.resourceTitle}: ${e.entryName}\n`);
        const vals: Record<string, string> = {};
        for (const f of e.fields) {
          if (!f.secret) {
            const v = await ask(`  ${f.label}${f.value ? ` [${f.value}]` : ''}: `);
            vals[f.name] = v.trim() === '' && f.value !== undefined ? f.value : v.trim();
          } else {
            vals[f.name] = await askSecret(`  ${f.label} (hidden): `);
          }
        }
        out[e.key] = vals;
      }
      return out;
    },
  };
}

/** Prints a table with aligned columns. */
export function table(rows: string[][]): string {
  rows = rows.map((r) => r.map(cleanLine));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
