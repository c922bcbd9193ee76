import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; the first path avoids the wrapper script's noise. */
const CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** Why browser tests cannot run here, or null. In CI a missing browser is a failure, not a skip. */
export function browserSkipReason(): string | null {
  if (chromiumPath()) return null;
  const reason = `Chromium is not installed (looked for ${CANDIDATES.join(', ')}); apt-get install chromium`;
  if (process.env.CI) throw new Error(reason);
  return reason;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(browserSkipReason() ?? 'no chromium');
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
