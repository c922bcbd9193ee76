import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { scrub } from '../../appliance/client.js';
import { RecoveryError } from '../../errors.js';
import { childEnv } from '../../util/child-env.js';
import { boundText } from '../../profiles/safe-pattern.js';

/** A user account read from /etc/passwd: the command runs with its uid, primary gid and home. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function accountFor(name: string, etcDir = '/etc'): Account {
  let text = '';
  try {
    text = readFileSync(`${etcDir}/passwd`, 'utf8');
  } catch {
    // no passwd (Windows): handled below
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
  }
  throw new RecoveryError('USER_MISSING', `The user "${name}" that a product step runs as does not exist here.`, {
    hint: `Install the product first (it creates the user "${name}"), then start again. Nothing was changed.`,
  });
}

export interface CommandSpec {
  argv: string[];
  cwd: string;
  /** Only these variables reach the program (a clean environment is built around them). */
  env: Record<string, string>;
  user?: string;
  answers: Array<{ prompt: string; answer: string }>;
  stdin?: string;
  successPattern?: string;
  failurePattern?: string;
  exitCodes: number[];
  timeoutMs: number;
  /** Values never shown (answers that hold a passphrase). */
  secrets: string[];
  signal?: AbortSignal;
  onLine(line: string): void;
}

export interface CommandResult {
  code: number;
  /** The last lines of output (scrubbed), for the summary and the report. */
  tail: string[];
  sawSuccess: boolean;
}

const TAIL = 40;

/** The environment a product's program gets: nothing of ours (no tokens, no passphrase variables). */
export function cleanEnv(extra: Record<string, string>, account: Account | null): Record<string, string> {
  const env: Record<string, string> = childEnv();
  if (process.platform !== 'win32') {
    env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    env.LANG = 'C.UTF-8';
  }
  const who = account ?? { name: os.userInfo().username, home: os.userInfo().homedir };
  env.HOME = who.home;
  env.USER = who.name;
  env.LOGNAME = who.name;
  return { ...env, ...extra };
}

function describe(argv: string[]): string {
  return argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/**
 * Runs a program without a shell, in its own process group (a timeout ends the whole group), as a named
 * user, with a clean environment. Output is streamed line by line; prompts (text without a line end yet)
 * are answered from `answers` in order; a failure pattern ends the program at once.
 */
export function runCommand(spec: CommandSpec): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const account = spec.user !== undefined ? accountFor(spec.user) : null;
    if (account !== null && process.platform !== 'win32') {
      const me = process.getuid?.() ?? -1;
      if (me !== 0 && me !== account.uid) {
        reject(
          new RecoveryError('PERMISSION_DENIED', `Running a step as the user "${account.name}" needs root.`, {
            hint: 'Run the tool as root (sudo).',
          }),
        );
        return;
      }
    }
    const [file, ...args] = spec.argv as [string, ...string[]];
    const shown = describe(spec.argv);
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: cleanEnv(spec.env, account),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      windowsHide: true,
      ...(account !== null && process.platform !== 'win32' ? { uid: account.uid, gid: account.gid } : {}),
    });
    const tail: string[] = [];
    let partial = '';
    let sinceAnswer = '';
    let nextAnswer = 0;
    let sawSuccess = false;
    let failedLine: string | null = null;
    let timedOut = false;
    let settled = false;
    const success = spec.successPattern !== undefined ? new RegExp(spec.successPattern) : null;
    const failure = spec.failurePattern !== undefined ? new RegExp(spec.failurePattern) : null;

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        if (process.platform === 'win32') child.kill(sig);
        else process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), 5000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, spec.timeoutMs);
    const onAbort = (): void => stop();
    spec.signal?.addEventListener('abort', onAbort, { once: true });

    const line = (raw: string): void => {
      const l = scrub(raw.replace(/\r$/, ''), spec.secrets);
      tail.push(l);
      if (tail.length > TAIL) tail.shift();
      spec.onLine(l);
      // The profile's patterns run on a bounded piece of each line (and were checked for explosive shapes).
      const head = boundText(l);
      if (success?.test(head)) sawSuccess = true;
      if (failure?.test(head) && failedLine === null) {
        failedLine = l;
        stop();
      }
    };
    const answerPrompts = (): void => {
      const a = spec.answers[nextAnswer];
      if (a === undefined || !new RegExp(a.prompt).test(boundText(sinceAnswer, 'end'))) return;
      nextAnswer++;
      sinceAnswer = '';
      child.stdin.write(`${a.answer}\n`);
      if (nextAnswer === spec.answers.length) child.stdin.end();
      answerPrompts();
    };
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      sinceAnswer += text;
      if (sinceAnswer.length > 64 * 1024) sinceAnswer = sinceAnswer.slice(-16 * 1024);
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) line(l);
      answerPrompts();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => undefined); // the program may exit without reading its input
    if (spec.stdin !== undefined) child.stdin.write(spec.stdin);
    if (spec.answers.length === 0) child.stdin.end();

    const finish = (err: RecoveryError | null, code: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      spec.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve({ code, tail, sawSuccess });
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      finish(
        new RecoveryError(
          'STEP_FAILED',
          e.code === 'ENOENT'
            ? `The program ${file} does not exist on this machine.`
            : `Could not start ${shown}: ${e.message}`,
          { hint: 'Is the product installed where the profile says? Nothing was changed by this step.' },
        ),
        -1,
      );
    });
    child.once('close', (code, sig) => {
      if (partial !== '') line(partial);
      const last = tail.slice(-5).join(' | ');
      const said = last ? ` Its last output: ${last}` : '';
      if (spec.signal?.aborted) {
        finish(new RecoveryError('CANCELLED', `Cancelled while ${shown} ran.`), -1);
        return;
      }
      if (timedOut) {
        const waiting = spec.answers[nextAnswer];
        finish(
          new RecoveryError(
            'STEP_TIMEOUT',
            waiting !== undefined
              ? `${shown} did not ask /${waiting.prompt}/ within ${Math.round(spec.timeoutMs / 1000)} s; it was stopped.${said}`
              : `${shown} did not finish within ${Math.round(spec.timeoutMs / 1000)} s; it was stopped.${said}`,
            { hint: "Check the product's log; then retry, or roll back." },
          ),
          -1,
        );
        return;
      }
      if (failedLine !== null) {
        finish(
          new RecoveryError('STEP_FAILED', `${shown} reported a failure: ${failedLine}`, {
            hint: 'The product said it failed: read its message and log, fix the cause, then retry or roll back.',
          }),
          code ?? -1,
        );
        return;
      }
      const exit = code ?? (sig !== null ? 128 : -1);
      if (!spec.exitCodes.includes(exit)) {
        finish(
          new RecoveryError(
            'STEP_FAILED',
            `${shown} ended with ${sig !== null ? `signal ${sig}` : `exit code ${exit}`} (expected ${spec.exitCodes.join(' or ')}).${said}`,
            { hint: "Read the product's output above and its log." },
          ),
          exit,
        );
        return;
      }
      if (nextAnswer < spec.answers.length) {
        finish(
          new RecoveryError(
            'STEP_FAILED',
            `${shown} ended without asking /${spec.answers[nextAnswer]!.prompt}/, so it did not do what was expected.${said}`,
            { hint: 'The product behaves differently from what the profile describes (another version?).' },
          ),
          exit,
        );
        return;
      }
      if (success !== null && !sawSuccess) {
        finish(
          new RecoveryError(
            'STEP_FAILED',
            `${shown} ended without saying /${spec.successPattern}/, so its success is not proven.${said}`,
            { hint: "Read the product's output above and its log." },
          ),
          exit,
        );
        return;
      }
      finish(null, exit);
    });
  });
}
