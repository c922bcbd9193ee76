import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { practiceBackup } from './helpers/flows.js';
import { ScreenRecorder } from './helpers/screens.js';

/**
 * The desktop wizard end to end: Electron starts dist/main.js, the sandboxed renderer talks to the main side
 * through window.recovery, and practice mode runs a real practice appliance. Needs the Electron binary,
 * which `electron` ≥ 42 downloads lazily and which is absent on machines without internet.
 */
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const ELECTRON_DIR = path.join(ROOT, 'node_modules', 'electron');

function electronBinary(): string | null {
  const pathTxt = path.join(ELECTRON_DIR, 'path.txt');
  if (!existsSync(pathTxt) || !existsSync(path.join(ELECTRON_DIR, 'dist'))) return null;
  const exe = path.join(ELECTRON_DIR, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(exe) ? exe : null;
}

const exe = electronBinary();
const built =
  existsSync(path.join(ROOT, 'dist', 'main.js')) && existsSync(path.join(ROOT, 'dist', 'renderer', 'index.html'));
const skipReason =
  exe === null
    ? 'the Electron binary is not installed (node_modules/electron/path.txt and dist/ are missing; it downloads on first use and this machine has no internet)'
    : !built
      ? 'the app is not built (run npm run build first)'
      : null;
if (skipReason !== null) console.warn(`electron e2e skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)('desktop wizard (Electron)', () => {
  it('is sandboxed, blocks navigation, and runs the practice backup through IPC', async () => {
    const { _electron } = await import('playwright-core');
    const app = await _electron.launch({
      executablePath: exe!,
      args: [path.join(ROOT, 'dist', 'main.js')],
      cwd: ROOT,
      env: { ...process.env, ELECTRON_DISABLE_SECURITY_WARNINGS: '1' },
    });
    try {
      const page = await app.firstWindow();
      // The renderer is sandboxed: it has window.recovery and no Node.
      expect(await page.evaluate(() => typeof (window as unknown as { require?: unknown }).require)).toBe('undefined');
      const info = await page.evaluate(() =>
        (
          window as unknown as { recovery: { invoke(n: string, i: unknown): Promise<{ shell: string }> } }
        ).recovery.invoke('app.info', {}),
      );
      expect(info.shell).toBe('electron');

      // A page that is not ours may not navigate in the window.
      await page.evaluate(() => {
        location.href = 'https://example.com/';
      });
      await page.waitForTimeout(500);
      expect(page.url()).toMatch(/^file:.*index\.html/);

      // The same practice flow the browser tests drive, through Electron's IPC instead of the WebSocket bridge.
      const where = await practiceBackup(page, new ScreenRecorder(page, 'electron'));
      expect(where).toMatch(/EdgeRecovery/);
    } finally {
      await app.close();
    }
  });
});
