import { app } from 'electron';
import { pathToFileURL } from 'node:url';
import { PRACTICE_APPLIANCE } from './paths.js';

/**
 * Electron's binary is not Node, so a practice appliance started from the wizard is this same binary with
 * `--practice-appliance <appliance args>`: it runs the appliance bundle and opens no window.
 */
export const APPLIANCE_FLAG = '--practice-appliance';

export function isApplianceMode(argv = process.argv): boolean {
  return argv.includes(APPLIANCE_FLAG);
}

/** The command the practice sandbox runs (it appends --root/--port/--key-file). */
export function applianceCommand(): string[] {
  return [process.execPath, ...(app.isPackaged ? [] : [app.getAppPath()]), APPLIANCE_FLAG];
}

export async function runApplianceMode(): Promise<void> {
  const i = process.argv.indexOf(APPLIANCE_FLAG);
  // The appliance parses process.argv.slice(2) strictly: give it only its own arguments.
  process.argv = [process.argv[0]!, PRACTICE_APPLIANCE, ...process.argv.slice(i + 1)];
  app.on('window-all-closed', () => undefined);
  await import(pathToFileURL(PRACTICE_APPLIANCE).href);
}
