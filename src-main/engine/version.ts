import { createRequire } from 'node:module';

/** The tool's own version, from package.json (bundled builds inline it at build time). */
export const TOOL_NAME = 'edge-recovery';

declare const __TOOL_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __TOOL_VERSION__ === 'string') return __TOOL_VERSION__;
  try {
    const require = createRequire(import.meta.url);
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const TOOL_VERSION = readVersion();
