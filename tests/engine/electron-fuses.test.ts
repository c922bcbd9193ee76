import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

/** electron-builder.yml checked against electron-builder's own schema (what `npm run dist` would load). */
describe('electron-builder configuration', () => {
  const yaml = require('js-yaml') as { load(s: string): Record<string, unknown> };
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    validateConfiguration(c: unknown, logger: unknown): Promise<void>;
  };
  const { DebugLogger } = require('builder-util') as { DebugLogger: new (on: boolean) => unknown };
  const config = yaml.load(readFileSync('electron-builder.yml', 'utf8'));

  it('is valid for electron-builder 26 and flips the Electron fuses that would open a root or user process', async () => {
    await validateConfiguration(config, new DebugLogger(false));
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    // A misspelt fuse is a schema error, not silently ignored.
    await expect(
      validateConfiguration({ ...config, electronFuses: { runAsNodee: false } }, new DebugLogger(false)),
    ).rejects.toThrow(/unknown property 'runAsNodee'/);
  });
});
