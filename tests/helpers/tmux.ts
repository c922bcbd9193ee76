import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Why terminal tests cannot run here, or null. In CI a missing tmux is a failure, not a skip. */
export function tmuxSkipReason(): string | null {
  if (existsSync('/usr/bin/tmux')) return null;
  const reason = 'tmux is not installed (apt-get install tmux)';
  if (process.env.CI) throw new Error(reason);
  return reason;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A real terminal: the command runs in a detached tmux session (a pty, so hidden prompts switch echo off as they
 * would for a technician), keys are typed into it and the screen is read back.
 */
export class Terminal {
  private readonly name = `erw-${randomBytes(4).toString('hex')}`;
  private readonly exitFile = path.join(os.tmpdir(), `${this.name}.exit`);

  constructor(argv: string[], env: Record<string, string> = {}) {
    // The tmux server's environment is whichever process started it (maybe another test run's): this test file's
    // own machine-lock folder is passed on explicitly (see state-dir-setup.ts).
    const lockDir = process.env.EDGE_RECOVERY_LOCK_DIR;
    if (lockDir !== undefined && env.EDGE_RECOVERY_LOCK_DIR === undefined)
      env = { ...env, EDGE_RECOVERY_LOCK_DIR: lockDir };
    const envs = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
    const cmd = `env ${envs.join(' ')} ${argv.map(shellQuote).join(' ')}; echo $? > ${shellQuote(this.exitFile)}; sleep 600`;
    execFileSync('tmux', ['new-session', '-d', '-s', this.name, '-x', '200', '-y', '60', cmd]);
  }

  screen(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-S', '-2000', '-t', this.name], { encoding: 'utf8' });
  }

  /** Types `text` and presses Enter. */
  type(text: string): void {
    if (text !== '') execFileSync('tmux', ['send-keys', '-t', this.name, '-l', text]);
    execFileSync('tmux', ['send-keys', '-t', this.name, 'Enter']);
  }

  /** Waits until the screen matches `re` `count` times (a prompt asked again shows twice). */
  async waitFor(re: RegExp, count = 1, timeoutMs = 180_000): Promise<string> {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if ((s.match(g)?.length ?? 0) >= count) return s;
      if (Date.now() > until) throw new Error(`terminal never showed ${re} ×${count}; screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async exitCode(timeoutMs = 180_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (!existsSync(this.exitFile)) {
      if (Date.now() > until) throw new Error(`the command did not end; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 150));
    }
    await new Promise((r) => setTimeout(r, 100));
    return Number(readFileSync(this.exitFile, 'utf8').trim());
  }

  close(): void {
    try {
      execFileSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
