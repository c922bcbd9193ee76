import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../../test-results/screenshots');

export interface AxeFinding {
  screen: string;
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * Records each screen of a flow: a full-page screenshot named `<flow>-<nn>-<step>.png` and an axe run whose
 * serious and critical findings are collected (the test asserts there are none at the end).
 */
export class ScreenRecorder {
  private n = 0;
  readonly findings: AxeFinding[] = [];
  readonly shots: string[] = [];

  constructor(
    private readonly page: Page,
    private readonly flow: string,
  ) {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // Drop this flow's pictures from an earlier run, so the folder shows one run only.
    for (const f of readdirSync(SCREENSHOT_DIR)) if (f.startsWith(`${flow}-`)) rmSync(path.join(SCREENSHOT_DIR, f));
  }

  async capture(step: string): Promise<void> {
    this.n++;
    const file = path.join(SCREENSHOT_DIR, `${this.flow}-${String(this.n).padStart(2, '0')}-${step}.png`);
    // Let React settle a frame so the shot matches what a person would see.
    await this.page.waitForTimeout(150);
    await this.page.screenshot({ path: file, fullPage: true });
    this.shots.push(file);
    const r = await new AxeBuilder({ page: this.page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    for (const v of r.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        this.findings.push({
          screen: step,
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => n.target.join(' ')),
        });
      }
    }
  }
}

export async function captureFailure(page: Page | undefined, testName: string): Promise<void> {
  if (!page) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const slug = testName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 60);
  await page
    .screenshot({ path: path.join(SCREENSHOT_DIR, `failed-${slug}.png`), fullPage: true })
    .catch(() => undefined);
}
