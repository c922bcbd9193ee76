/**
 * Shows the engine's HTML report inside the wizard's own page. An iframe would inherit the page's CSP
 * (style-src 'self'), which blocks the report's inline <style>; so the report goes into a shadow root, and its
 * CSS is applied through a constructed style sheet (CSSOM, which the CSP does not govern). Nothing executable
 * is kept: scripts, frames, handlers and javascript: links are dropped even though the engine writes none.
 */
export function renderReport(host: HTMLElement, html: string): void {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const css = [...doc.querySelectorAll('style')].map((s) => s.textContent ?? '').join('\n');
  doc.querySelectorAll('script,style,link,meta,base,iframe,frame,object,embed,form').forEach((el) => el.remove());
  doc.querySelectorAll('*').forEach((el) => {
    for (const a of [...el.attributes]) {
      if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)) el.removeAttribute(a.name);
    }
  });
  const root = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
  const body = document.createElement('div');
  body.className = 'report-body';
  body.append(...[...doc.body.childNodes].map((n) => document.importNode(n, true)));
  root.replaceChildren(body);
  const scoped = css.replace(/(^|[\s,}])(?:html|body|:root)(?=\s*[{,])/g, '$1.report-body');
  if (
    'adoptedStyleSheets' in root &&
    typeof CSSStyleSheet !== 'undefined' &&
    'replaceSync' in CSSStyleSheet.prototype
  ) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(scoped);
    root.adoptedStyleSheets = [sheet];
  }
}
