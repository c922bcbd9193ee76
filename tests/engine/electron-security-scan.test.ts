import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Doyensec's Electronegativity over the Electron code, through scripts/electronegativity.mjs (what `npm test` runs
 * here). The two fixtures prove the scan is not vacuous: the same scanner and the same gate fail on a window that
 * turns the sandbox off, and on an unreviewed medium finding.
 */
function scan(input?: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['scripts/electronegativity.mjs', ...(input ? [input] : [])], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

const work = mkdtempSync(join(tmpdir(), 'eneg-fixture-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fixture(name: string, webPreferences: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'main.js'),
    `const { app, BrowserWindow } = require('electron');\n` +
      `app.whenReady().then(() => {\n` +
      `  const win = new BrowserWindow({ webPreferences: ${webPreferences} });\n` +
      `  win.loadFile('index.html');\n});\n`,
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, devDependencies: { electron: '40.8.5' } }));
  return dir;
}

describe('electronegativity', () => {
  it('finds no high and no unreviewed medium finding in src-main', () => {
    const r = scan();
    expect(r.out).toMatch(/0 failing/);
    expect(r.status).toBe(0);
  }, 300_000);

  it('fails on a window with Node integration and no sandbox (the gate is not vacuous)', () => {
    const r = scan(
      fixture(
        'unsafe',
        `{ nodeIntegration: true, contextIsolation: false, sandbox: false, webSecurity: false, disableBlinkFeatures: 'Auxclick' }`,
      ),
    );
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/FAIL HIGH CONTEXT_ISOLATION_JS_CHECK main\.js/);
    expect(r.out).toMatch(/FAIL MEDIUM SANDBOX_JS_CHECK main\.js/);
    // …and the whole-app checks that src-main passes (security.ts) fail where those handlers are missing.
    expect(r.out).toMatch(/FAIL HIGH LIMIT_NAVIGATION_GLOBAL_CHECK/);
  }, 300_000);

  it('fails on an unreviewed medium finding (middle-click left on)', () => {
    const r = scan(fixture('auxclick', `{ contextIsolation: true, sandbox: true, nodeIntegration: false }`));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/FAIL MEDIUM AUXCLICK_JS_CHECK/);
  }, 300_000);
});
