import { existsSync, promises as fsp } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RecoveryError } from '../../engine/errors.js';

/**
 * The practice stand-ins of other products: one program (standin.ts, bundled as practice-standin.js) that
 * behaves like each product's commands, scripts and server, installed into a sandbox root as the product's
 * own files (small wrapper scripts at the product's paths), so the profile's steps run them as they would run
 * the product.
 */
export function standinCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(
      path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs'),
    );
    return [process.execPath, '--import', tsx.href, path.join(path.dirname(here), 'standin.ts')];
  }
  const bundled = path.join(path.dirname(here), 'practice-standin.js');
  if (!existsSync(bundled)) {
    throw new RecoveryError('INTERNAL', `The practice stand-in program is missing (${bundled}).`, {
      hint: 'Build the app first: npm run build.',
    });
  }
  return [process.execPath, bundled];
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes an executable script at `file` that runs the stand-in with fixed arguments, then the caller's. */
export async function installWrapper(file: string, args: string[], command = standinCommand()): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const text = `#!/bin/sh\n# Practice stand-in (Edge Recovery Wizard): behaves like the product's own script.\nexec ${[...command, ...args].map(shq).join(' ')} "$@"\n`;
  await fsp.writeFile(file, text, { mode: 0o755 });
  await fsp.chmod(file, 0o755);
}

/** `--name=value` and `--name value` arguments, as the products' own scripts read them. */
export function flags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out.set(a.slice(2), argv[++i]!);
    else out.set(a.slice(2), '');
  }
  return out;
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Keeps a stand-in's server up until runit (SIGTERM) or a terminal (SIGINT) stops it; never resolves. */
export function serveUntilSignalled(srv: Server): Promise<number> {
  const stop = (): void => {
    srv.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return new Promise<number>(() => undefined);
}
