import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Where the built files are, relative to the bundled main (dist/main.js): the renderer Vite built with
 * `base: './'`, the CommonJS preload and the practice appliance bundle.
 */
export const DIST_DIR = path.dirname(fileURLToPath(import.meta.url));
export const RENDERER_INDEX = path.join(DIST_DIR, 'renderer', 'index.html');
export const RENDERER_URL = pathToFileURL(RENDERER_INDEX).href;
export const PRELOAD = path.join(DIST_DIR, 'preload.cjs');
export const PRACTICE_APPLIANCE = path.join(DIST_DIR, 'practice-appliance.js');
export const ICON = path.join(DIST_DIR, '..', 'assets', 'icon.png');

/** True for the app's own page (any hash or query), never for another file or origin. */
export function isAppUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    u.hash = '';
    u.search = '';
    return u.href === RENDERER_URL;
  } catch {
    return false;
  }
}
