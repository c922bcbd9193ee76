import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { launchBrowser } from './browser.js';
import { captureFailure } from './screens.js';
import { startPracticeServer, type WizardServer } from './wizard-server.js';

export interface WizardSession {
  server: WizardServer;
  page: Page;
  /** Uncaught errors of the page: a test ends by expecting none. */
  errors: string[];
}

/**
 * For one describe block: `serve --practice` with the real engine, a Chromium page signed in with its one-time
 * URL, a picture of where a failing test stopped, and everything closed afterwards.
 */
export function useWizardSession(opts: { width?: number; height?: number } = {}): WizardSession {
  const s = { errors: [] as string[] } as WizardSession;
  let browser: Browser | undefined;
  beforeAll(async () => {
    s.server = await startPracticeServer();
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 } });
    s.page = await context.newPage();
    s.page.on('pageerror', (e) => s.errors.push(e.message));
    await s.page.goto(s.server.url);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await captureFailure(s.page, ctx.task.name);
  });
  afterAll(async () => {
    await browser?.close();
    await s.server?.close();
  });
  return s;
}
