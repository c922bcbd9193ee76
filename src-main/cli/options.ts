import { newPassphraseProblem } from '../shared/passphrase.js';
import { RecoveryError } from '../engine/errors.js';
import { readGivenFile } from '../engine/util/given-path.js';
import { askHidden, askSecret } from './terminal.js';

/** "4G", "700M", "1.5GiB", "123456" → bytes. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(s);
  if (!m) throw new RecoveryError('BAD_INPUT', `"${s}" is not a size. Use e.g. 700M, 4G or a number of bytes.`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'
  ];
  const n = Math.floor(parseFloat(m[1]!) * mult);
  if (n < 1024 * 1024) throw new RecoveryError('BAD_INPUT', `The split size ${s} is too small (at least 1M).`);
  return n;
}

export function parseKeep(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new RecoveryError('BAD_INPUT', `--keep takes a whole number from 1 to 100, not "${s}".`);
  return n;
}

/** The most read of a passphrase file and of a credentials file (a passphrase is a line; secrets a few entries). */
const PASSPHRASE_FILE_MAX = 64 * 1024;
const CREDENTIALS_FILE_MAX = 1024 * 1024;

let envPassphrase: string | undefined;
let envTaken = false;

/**
 * Takes EDGE_RECOVERY_PASSPHRASE out of this process's environment (once, at start): kept in memory for
 * getPassphrase, it is never inherited by a program the tool starts (a service, an appliance, a product step).
 */
export function takeEnvSecrets(): void {
  if (envTaken) return;
  envTaken = true;
  envPassphrase = process.env['EDGE_RECOVERY_PASSPHRASE'];
  delete process.env['EDGE_RECOVERY_PASSPHRASE'];
}

/** Whether EDGE_RECOVERY_PASSPHRASE was set (a wrong one fails at once instead of being asked again). */
export function envPassphraseGiven(): boolean {
  takeEnvSecrets();
  return envPassphrase !== undefined && envPassphrase.length > 0;
}

/**
 * The passphrase, from (in order) a file, the EDGE_RECOVERY_PASSPHRASE variable, or a hidden prompt
 * (asked twice when creating). Never echoed, never logged.
 */
export async function getPassphrase(o: {
  file?: string;
  create: boolean;
  required: boolean;
}): Promise<string | undefined> {
  if (o.file !== undefined) {
    const text = (await readGivenFile(o.file, { what: 'the passphrase file', max: PASSPHRASE_FILE_MAX })).toString(
      'utf8',
    );
    const p = text.replace(/\r?\n$/, '');
    if (p.length === 0) throw new RecoveryError('BAD_INPUT', `The passphrase file ${o.file} is empty.`);
    // A new backup's: the rule of the prompt and the wizard, said before anything (it took one of 2 characters).
    const weak = o.create ? newPassphraseProblem(p) : null;
    if (weak !== null)
      throw new RecoveryError('BAD_INPUT', `The passphrase in ${o.file} is too short to protect the backup.`, {
        hint: `${weak} Nothing was written.`,
      });
    return p;
  }
  takeEnvSecrets();
  const env = envPassphrase;
  if (env !== undefined && env.length > 0) {
    const weak = o.create ? newPassphraseProblem(env) : null;
    if (weak !== null)
      throw new RecoveryError(
        'BAD_INPUT',
        'The passphrase in EDGE_RECOVERY_PASSPHRASE is too short to protect the backup.',
        {
          hint: `${weak} Nothing was written.`,
        },
      );
    return env;
  }
  if (!o.required) return undefined;
  if (!process.stdin.isTTY) {
    throw new RecoveryError('PASSPHRASE_REQUIRED', 'A passphrase is needed and there is no terminal to ask on.', {
      hint: 'Use --passphrase-file <file> or set EDGE_RECOVERY_PASSPHRASE.',
    });
  }
  const p = await askSecret('Passphrase: ');
  if (o.create) {
    const weak = newPassphraseProblem(p);
    if (weak !== null) throw new RecoveryError('BAD_INPUT', weak);
    const again = await askHidden('Passphrase again: ');
    if (again !== p) throw new RecoveryError('BAD_INPUT', 'The two passphrases differ. Nothing was written.');
  }
  return p;
}

/** --credentials-file: {"<resource>/<entry>" | "<entry name>": {"Field": "value"}}. */
export async function readCredentialsFile(file: string): Promise<Record<string, Record<string, string>>> {
  const text = (await readGivenFile(file, { what: 'the credentials file', max: CREDENTIALS_FILE_MAX })).toString(
    'utf8',
  );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // Never the parser's message: V8 quotes the text around the fault, which here is a password.
    throw new RecoveryError('BAD_INPUT', `The credentials file ${file} is not valid JSON${jsonWhere(text, e)}.`, {
      hint: 'Every name and value in double quotes, entries separated by commas, e.g. {"ToAdh": {"Password": "…"}}. Its contents are not shown: they hold secrets.',
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RecoveryError('BAD_INPUT', `The credentials file ${file} must hold a JSON object of entries.`);
  }
  const out: Record<string, Record<string, string>> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'object' || v === null || Object.values(v).some((x) => typeof x !== 'string')) {
      throw new RecoveryError('BAD_INPUT', `In ${file}, "${k}" must map field names to strings.`);
    }
    out[k] = v as Record<string, string>;
  }
  return out;
}

/** " (line L, column C)" of a JSON.parse failure when the parser names a position, else "" (nothing of the text). */
function jsonWhere(text: string, e: unknown): string {
  const m = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (!m) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
}

/** --folder Storage=/data/eds/Storage, repeatable. */
export function collectFolder(value: string, acc: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf('=');
  if (i <= 0 || i === value.length - 1) {
    throw new RecoveryError('BAD_INPUT', `--folder takes <item id>=<absolute path>, not "${value}".`);
  }
  return { ...acc, [value.slice(0, i)]: value.slice(i + 1) };
}
