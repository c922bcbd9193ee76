import { app, session, type WebContents } from 'electron';
import { contentSecurityPolicy, SECURITY_HEADERS } from '../host/csp.js';
import { isAppUrl } from './paths.js';

/**
 * The renderer is untrusted: it may not navigate away, open windows, embed webviews or get any
 * permission (camera, notifications …), and every response carries the app's CSP.
 */
export function setupSecurity(): void {
  app.on('web-contents-created', (_e, contents: WebContents) => {
    contents.on('will-navigate', (e, url) => {
      if (!isAppUrl(url)) e.preventDefault();
    });
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });

  app.whenReady().then(
    () => {
      const s = session.defaultSession;
      s.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
      s.setPermissionCheckHandler(() => false);
      s.webRequest.onHeadersReceived((details, callback) => {
        const headers: Record<string, string | string[]> = { ...(details.responseHeaders ?? {}) };
        headers['Content-Security-Policy'] = [contentSecurityPolicy()];
        for (const [k, v] of Object.entries(SECURITY_HEADERS)) headers[k] = [v];
        callback({ responseHeaders: headers });
      });
    },
    () => undefined,
  );
}
